"""Fixtures for the deployment files: parsed Dockerfile, Compose file, Kubernetes manifests, README."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.deploy.docker_files import Dockerfile, parse_dockerfile
from tests.deploy.live_server import REPO_ROOT, LiveServer, serve, tiny_bundle_or_skip

K8S_DIR = REPO_ROOT / "deploy" / "k8s"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def dockerfile() -> Dockerfile:
    return parse_dockerfile(REPO_ROOT / "Dockerfile")


@pytest.fixture(scope="session")
def compose() -> dict:
    return yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="session")
def k8s_documents() -> list[dict]:
    """Every document of every manifest in deploy/k8s/, the kustomization included."""
    documents = []
    for path in sorted(K8S_DIR.glob("*.yaml")):
        documents += [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]
    return documents


@pytest.fixture(scope="session")
def k8s_by_kind(k8s_documents: list[dict]) -> dict[str, dict]:
    by_kind: dict[str, dict] = {}
    for document in k8s_documents:
        assert document["kind"] not in by_kind, f"two {document['kind']} manifests: the tests expect one"
        by_kind[document["kind"]] = document
    return by_kind


@pytest.fixture(scope="session")
def readme() -> str:
    return (REPO_ROOT / "README.md").read_text()


@pytest.fixture(scope="session")
def live_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """The service on a free port, serving a test bundle; URLs on loopback allowed for /predict-url."""
    bundle = tiny_bundle_or_skip(request)
    log = tmp_path_factory.mktemp("deploy-server") / "uvicorn.log"
    with serve(bundle, log, URL_ALLOWED_PRIVATE_NETWORKS="127.0.0.0/8") as server:
        yield server

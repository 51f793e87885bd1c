"""/docs works offline, and every place that names the service's version reads the package's one."""

from __future__ import annotations

import re
import tomllib

import yaml

from service.version import SERVICE_VERSION
from tests.conftest import REPO_ROOT
from tests.service.harness import Served

PYPROJECT_VERSION = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]


def test_docs_page_loads_its_assets_from_the_service(served: Served) -> None:
    page = served.client.get("/docs")
    assert page.status_code == 200
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
    assert assets and all(url.startswith("/") for url in assets), f"external assets: {assets}"
    for url in assets:
        asset = served.client.get(url)
        assert asset.status_code == 200 and len(asset.content) > 0, url
    assert "/openapi.json" in page.text


def test_redoc_is_not_served_since_it_would_need_a_cdn(served: Served) -> None:
    assert served.client.get("/redoc").status_code == 404


def test_openapi_reports_the_installed_package_version(served: Served) -> None:
    assert SERVICE_VERSION == PYPROJECT_VERSION, "reinstall the package: its metadata is stale"
    assert served.client.get("/openapi.json").json()["info"]["version"] == PYPROJECT_VERSION


def test_image_tags_and_labels_name_the_package_version() -> None:
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    deployment = yaml.safe_load((REPO_ROOT / "deploy" / "k8s" / "deployment.yaml").read_text())
    readmes = (REPO_ROOT / "README.md").read_text() + (REPO_ROOT / "deploy" / "README.md").read_text()
    tags = re.findall(r"skin-cancer-detector:(\d+\.\d+\.\d+)", dockerfile + readmes)
    tags += [service["image"].rsplit(":", 1)[1] for service in compose["services"].values() if "image" in service]
    tags += [c["image"].rsplit(":", 1)[1] for c in deployment["spec"]["template"]["spec"]["containers"]]
    kserve = yaml.safe_load((REPO_ROOT / "deploy" / "kserve" / "inferenceservice.yaml").read_text())
    tags += [c["image"].rsplit(":", 1)[1] for c in kserve["spec"]["predictor"]["containers"]]
    labels = re.findall(r'org\.opencontainers\.image\.version="([^"]+)"', dockerfile)
    assert tags and labels
    assert set(tags) | set(labels) == {PYPROJECT_VERSION}

"""deploy/kserve: an InferenceService that runs the image as a custom predictor on the protocol's probes."""

from __future__ import annotations

import yaml

from service.main import create_app
from tests.deploy.docker_files import Dockerfile

MANIFEST = "deploy/kserve/inferenceservice.yaml"


def _service(repo_root) -> dict:
    return yaml.safe_load((repo_root / MANIFEST).read_text())


def test_it_is_a_kserve_custom_predictor(repo_root) -> None:
    service = _service(repo_root)
    assert (service["apiVersion"], service["kind"]) == ("serving.kserve.io/v1beta1", "InferenceService")
    [container] = service["spec"]["predictor"]["containers"]
    assert container["name"] == "kserve-container"
    assert container["image"].split(":")[0].endswith("skin-cancer-detector")


def test_probes_use_open_inference_paths_the_app_serves(repo_root, dockerfile: Dockerfile, tmp_path) -> None:
    from service.core.config import Settings

    [container] = _service(repo_root)["spec"]["predictor"]["containers"]
    paths = set(create_app(Settings(model_dir=tmp_path)).openapi()["paths"])
    for probe in ("livenessProbe", "readinessProbe"):
        path = container[probe]["httpGet"]["path"]
        assert path.startswith("/v2/health/") and path in paths
        assert container[probe]["httpGet"]["port"] == container["ports"][0]["containerPort"]
    assert str(container["ports"][0]["containerPort"]) in dockerfile.final.all("EXPOSE")[0].arguments


def test_it_runs_as_the_images_non_root_user_read_only(repo_root) -> None:
    predictor = _service(repo_root)["spec"]["predictor"]
    [container] = predictor["containers"]
    assert predictor["securityContext"]["runAsNonRoot"] and predictor["securityContext"]["runAsUser"] == 10001
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["resources"]["limits"]["cpu"] == "2"

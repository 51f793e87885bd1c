"""deploy/k8s/: well-formed manifests whose names, labels, ports, probes and settings agree with each other."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from service.core.config import Settings
from tests.deploy.docker_files import Dockerfile

API_VERSIONS = {
    "Deployment": "apps/v1",
    "Service": "v1",
    "HorizontalPodAutoscaler": "autoscaling/v2",
    "ConfigMap": "v1",
    "PodDisruptionBudget": "policy/v1",
    "Kustomization": "kustomize.config.k8s.io/v1beta1",
}
CPU = re.compile(r"^\d+(\.\d+)?$|^\d+m$")
MEMORY = re.compile(r"^\d+(Ki|Mi|Gi)$")


@pytest.fixture(scope="module")
def deployment(k8s_by_kind: dict[str, dict]) -> dict:
    return k8s_by_kind["Deployment"]


@pytest.fixture(scope="module")
def container(deployment: dict) -> dict:
    [api] = deployment["spec"]["template"]["spec"]["containers"]
    return api


def test_every_manifest_is_well_formed(k8s_documents: list[dict]) -> None:
    kinds = [document["kind"] for document in k8s_documents]
    assert sorted(kinds) == sorted(API_VERSIONS), kinds
    for document in k8s_documents:
        kind = document["kind"]
        assert document["apiVersion"] == API_VERSIONS[kind], kind
        if kind == "Kustomization":
            continue
        assert isinstance(document["metadata"]["name"], str) and document["metadata"]["name"], kind
        body = document["data"] if kind == "ConfigMap" else document["spec"]
        assert isinstance(body, dict) and body, kind


def test_kustomization_lists_every_manifest(k8s_by_kind: dict[str, dict], repo_root: Path) -> None:
    listed = set(k8s_by_kind["Kustomization"]["resources"])
    on_disk = {path.name for path in (repo_root / "deploy" / "k8s").glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk


def test_selector_matches_the_pod_labels(deployment: dict, k8s_by_kind: dict[str, dict]) -> None:
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    selectors = {
        "Deployment": deployment["spec"]["selector"]["matchLabels"],
        "Service": k8s_by_kind["Service"]["spec"]["selector"],
        "PodDisruptionBudget": k8s_by_kind["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"],
    }
    for kind, selector in selectors.items():
        assert selector and selector.items() <= pod_labels.items(), kind


def test_probes_use_healthz_and_readyz_on_the_named_port(container: dict) -> None:
    port_names = {port["name"] for port in container["ports"]}
    expected = {"livenessProbe": "/healthz", "readinessProbe": "/readyz", "startupProbe": "/healthz"}
    for probe, path in expected.items():
        get = container[probe]["httpGet"]
        assert get["path"] == path, probe
        assert get["port"] in port_names, probe


def test_ports_agree_between_dockerfile_deployment_and_service(
    container: dict, k8s_by_kind: dict[str, dict], dockerfile: Dockerfile
) -> None:
    [exposed] = [int(expose.arguments) for expose in dockerfile.final.all("EXPOSE")]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert list(ports.values()) == [exposed]
    for service_port in k8s_by_kind["Service"]["spec"]["ports"]:
        target = service_port["targetPort"]
        assert (ports[target] if isinstance(target, str) else target) == exposed
    annotations = k8s_by_kind["Deployment"]["spec"]["template"]["metadata"].get("annotations", {})
    assert annotations.get("prometheus.io/port", str(exposed)) == str(exposed)


def test_resources_have_requests_and_limits(container: dict) -> None:
    resources = container["resources"]
    for section in ("requests", "limits"):
        assert CPU.match(str(resources[section]["cpu"])), section
        assert MEMORY.match(str(resources[section]["memory"])), section
    assert _cpu(resources["requests"]["cpu"]) <= _cpu(resources["limits"]["cpu"])
    assert _mebibytes(resources["requests"]["memory"]) <= _mebibytes(resources["limits"]["memory"])


def test_runs_non_root_with_a_read_only_root_filesystem(deployment: dict, container: dict) -> None:
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    tmp_mounts = [mount for mount in container["volumeMounts"] if mount["mountPath"] == "/tmp"]
    assert tmp_mounts, "uploads spool to /tmp: it needs a writable volume"
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    assert "emptyDir" in volumes[tmp_mounts[0]["name"]]


def test_user_matches_the_image(deployment: dict, dockerfile: Dockerfile) -> None:
    image_user = dockerfile.final.all("USER")[-1].arguments.split(":")[0]
    assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == int(image_user)


def test_hpa_scales_the_deployment_on_cpu(k8s_by_kind: dict[str, dict], deployment: dict) -> None:
    spec = k8s_by_kind["HorizontalPodAutoscaler"]["spec"]
    target = spec["scaleTargetRef"]
    assert (target["apiVersion"], target["kind"], target["name"]) == (
        "apps/v1", "Deployment", deployment["metadata"]["name"]
    )
    assert 1 <= spec["minReplicas"] <= spec["maxReplicas"]
    [metric] = spec["metrics"]
    assert metric["type"] == "Resource" and metric["resource"]["name"] == "cpu"
    assert metric["resource"]["target"]["type"] == "Utilization"
    assert 0 < metric["resource"]["target"]["averageUtilization"] <= 100


def test_configmap_holds_valid_settings_and_is_used(k8s_by_kind: dict[str, dict], container: dict,
                                                    dockerfile: Dockerfile) -> None:
    configmap = k8s_by_kind["ConfigMap"]
    data = configmap["data"]
    known = {name.upper() for name in Settings.model_fields}
    assert set(data) <= known, f"not settings of the service: {set(data) - known}"
    assert all(isinstance(value, str) for value in data.values()), "ConfigMap values must be strings"
    Settings(**{key.lower(): value for key, value in data.items()})  # the service would start with these
    assert "API_KEY" not in data, "secrets belong in a Secret"
    assert data["MODEL_DIR"] == dockerfile.final.env()["MODEL_DIR"]
    assert {"configMapRef": {"name": configmap["metadata"]["name"]}} in container["envFrom"]


def _cpu(value: str | int | float) -> float:
    text = str(value)
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


def _mebibytes(value: str) -> float:
    number, unit = re.match(r"^(\d+)(Ki|Mi|Gi)$", value).groups()
    return int(number) * {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024}[unit]


def test_the_upload_budget_fits_the_tmp_volume_and_the_memory_limit(k8s_by_kind: dict[str, dict], deployment: dict,
                                                                     container: dict) -> None:
    # uploads over 1 MiB spool to /tmp while they wait: the bytes admitted at once must fit there, and in memory
    # (the batch route reads its files), beside what the process itself holds
    settings = Settings(**{key.lower(): value for key, value in k8s_by_kind["ConfigMap"]["data"].items()})
    budget_mib = settings.max_inflight_bytes / 2**20
    [tmp] = [volume for volume in deployment["spec"]["template"]["spec"]["volumes"] if volume["name"] == "tmp"]
    assert budget_mib < _mebibytes(tmp["emptyDir"]["sizeLimit"])
    assert budget_mib < _mebibytes(container["resources"]["limits"]["memory"]) / 2

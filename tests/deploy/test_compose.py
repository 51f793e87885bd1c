"""docker-compose.yml: the image's port and health check, real settings, limits, a read-only model option."""

from __future__ import annotations

import re

import pytest

from service.core.config import Settings
from tests.deploy.docker_files import Dockerfile

SETTINGS = {name.upper() for name in Settings.model_fields}


@pytest.fixture(scope="module")
def services(compose: dict) -> dict[str, dict]:
    assert isinstance(compose.get("services"), dict) and compose["services"]
    return compose["services"]


def _default(value: object) -> str:
    """The default of a `${NAME:-default}` interpolation, or the value itself."""
    match = re.fullmatch(r"\$\{\w+:-([^}]*)\}", str(value))
    return match.group(1) if match else str(value)


def _container_port(mapping: str) -> int:
    return int(str(mapping).rsplit(":", 1)[-1].split("/")[0])


def test_every_service_builds_this_repository_and_publishes_the_exposed_port(
    services: dict[str, dict], dockerfile: Dockerfile
) -> None:
    [exposed] = [int(expose.arguments) for expose in dockerfile.final.all("EXPOSE")]
    for name, service in services.items():
        assert service["build"]["context"] == ".", name
        assert [_container_port(port) for port in service["ports"]] == [exposed], name


def test_healthcheck_matches_the_image(services: dict[str, dict], dockerfile: Dockerfile) -> None:
    [image_check] = dockerfile.final.all("HEALTHCHECK")
    for name, service in services.items():
        check = service["healthcheck"]
        assert check["test"][0] == "CMD" and check["test"][1:] == image_check.exec_form(), name
        for key in ("interval", "timeout", "retries", "start_period"):
            assert key in check, f"{name}: healthcheck.{key}"


def test_environment_holds_only_real_settings(services: dict[str, dict]) -> None:
    for name, service in services.items():
        environment = service["environment"]
        assert isinstance(environment, dict), f"{name}: environment as a mapping"
        assert set(environment) <= SETTINGS, f"{name}: unknown settings {set(environment) - SETTINGS}"
        for key, value in environment.items():
            if key != "MODEL_DIR":  # everything else is overridable from the caller's environment
                assert re.fullmatch(r"\$\{" + key + r":-[^}]*\}", str(value)), f"{name}: {key}={value}"
        Settings(**{key.lower(): _default(value) for key, value in environment.items()})  # valid defaults


def test_resource_limits_are_set(services: dict[str, dict]) -> None:
    for name, service in services.items():
        limits = service["deploy"]["resources"]["limits"]
        assert float(limits["cpus"]) > 0, name
        assert re.fullmatch(r"\d+(\.\d+)?[kmg]?b?", str(limits["memory"]).lower()), name
        threads = int(_default(service["environment"]["INFERENCE_THREADS"]))
        assert float(limits["cpus"]) >= threads, f"{name}: the CPU limit starves INFERENCE_THREADS"


def test_containers_are_hardened(services: dict[str, dict]) -> None:
    for name, service in services.items():
        assert service["read_only"] is True, name
        assert any(str(mount).startswith("/tmp") for mount in service["tmpfs"]), f"{name}: writable /tmp"
        assert "ALL" in service["cap_drop"], name
        assert "no-new-privileges:true" in service["security_opt"], name


def test_default_service_serves_the_baked_in_bundle(services: dict[str, dict], dockerfile: Dockerfile) -> None:
    default = [service for service in services.values() if not service.get("profiles")]
    assert len(default) == 1, "exactly one service starts without a profile"
    assert default[0]["environment"]["MODEL_DIR"] == dockerfile.final.env()["MODEL_DIR"]
    assert not default[0].get("volumes")


def test_a_profile_mounts_a_model_read_only_at_model_dir(services: dict[str, dict]) -> None:
    mounted = [service for service in services.values() if service.get("profiles")]
    assert mounted, "a profile that serves a bundle mounted from the host"
    for service in mounted:
        targets = {volume["target"]: volume for volume in service["volumes"]}
        model_dir = service["environment"]["MODEL_DIR"]
        assert model_dir in targets, "the volume is mounted where MODEL_DIR points"
        assert targets[model_dir]["read_only"] is True

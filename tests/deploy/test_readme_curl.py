"""The README's curl examples, run verbatim against a live server (only BASE_URL, IMAGE, IMAGE_URL are set)."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.deploy.live_server import REPO_ROOT, LiveServer, host_directory, sample_image
from tests.deploy.readme import SAVE_PNG_MARKER, curl_examples, marked_commands

README = (REPO_ROOT / "README.md").read_text()
EXAMPLES = curl_examples(README)
ENDPOINT = re.compile(r"BASE_URL:-[^}]*\}(/[^\"]*)\"")
DEFAULT_FILES = re.compile(r"@(?:\$\{IMAGE:-)?(samples/[^}\"]+)")
LABELS = {"cancerous", "non-cancerous"}

pytestmark = pytest.mark.slow


def _endpoint(command: str) -> str:
    """The path the example calls, without its query string."""
    match = ENDPOINT.search(command)
    assert match, f"a README curl example must address ${{BASE_URL:-...}}/path: {command}"
    return match.group(1).split("?")[0]


@pytest.fixture(scope="module")
def image_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """(local image, URL of the same image on a loopback HTTP server) for the upload and URL examples."""
    image = sample_image(tmp_path_factory.mktemp("curl-image"))
    with host_directory(image.parent) as base_url:
        yield image, f"{base_url}/{image.name}"


def _check_verdict(body: dict) -> None:
    assert 0.0 <= body["probability"] <= 1.0
    assert body["label"] in LABELS
    assert body["is_cancerous"] == (body["probability"] >= body["threshold"])
    assert body["is_cancerous"] == (body["label"] == "cancerous")


def _check_prediction(body: dict) -> None:
    if body.get("resourceType") == "DiagnosticReport":  # the FHIR example
        from fhir.resources.R4B.diagnosticreport import DiagnosticReport

        DiagnosticReport.model_validate(body)
        assert body["subject"] == {"reference": "Patient/123"} and "not a diagnosis" in body["conclusion"].lower()
        return
    _check_verdict(body)
    assert len(body["differential"]) == 7 and isinstance(body["warnings"], list)
    assert body["request_id"] and body["model"]["engine"] == "litert"
    assert "not a diagnosis" in body["disclaimer"]


def _check_gradcam(body: dict) -> None:
    _check_prediction(body)
    assert body["explanation"]["method"] == "layercam" and body["heatmap_width"] > 0
    assert not body["heatmap_base64"].startswith("data:") and body["heatmap_media_type"] == "image/jpeg"
    assert base64.b64decode(body["heatmap_base64"]).startswith(b"\xff\xd8\xff")  # a JPEG's start of image


def _check_batch(body: dict) -> None:
    assert (body["succeeded"], body["failed"]) == (2, 0)
    for item in body["items"]:
        _check_verdict(item["result"])


def _check_liveness(body: dict) -> None:
    assert body == {"status": "alive"}


def _check_readiness(body: dict) -> None:
    assert body["status"] == "ready" and body["engine"] == "litert"


def _check_model(body: dict) -> None:
    assert 0.0 < body["thresholds"]["decision"] < 1.0
    assert body["input"]["image_size"] > 0


def _check_openapi(body: dict) -> None:
    assert "/predict" in body["paths"]


def _check_oip_live(body: dict) -> None:
    assert body == {"live": True}


def _check_oip_ready(body: dict) -> None:
    assert body["ready"] is True


def _check_oip_metadata(body: dict) -> None:
    assert body["name"] == "skin-cancer-detector" and {t["name"] for t in body["inputs"]} == {"image"}


def _check_oip_infer(body: dict) -> None:
    outputs = {tensor["name"]: tensor for tensor in body["outputs"]}
    assert body["model_name"] == "skin-cancer-detector" and outputs["probability"]["shape"] == [1, 1]
    assert outputs["label"]["data"][0] in LABELS and outputs["differential"]["shape"] == [1, 7]


JSON_CHECKS: dict[str, Callable[[dict], None]] = {
    "/healthz": _check_liveness,
    "/readyz": _check_readiness,
    "/v1/model": _check_model,
    "/predict": _check_prediction,
    "/predict-url": _check_prediction,
    "/predict/batch": _check_batch,
    "/gradcam": _check_gradcam,
    "/openapi.json": _check_openapi,
    "/v2/health/live": _check_oip_live,
    "/v2/health/ready": _check_oip_ready,
    "/v2/models/skin-cancer-detector": _check_oip_metadata,
    "/v2/models/skin-cancer-detector/ready": _check_oip_ready,
    "/v2/models/skin-cancer-detector/infer": _check_oip_infer,
}
TEXT_CHECKS = {
    "/metrics": "# TYPE",
    "/docs": "swagger-ui",
}


def test_readme_has_curl_examples() -> None:
    assert len(EXAMPLES) >= len(JSON_CHECKS) + len(TEXT_CHECKS)
    for command in EXAMPLES:
        assert command.startswith("curl "), command
        assert _endpoint(command) in JSON_CHECKS | TEXT_CHECKS, f"no check for {command}"


def test_examples_default_to_images_the_repository_ships() -> None:
    defaults = {match for command in EXAMPLES for match in DEFAULT_FILES.findall(command)}
    assert defaults, "the upload examples should work without setting IMAGE"
    for relative in defaults:
        assert (REPO_ROOT / relative).is_file(), relative
    assert all("--fail-with-body" in command for command in EXAMPLES), "errors must not pass silently"


def _run(command: str, env: dict[str, str], cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess:
    if shutil.which("curl") is None or shutil.which("bash") is None:
        pytest.skip("curl and bash are needed to run the README's examples (apt-get install curl)")
    full_env = {"PATH": os.environ["PATH"], **env}
    return subprocess.run(["bash", "-c", command], env=full_env, capture_output=True, text=True, timeout=60,
                          cwd=cwd)


def test_save_png_example_writes_a_png(live_server: LiveServer, tmp_path: Path) -> None:
    [command] = marked_commands(README, SAVE_PNG_MARKER)
    image = REPO_ROOT / "samples" / "mel_ISIC_0024310.jpg"
    result = _run(command, {"BASE_URL": live_server.base_url, "IMAGE": str(image)}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "gradcam.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_save_png_example_shows_a_problem_instead_of_a_traceback(live_server: LiveServer, tmp_path: Path) -> None:
    [command] = marked_commands(README, SAVE_PNG_MARKER)
    not_an_image = tmp_path / "notes.jpg"
    not_an_image.write_text("not an image")
    result = _run(command, {"BASE_URL": live_server.base_url, "IMAGE": str(not_an_image)}, cwd=tmp_path)
    assert result.returncode != 0
    assert "invalid-image" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("command", EXAMPLES, ids=[f"{i}:{_endpoint(c)}" for i, c in enumerate(EXAMPLES)])
def test_curl_example_succeeds(command: str, live_server: LiveServer, image_host: tuple[Path, str]) -> None:
    image, image_url = image_host
    result = _run(command, {"BASE_URL": live_server.base_url, "IMAGE": str(image), "IMAGE_URL": image_url})
    assert result.returncode == 0, f"{command}\n{result.stderr}\n{live_server.log_tail()}"
    endpoint = _endpoint(command)
    if endpoint in TEXT_CHECKS:
        assert TEXT_CHECKS[endpoint] in result.stdout
        return
    try:
        body = json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"{command} did not answer JSON:\n{result.stdout[:500]}")
    assert not ("title" in body and "status" in body), f"a problem answer: {body}"
    JSON_CHECKS[endpoint](body)

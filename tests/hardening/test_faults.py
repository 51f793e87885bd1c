"""Faults, end to end in a real uvicorn process: a broken bundle at start, a slow or hanging URL target.

tests/service/inference/test_model_lifecycle.py covers the bundle faults in-process (TestClient); these check what an
operator sees from outside: the process stays alive, readiness is refused with the reason, one clear
JSON log line says why, and no model endpoint ever answers 200.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import httpx
import pytest

from bench.common import running_server, sample_jpeg
from contract.bundle import sha256_of
from contract.schema import BundleFiles, ModelContract
from tests.hardening.slow_targets import MisbehavingTarget

SETTLE_TIMEOUT_S = 60.0
FAILURE_LOG_MESSAGE = "model bundle could not be loaded"


def copy_bundle(tiny_bundle: Path, destination: Path) -> Path:
    shutil.copytree(tiny_bundle, destination)
    return destination


def truncate_tflite(bundle: Path) -> None:
    model = bundle / BundleFiles.LITERT_MODEL
    model.write_bytes(model.read_bytes()[: model.stat().st_size // 2])


def garble_contract(bundle: Path) -> None:
    (bundle / BundleFiles.CONTRACT).write_bytes(b'{"model_version": "1", "files": {')


def resigned_garbage_tflite(bundle: Path) -> None:
    """A corrupt model.tflite whose sha256 the contract vouches for: only the runtime can notice."""
    model = bundle / BundleFiles.LITERT_MODEL
    model.write_bytes(b"\x00garbage, not a flatbuffer" * 64)
    contract_path = bundle / BundleFiles.CONTRACT
    contract = ModelContract.model_validate_json(contract_path.read_bytes())
    files = {**contract.files, BundleFiles.LITERT_MODEL: sha256_of(model)}
    contract_path.write_text(contract.model_copy(update={"files": files}).model_dump_json())


FAULTS = {
    "missing-bundle": (None, {}, "not found"),
    "truncated-tflite": (truncate_tflite, {}, "sha256"),
    "garbled-contract": (garble_contract, {}, "contract"),
    "corrupt-tflite-engine-litert": (resigned_garbage_tflite, {"ENGINE": "litert"}, "LiteRT cannot load"),
}


def settled_readiness(client: httpx.Client) -> httpx.Response:
    """/readyz once the model is no longer loading (ready or failed)."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while time.monotonic() < deadline:
        response = client.get("/readyz")
        if response.status_code == 200 or "loading" not in response.json().get("detail", ""):
            return response
        time.sleep(0.1)
    raise TimeoutError("the model never settled")


def error_log_lines(log_path: Path) -> list[dict]:
    entries = []
    for line in log_path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry.get("level") == "ERROR":
                entries.append(entry)
    return entries


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_broken_bundle_is_refused_readiness_in_a_real_process(fault, tiny_bundle, tmp_path):
    damage, settings, reason = FAULTS[fault]
    bundle = tmp_path / "bundle"
    if damage is not None:
        damage(copy_bundle(tiny_bundle, bundle))
    log_path = tmp_path / "server.log"
    jpeg = sample_jpeg(120, 90)
    with running_server(bundle, log_path, wait_ready=False, **settings) as server:
        server_up = time.monotonic() + SETTLE_TIMEOUT_S
        with httpx.Client(base_url=server.base_url, timeout=10) as client:
            while time.monotonic() < server_up:
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.05)
            readiness = settled_readiness(client)
            assert readiness.status_code == 503
            assert reason in readiness.json()["detail"] and str(tmp_path) not in readiness.json()["detail"]
            for path in ("/predict", "/gradcam"):
                refused = client.post(path, files={"file": ("x.jpg", jpeg, "image/jpeg")})
                assert refused.status_code == 503 and refused.json()["type"].endswith("model-not-ready")
            assert client.get("/v1/model").status_code == 503
            assert client.get("/healthz").status_code == 200  # alive: the orchestrator sees why, not a crash loop
            assert "model_ready 0.0" in client.get("/metrics").text
        assert server.process.poll() is None
    errors = error_log_lines(log_path)
    assert len(errors) == 1, log_path.read_text()[-3000:]
    assert names_the_fault(errors[0], reason), errors[0]


def names_the_fault(entry: dict, reason: str) -> bool:
    return FAILURE_LOG_MESSAGE in entry["msg"] and reason in entry["msg"] and entry["logger"].startswith("service")


@pytest.fixture(scope="module")
def url_server(tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory):
    """A server allowed to fetch from loopback (tests only), with a 2 s fetch deadline."""
    pytest.importorskip("keras", reason="building the test bundle needs TensorFlow (the dev extra)")
    log_path = tmp_path_factory.mktemp("url") / "server.log"
    with running_server(tiny_bundle, log_path, URL_ALLOWED_PRIVATE_NETWORKS="127.0.0.1/32",
                        URL_FETCH_TIMEOUT_S="2", URL_CONNECT_TIMEOUT_S="1", ready_timeout_s=90) as server:
        yield server


DEADLINE_S, MARGIN_S = 2.0, 2.0


@pytest.mark.parametrize("mode", ["hang", "drip"])
def test_a_slow_url_target_gets_a_504_problem_in_bounded_time(url_server, mode):
    with MisbehavingTarget(mode) as target, httpx.Client(base_url=url_server.base_url, timeout=30) as client:
        started = time.monotonic()
        by_json = client.post("/predict-url", json={"url": target.url()})
        json_s = time.monotonic() - started
        started = time.monotonic()
        by_form = client.post("/gradcam", data={"url": target.url()})
        form_s = time.monotonic() - started
    for response, seconds in ((by_json, json_s), (by_form, form_s)):
        assert response.status_code == 504, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"].endswith("url-fetch-timeout")
        assert DEADLINE_S - 0.2 <= seconds <= DEADLINE_S + MARGIN_S


def test_hanging_fetches_do_not_hold_up_uploads(url_server):
    """Fetches wait outside the inference limiter: uploads still answer promptly while four fetches hang."""
    import concurrent.futures

    jpeg = sample_jpeg(120, 90)
    with MisbehavingTarget("hang") as target, concurrent.futures.ThreadPoolExecutor(4) as pool:
        hanging = [pool.submit(httpx.post, f"{url_server.base_url}/predict-url", json={"url": target.url()},
                               timeout=30) for _ in range(4)]
        time.sleep(0.3)  # the four fetches are in flight
        started = time.monotonic()
        upload = httpx.post(f"{url_server.base_url}/predict", files={"file": ("x.jpg", jpeg, "image/jpeg")},
                            timeout=30)
        upload_s = time.monotonic() - started
        statuses = [future.result().status_code for future in hanging]
    assert upload.status_code == 200 and upload_s < 1.0
    assert statuses == [504] * 4

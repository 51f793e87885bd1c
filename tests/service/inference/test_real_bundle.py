"""End to end on a real tiny bundle from the real exporter: LiteRT fast path, Keras fallback, lean imports."""

from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter
from PIL import Image

from contract.bundle import read_contract, read_thresholds
from contract.diagnoses import cancer_probability
from contract.preprocessing import preprocess_image
from contract.schema import FALLBACK_THRESHOLD, BundleFiles
from contract.schema import LiteRTSignature as Sig
from service.core.config import Settings
from service.inference.bundle_loader import open_bundle
from tests.conftest import REPO_ROOT
from tests.service import sample_images as images
from tests.service.harness import serving, upload
from tests.service.servers import CountingServer
from tests.service.servers import image as serve_image

PROBABILITY_TOLERANCE = 1e-4


def _settings(bundle: Path, **overrides) -> Settings:
    return Settings(model_dir=bundle, **{"engine": "auto", "inference_concurrency": 2, **overrides})


def _lesion_images(count: int = 6) -> list[bytes]:
    from tests.bundle_factory import synthetic_images

    return [images.encode(Image.fromarray(pixels), "PNG") for pixels in synthetic_images(count, 96, seed=11)]


def _reference(bundle: Path, data: bytes) -> tuple[float, np.ndarray, np.ndarray]:
    """The exported model run directly, without the service: (cancer probability, the two raw maps)."""
    size = read_contract(bundle).input.image_size
    explain = Interpreter(model_path=str(bundle / BundleFiles.LITERT_MODEL)).get_signature_runner(Sig.EXPLAIN)
    out = explain(**{Sig.IMAGES: preprocess_image(data, size)[None].astype(np.float32)})
    return (float(cancer_probability(out[Sig.PROBABILITIES][0])), out[Sig.CAM_CANCEROUS][0],
            out[Sig.CAM_NON_CANCEROUS][0])


@pytest.fixture(scope="module")
def litert_app(tiny_bundle):
    with serving(_settings(tiny_bundle), open_bundle) as running:
        yield running


def test_ready_on_the_litert_engine(litert_app, tiny_bundle):
    ready = litert_app.client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["engine"] == "litert"


def test_model_info_is_the_bundles_contract(litert_app, tiny_bundle):
    info = litert_app.client.get("/v1/model").json()
    contract = read_contract(tiny_bundle)
    thresholds = read_thresholds(tiny_bundle, contract)
    assert info["files"] == contract.files and info["version"] == contract.model_version
    assert info["backbone"] == contract.backbone and info["input"]["image_size"] == contract.input.image_size
    assert info["explanation"] == contract.explanation.model_dump(mode="json")
    assert info["input_check"] == contract.input_check.model_dump(mode="json")
    assert info["test_metrics"] == contract.test_metrics
    assert info["thresholds"]["decision"] == thresholds.threshold and info["thresholds"]["source"] == "bundle"
    assert info["thresholds"]["high_sensitivity"]["threshold"] == thresholds.high_sensitivity.threshold


def test_predict_matches_the_exported_model(litert_app, tiny_bundle):
    thresholds = read_thresholds(tiny_bundle, read_contract(tiny_bundle))
    for data in _lesion_images(3):
        body = litert_app.client.post("/predict", files=upload(data)).json()
        expected, _, _ = _reference(tiny_bundle, data)
        assert body["probability"] == pytest.approx(expected, abs=1e-6)
        assert sum(d["probability"] for d in body["differential"]) == pytest.approx(1.0, abs=1e-5)
        assert body["is_cancerous"] == (expected >= thresholds.threshold)
        assert body["high_sensitivity"]["is_cancerous"] == (expected >= thresholds.high_sensitivity.threshold)
        assert body["model"]["engine"] == "litert"


def test_gradcam_returns_the_models_maps_and_an_overlay(litert_app, tiny_bundle):
    data = _lesion_images(1)[0]
    _, for_cancer, for_benign = _reference(tiny_bundle, data)
    for target, expected in (("cancerous", for_cancer), ("non-cancerous", for_benign)):
        body = litert_app.client.post(f"/gradcam?include_raw=true&target={target}", files=upload(data)).json()
        np.testing.assert_allclose(np.array(body["cam"]), expected, rtol=1e-4, atol=1e-5)
        assert body["explanation"]["target"] == target
    overlay = Image.open(io.BytesIO(base64.b64decode(body["heatmap_base64"])))
    assert overlay.size == (96, 96) == (body["heatmap_width"], body["heatmap_height"]) and overlay.format == "JPEG"


def test_batch_matches_single_predictions(litert_app):
    payloads = _lesion_images(4)
    singles = [
        litert_app.client.post("/predict", files=upload(data)).json()["probability"] for data in payloads
    ]
    files = [("files", (f"{i}.png", data, "image/png")) for i, data in enumerate(payloads)]
    files.insert(2, ("files", ("bad.txt", b"not an image", "text/plain")))
    body = litert_app.client.post("/predict/batch", files=files).json()
    batched = [item["result"]["probability"] for item in body["items"] if item["result"]]
    assert body["items"][2]["problem"]["status"] == 422
    np.testing.assert_allclose(batched, singles, atol=1e-5)


def test_predict_url_gives_the_same_answer_as_upload(tiny_bundle):
    data = _lesion_images(1)[0]
    with CountingServer("127.0.0.1", {"/lesion.png": serve_image(data)}) as origin:
        settings = _settings(tiny_bundle, url_allowed_private_networks=["127.0.0.1/32"])
        with serving(settings, open_bundle) as running:
            by_url = running.client.post("/predict-url", json={"url": origin.url("/lesion.png")}).json()
            by_upload = running.client.post("/predict", files=upload(data)).json()
    assert by_url["probability"] == by_upload["probability"]


def test_concurrent_requests_are_safe(litert_app):
    payloads = _lesion_images(4) * 3
    sequential = [litert_app.client.post("/predict", files=upload(d)).json()["probability"] for d in payloads]
    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(pool.map(lambda d: litert_app.client.post("/predict", files=upload(d)), payloads))
    assert all(response.status_code == 200 for response in responses)
    # concurrent single images may share a model call (the coalescer): the same rows, to float rounding
    np.testing.assert_allclose([response.json()["probability"] for response in responses], sequential, atol=1e-6)


@pytest.fixture(scope="module")
def keras_engine(tiny_bundle):
    pytest.importorskip("tensorflow")
    from service.inference.keras_engine import KerasEngine

    contract = read_contract(tiny_bundle)
    return KerasEngine(tiny_bundle / BundleFiles.KERAS_MODEL, contract, num_threads=2)


def test_litert_and_keras_engines_agree(tiny_bundle, keras_engine):
    from service.inference.litert_engine import LiteRTEngine

    contract = read_contract(tiny_bundle)
    litert = LiteRTEngine(tiny_bundle / BundleFiles.LITERT_MODEL, contract, num_threads=2, pool_size=1)
    batch = np.stack([preprocess_image(d, contract.input.image_size) for d in _lesion_images(6)]).astype(
        np.float32
    )
    fast, fallback = litert.explain(batch), keras_engine.explain(batch)
    assert np.ptp(fallback.probabilities) > 1e-3  # the images really differ, so agreement means something
    np.testing.assert_allclose(fast.probabilities, fallback.probabilities, atol=PROBABILITY_TOLERANCE)
    np.testing.assert_allclose(litert.predict(batch).probabilities, fast.probabilities, atol=1e-6)
    for found, expected in ((fast.maps_cancerous, fallback.maps_cancerous),
                            (fast.maps_non_cancerous, fallback.maps_non_cancerous)):
        scale = max(float(expected.max()), 1e-6)
        np.testing.assert_allclose(found / scale, expected / scale, atol=1e-3)


def test_litert_calls_one_at_a_time_reuse_the_warm_interpreter(tiny_bundle):
    from service.inference.litert_engine import LiteRTEngine

    contract = read_contract(tiny_bundle)
    engine = LiteRTEngine(tiny_bundle / BundleFiles.LITERT_MODEL, contract, num_threads=1, pool_size=2)
    used = []
    for _ in range(3):
        with engine._borrowed() as runners:
            used.append(id(runners))
    assert len(set(used)) == 1  # a first-in-first-out pool would alternate between the two
    with engine._borrowed() as first, engine._borrowed() as second:  # two at once still get one each
        assert first is not second


def test_engine_keras_serves_the_same_answers(tiny_bundle, litert_app):
    pytest.importorskip("tensorflow")
    data = _lesion_images(1)[0]
    with serving(_settings(tiny_bundle, engine="keras"), open_bundle) as running:
        assert running.client.get("/readyz").json()["engine"] == "keras"
        keras_body = running.client.post("/gradcam?include_raw=true", files=upload(data)).json()
    litert_body = litert_app.client.post("/gradcam?include_raw=true", files=upload(data)).json()
    assert keras_body["model"]["engine"] == "keras"
    assert keras_body["probability"] == pytest.approx(litert_body["probability"], abs=PROBABILITY_TOLERANCE)
    np.testing.assert_allclose(keras_body["cam"], litert_body["cam"], rtol=1e-3, atol=1e-4)


def _copy_without(bundle: Path, destination: Path, names: list[str]) -> Path:
    from tests.bundle_factory import remove_from_bundle

    shutil.copytree(bundle, destination)
    remove_from_bundle(destination, names)
    return destination


def test_bundle_without_tflite_or_thresholds_falls_back(tiny_bundle, tmp_path):
    pytest.importorskip("tensorflow")
    bundle = _copy_without(tiny_bundle, tmp_path / "b", [BundleFiles.LITERT_MODEL, BundleFiles.THRESHOLD])
    with serving(_settings(bundle), open_bundle) as running:
        assert running.client.get("/readyz").json()["engine"] == "keras"
        body = running.client.post("/predict", files=upload(_lesion_images(1)[0])).json()
        litert_only = running.client.get("/v1/model").json()
    assert (body["threshold"], body["threshold_source"], body["high_sensitivity"]) == (
        FALLBACK_THRESHOLD,
        "fallback",
        None,
    )
    assert litert_only["thresholds"]["bundle"] is None


def test_tflite_not_covered_by_the_contract_is_not_trusted(tiny_bundle, tmp_path):
    pytest.importorskip("tensorflow")
    bundle = _copy_without(tiny_bundle, tmp_path / "b", [BundleFiles.LITERT_MODEL])
    shutil.copy(
        tiny_bundle / BundleFiles.LITERT_MODEL, bundle / BundleFiles.LITERT_MODEL
    )  # present, unlisted
    with serving(_settings(bundle), open_bundle) as running:
        assert running.client.get("/readyz").json()["engine"] == "keras"
    with serving(_settings(bundle, engine="litert"), open_bundle) as running:
        assert running.client.get("/readyz").status_code == 503


LEAN_SERVING = textwrap.dedent("""
    import json, sys, time
    from fastapi.testclient import TestClient
    from service.main import app
    from tests.service import sample_images

    with TestClient(app) as client:
        for _ in range(600):
            if client.get("/readyz").status_code == 200:
                break
            time.sleep(0.05)
        files = {"file": ("x.jpg", sample_images.jpeg(), "image/jpeg")}
        statuses = [client.get("/readyz").status_code, client.post("/predict", files=files).status_code,
                    client.post("/gradcam", files=files).status_code]
    heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "tf_keras"))
    print(json.dumps({"statuses": statuses, "heavy": heavy}))
""")


def test_litert_serving_never_imports_tensorflow(tiny_bundle):
    result = subprocess.run(
        [sys.executable, "-c", LEAN_SERVING],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={
            "PATH": "/usr/bin:/bin",
            "MODEL_DIR": str(tiny_bundle),
            "PYTHONPATH": str(REPO_ROOT),
            "LOG_LEVEL": "ERROR",
        },
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["statuses"] == [200, 200, 200]
    assert report["heavy"] == []

"""Liveness vs readiness: load → warm-up → ready, and a broken bundle that keeps the process alive."""

from __future__ import annotations

import json

import pytest

from contract.schema import BundleFiles
from service.inference.model import ModelState
from tests.service import sample_images as images
from tests.service.fakes import WARM_UP_CALLS, FakeOpener, fake_contract
from tests.service.harness import serving, upload, wait_until_settled

PROBLEM = "application/problem+json"


def test_not_ready_while_loading_then_ready(make_settings):
    opener = FakeOpener(hold=True)
    with serving(make_settings(), opener, wait=False) as running:
        client = running.client
        assert client.get("/healthz").json() == {"status": "alive"}
        loading = client.get("/readyz")
        assert loading.status_code == 503 and loading.headers["content-type"] == PROBLEM
        assert "loading" in loading.json()["detail"] and loading.headers["retry-after"]
        assert client.post("/predict", files=upload(images.jpeg())).status_code == 503
        assert "model_ready 0.0" in client.get("/metrics").text

        opener.release.set()
        wait_until_settled(running.model)
        assert client.get("/readyz").json() == {
            "status": "ready",
            "model_version": "9.9.9-fake",
            "engine": "fake",
        }
        assert "model_ready 1.0" in client.get("/metrics").text
        assert len(running.engine.calls) == WARM_UP_CALLS  # both signatures warmed up before ready


def _write_contract(directory, payload) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / BundleFiles.CONTRACT).write_text(json.dumps(payload))


def _contract_payload(files: dict[str, str]) -> dict:
    return fake_contract().model_copy(update={"files": files}).model_dump(mode="json")


@pytest.mark.parametrize(
    ("prepare", "reason"),
    [
        (lambda d: None, "not found"),
        (lambda d: _write_contract(d, {"model_version": 3}), "not a valid ModelContract"),
        (lambda d: _write_contract(d, {**_contract_payload({}), "model_version": "2.1"}), "model_version"),
        (lambda d: _write_contract(d, _contract_payload({"model.tflite": "0" * 64})), "missing"),
        (
            lambda d: (
                _write_contract(d, _contract_payload({"model.tflite": "0" * 64})),
                (d / "model.tflite").write_bytes(b"tampered"),
            ),
            "does not match the sha256",
        ),
    ],
    ids=["missing-bundle", "invalid-contract", "version-not-semantic", "listed-file-missing", "hash-mismatch"],
)
def test_broken_bundle_keeps_liveness_and_says_why(make_settings, tmp_path, prepare, reason):
    bundle = tmp_path / "bundle"
    prepare(bundle)
    settings = make_settings(model_dir=bundle)
    from service.inference.bundle_loader import open_bundle

    with serving(settings, open_bundle) as running:
        assert running.model.state is ModelState.FAILED
        assert running.client.get("/healthz").status_code == 200
        ready = running.client.get("/readyz")
        assert ready.status_code == 503 and ready.headers["content-type"] == PROBLEM
        detail = ready.json()["detail"]
        assert reason in detail and str(tmp_path) not in detail  # paths shown relative to MODEL_DIR
        for path in ("/predict", "/gradcam"):
            refused = running.client.post(path, files=upload(images.jpeg()))
            assert refused.status_code == 503 and refused.json()["type"].endswith("model-not-ready")
        assert running.client.get("/v1/model").status_code == 503


def test_engine_litert_without_a_listed_tflite_fails_clearly(make_settings, tmp_path):
    from contract.bundle import sha256_of
    from service.inference.bundle_loader import open_bundle

    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / BundleFiles.KERAS_MODEL).write_bytes(b"not really keras")
    _write_contract(
        bundle, _contract_payload({BundleFiles.KERAS_MODEL: sha256_of(bundle / BundleFiles.KERAS_MODEL)})
    )
    with serving(make_settings(model_dir=bundle, engine="litert"), open_bundle) as running:
        assert "ENGINE=litert" in running.client.get("/readyz").json()["detail"]


def test_corrupt_tflite_is_a_bundle_error(make_settings, tmp_path):
    from contract.bundle import sha256_of
    from service.inference.bundle_loader import open_bundle

    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / BundleFiles.LITERT_MODEL).write_bytes(b"not a flatbuffer" * 8)
    _write_contract(
        bundle, _contract_payload({BundleFiles.LITERT_MODEL: sha256_of(bundle / BundleFiles.LITERT_MODEL)})
    )
    with serving(make_settings(model_dir=bundle, engine="litert"), open_bundle) as running:
        assert "LiteRT cannot load" in running.client.get("/readyz").json()["detail"]


def test_model_info_reports_the_bundle(served):
    body = served.client.get("/v1/model").json()
    assert body["id"] == "skin-cancer-detector" and body["version"] == "9.9.9-fake"
    assert body["backbone"] == "fake-backbone" and body["engine"] == "fake"
    assert body["input"]["image_size"] == 32 and body["input"]["value_range"] == [0.0, 255.0]
    assert body["explanation"]["grid"] == 4 and body["explanation"]["method"] == "layercam"
    assert [d["code"] for d in body["diagnoses"]] == ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"]
    assert [d["code"] for d in body["diagnoses"] if d["cancerous"]] == ["akiec", "bcc", "mel"]
    assert body["input_check"]["distance_threshold"] == 1000.0, "the check's limits are documented"
    assert body["thresholds"]["decision"] == 0.5 and body["thresholds"]["source"] == "bundle"
    assert body["thresholds"]["high_sensitivity"]["threshold"] == 0.2
    assert body["test_metrics"] == {"roc_auc": 0.9}
    assert "files" in body


def test_shutdown_stops_the_model(make_settings):
    with serving(make_settings()) as running:
        assert running.model.ready
    assert running.model.state is ModelState.STOPPED and not running.model.ready


def test_shutdown_while_loading_never_turns_ready(make_settings):
    opener = FakeOpener(hold=True)
    with serving(make_settings(), opener, wait=False) as running:
        pass
    opener.release.set()
    running.model.load()  # what the abandoned loader thread would do next
    assert running.model.state is ModelState.STOPPED

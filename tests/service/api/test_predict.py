"""POST /predict with the fake engine: the answer's shape, and every class of bad upload."""

from __future__ import annotations

import numpy as np
import pytest

from contract.schema import FALLBACK_THRESHOLD
from tests.service import sample_images as images
from tests.service.fakes import WARM_UP_CALLS, FakeOpener
from tests.service.harness import serving, upload

PROBLEM = "application/problem+json"


def test_prediction_carries_verdicts_model_timing_and_disclaimer(served):
    response = served.client.post("/predict", files=upload(images.jpeg()))
    assert response.status_code == 200, response.text
    body = response.json()
    assert 0.0 <= body["probability"] <= 1.0
    assert body["is_cancerous"] == (body["probability"] >= 0.5)
    assert body["label"] == ("cancerous" if body["is_cancerous"] else "non-cancerous")
    assert (body["threshold"], body["threshold_source"]) == (0.5, "bundle")
    assert body["high_sensitivity"] == {
        "threshold": 0.2,
        "is_cancerous": body["probability"] >= 0.2,
        "label": "cancerous" if body["probability"] >= 0.2 else "non-cancerous",
    }
    assert body["model"] == {
        "id": "skin-cancer-detector",
        "version": "9.9.9-fake",
        "backbone": "fake-backbone",
        "engine": "fake",
    }
    assert set(body["timing"]) >= {"preprocess_ms", "inference_ms", "total_ms"}
    assert body["timing"]["total_ms"] >= body["timing"]["inference_ms"] >= 0
    assert "not a diagnosis" in body["disclaimer"]
    assert body["request_id"] == response.headers["x-request-id"]


def test_the_model_sees_the_shared_preprocessing(served):
    served.client.post("/predict", files=upload(images.jpeg()))
    (batch,) = served.engine.calls[-1:]
    assert batch.shape == (1, 32, 32, 3) and batch.dtype == np.float32
    assert batch.min() >= 0.0 and batch.max() <= 255.0 and batch.max() > 1.0  # 0-255, not 0-1


def test_configured_threshold_overrides_the_bundle(make_settings):
    with serving(make_settings(threshold=0.99)) as running:
        body = running.client.post("/predict", files=upload(images.jpeg())).json()
    assert (body["threshold"], body["threshold_source"], body["is_cancerous"]) == (
        0.99,
        "configuration",
        False,
    )
    assert body["high_sensitivity"]["threshold"] == 0.2  # the bundle's point stays


def test_bundle_without_thresholds_uses_the_fallback(make_settings):
    opener = FakeOpener()
    opener.thresholds = None
    with serving(make_settings(), opener) as running:
        body = running.client.post("/predict", files=upload(images.jpeg())).json()
    assert (body["threshold"], body["threshold_source"]) == (FALLBACK_THRESHOLD, "fallback")
    assert body["high_sensitivity"] is None


@pytest.mark.parametrize(
    "make",
    [
        images.png,
        images.png_16bit,
        images.cmyk_jpeg,
        images.palette_png_with_transparency,
        lambda: images.png(mode="RGBA"),
        lambda: images.png(mode="LA"),
        lambda: images.png(mode="L"),
        lambda: images.encode(images.gradient(), "WEBP"),
        lambda: images.encode(images.gradient(), "BMP"),
        lambda: images.encode(images.gradient(), "TIFF"),
        lambda: images.encode(images.gradient(), "GIF"),
    ],
    ids=[
        "png",
        "png16",
        "cmyk-jpeg",
        "palette-transparent",
        "rgba",
        "la",
        "grey",
        "webp",
        "bmp",
        "tiff",
        "gif",
    ],
)
def test_every_accepted_mode_and_format_is_classified(served, make):
    response = served.client.post("/predict", files=upload(make()))
    assert response.status_code == 200, response.text


def test_sixteen_bit_png_is_rescaled_not_clipped(served):
    served.client.post("/predict", files=upload(images.png_16bit()))
    seen = served.engine.calls[-1][0]
    assert 100 < seen.mean() < 160  # a full-range ramp averages mid-grey; clipping would give ~255


def test_exif_orientation_is_applied(served):
    served.client.post("/predict", files=upload(images.half_black_half_white_jpeg(orientation=None)))
    upright = served.engine.calls[-1][0].mean(axis=-1)
    served.client.post("/predict", files=upload(images.half_black_half_white_jpeg(orientation=6)))
    rotated = served.engine.calls[-1][0].mean(axis=-1)
    assert upright[:, :12].mean() < 40 and upright[:, -12:].mean() > 215  # black left, white right
    assert rotated[:12, :].mean() < 40 and rotated[-12:, :].mean() > 215  # turned 90°: black on top


@pytest.mark.parametrize(
    ("data", "status", "slug"),
    [
        (b"", 422, "invalid-image"),
        (b"this is not an image, just text\n" * 10, 422, "invalid-image"),
        (images.truncated_jpeg(), 422, "invalid-image"),
        (images.ico(), 415, "unsupported-image-format"),
        (images.pcx(), 415, "unsupported-image-format"),
        (images.declared_bomb_png(), 413, "image-too-large"),
        # 6000x6000 is under the 40 Mpx limit for 8-bit images, but a 16-bit one costs ~6x the memory to convert
        (images.declared_bomb_png(6000, 6000, bit_depth=16, colour_type=0), 413, "image-too-large"),
        (images.repeated_scans_jpeg(), 422, "invalid-image"),
        (images.sliver_png(), 422, "invalid-image"),
    ],
    ids=["empty", "text", "truncated-jpeg", "ico", "pcx", "pixel-bomb", "16-bit-pixel-bomb", "scan-bomb",
         "absurd-aspect"],
)
def test_bad_images_get_a_clear_problem(served, data, status, slug):
    response = served.client.post("/predict", files=upload(data))
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["type"].endswith(slug) and body["status"] == status
    assert body["detail"] and body["instance"] == "/predict"
    assert body["request_id"] == response.headers["x-request-id"]
    assert len(served.engine.calls) == WARM_UP_CALLS  # only the warm-up: bad input never reached the model


def test_pixel_limit_is_configurable(make_settings):
    with serving(make_settings(max_image_pixels=96 * 80 - 1)) as running:
        response = running.client.post("/predict", files=upload(images.jpeg(96, 80)))
    assert response.status_code == 413 and response.json()["type"].endswith("image-too-large")


def test_upload_over_the_byte_cap_is_413(make_settings):
    with serving(make_settings(max_upload_bytes=4096)) as running:
        response = running.client.post("/predict", files=upload(b"\xff" * 5000))
    assert response.status_code == 413
    assert response.json()["type"].endswith("payload-too-large")


def test_missing_file_field_is_a_validation_problem(served):
    response = served.client.post("/predict", data={"not_file": "x"})
    assert response.status_code == 422 and response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["type"].endswith("validation-error")
    assert {"loc": ["body", "file"], "msg": "Field required", "type": "missing"} in body["errors"]


def test_json_instead_of_multipart_is_a_validation_problem(served):
    response = served.client.post("/predict", json={"file": "abc"})
    assert response.status_code == 422 and response.headers["content-type"] == PROBLEM


def test_server_stays_up_after_a_storm_of_bad_input(served):
    for data in (b"", b"junk", images.truncated_jpeg(), images.declared_bomb_png(), images.ico()):
        assert served.client.post("/predict", files=upload(data)).status_code < 500
    assert served.client.post("/predict", files=upload(images.jpeg())).status_code == 200

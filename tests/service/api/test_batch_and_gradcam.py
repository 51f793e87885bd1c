"""POST /predict/batch (per-item problems) and POST /gradcam (the overlay as JPEG or PNG, raw CAM)."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from tests.service import sample_images as images
from tests.service.fakes import WARM_UP_CALLS
from tests.service.harness import serving, upload

PROBLEM = "application/problem+json"


def _files(*items: tuple[str, bytes]) -> list:
    return [("files", (name, data, "application/octet-stream")) for name, data in items]


def test_batch_answers_each_item_and_bad_items_fail_alone(make_settings):
    with serving(make_settings(max_upload_bytes=64 * 1024)) as running:
        response = running.client.post(
            "/predict/batch",
            files=_files(
                ("a.jpg", images.jpeg()),
                ("empty.png", b""),
                ("b.png", images.png()),
                ("icon.ico", images.ico()),
                ("huge.bin", b"\0" * (64 * 1024 + 1)),
                ("bomb.png", images.declared_bomb_png()),
            ),
        )
        engine_calls = running.engine.calls
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["succeeded"], body["failed"]) == (2, 4)
    assert [item["filename"] for item in body["items"]] == [
        "a.jpg",
        "empty.png",
        "b.png",
        "icon.ico",
        "huge.bin",
        "bomb.png",
    ]
    statuses = [item["problem"]["status"] if item["problem"] else 200 for item in body["items"]]
    assert statuses == [200, 422, 200, 415, 413, 413]
    assert body["items"][1]["problem"]["instance"] == "/predict/batch#items/1"
    assert body["items"][0]["result"]["label"] in ("cancerous", "non-cancerous")
    assert "not a diagnosis" in body["disclaimer"] and body["model"]["version"] == "9.9.9-fake"
    assert engine_calls[-1].shape[0] == 2  # the good items share one engine call


def test_batch_results_match_single_predictions(served):
    single = served.client.post("/predict", files=upload(images.png())).json()["probability"]
    batch = served.client.post(
        "/predict/batch", files=_files(("x.png", images.png()), ("y.jpg", images.jpeg()))
    )
    assert batch.json()["items"][0]["result"]["probability"] == single


def test_all_bad_batch_still_answers_200_with_problems(served):
    body = served.client.post("/predict/batch", files=_files(("a", b"junk"), ("b", b""))).json()
    assert (body["succeeded"], body["failed"]) == (0, 2)


def test_too_many_files_is_refused(make_settings):
    with serving(make_settings(max_batch_files=2)) as running:
        response = running.client.post(
            "/predict/batch", files=_files(*[(f"{i}.png", images.png()) for i in range(3)])
        )
        assert response.status_code == 413 and response.json()["type"].endswith("too-many-files")
        assert len(running.engine.calls) == WARM_UP_CALLS


def test_batch_without_files_is_a_validation_problem(served):
    response = served.client.post("/predict/batch", data={"x": "y"})
    assert response.status_code == 422 and response.headers["content-type"] == PROBLEM


def _overlay(body: dict) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(body["heatmap_base64"])))).astype(int)


def test_gradcam_returns_prediction_differential_and_overlay_in_the_images_aspect(served):
    # a PNG: JPEGs may be decoded at a reduced scale (never below the model's input size, 32 px here)
    response = served.client.post("/gradcam", files=upload(images.png(96, 80)))
    assert response.status_code == 200, response.text
    body = response.json()
    assert 0 <= body["probability"] <= 1 and "not a diagnosis" in body["disclaimer"]
    assert len(body["differential"]) == 7 and body["warnings"] == []
    heatmap = Image.open(io.BytesIO(base64.b64decode(body["heatmap_base64"])))
    assert body["heatmap_media_type"] == "image/jpeg", "JPEG unless PNG is asked for"
    assert heatmap.format == "JPEG" and heatmap.size == (96, 80) == (body["heatmap_width"], body["heatmap_height"])
    assert "cam" not in body, "the raw map is only sent when asked for"
    assert body["timing"]["heatmap_ms"] >= 0
    explanation = body["explanation"]
    assert explanation["method"] == "layercam" and explanation["layer"] == "fake_layer"
    assert explanation["target"] == body["label"], "by default the map explains the predicted class"
    assert explanation["display_scale"] == 100.0


def test_gradcam_raw_grid_on_request(served):
    body = served.client.post("/gradcam?include_raw=true", files=upload(images.jpeg())).json()
    cam = np.array(body["cam"])
    assert cam.shape == (4, 4) and (cam >= 0).all() and cam.max() > 0


def test_gradcam_target_picks_whose_evidence_is_drawn(served):
    # The fake's cancerous evidence is brightness and its non-cancerous evidence darkness.
    halves = upload(images.half_black_half_white_jpeg(None))
    for_cancer = served.client.post("/gradcam?target=cancerous", files=halves).json()
    for_benign = served.client.post("/gradcam?target=non-cancerous", files=halves).json()
    assert for_cancer["explanation"]["target"] == "cancerous"
    assert for_benign["explanation"]["target"] == "non-cancerous"
    drawn = _overlay(for_cancer)
    original = np.zeros(drawn.shape, dtype=int)  # the 64 px JPEG may be decoded at half scale
    original[:, drawn.shape[1] // 2 :] = 255
    tint_cancer = np.abs(drawn - original).mean(axis=(0, 2))  # per column
    tint_benign = np.abs(_overlay(for_benign) - original).mean(axis=(0, 2))
    edge = drawn.shape[1] // 8
    assert tint_cancer[-edge:].mean() > tint_cancer[:edge].mean() + 20, "bright half tinted for 'cancerous'"
    assert tint_benign[:edge].mean() > tint_benign[-edge:].mean() + 20, "dark half tinted for 'non-cancerous'"


def test_gradcam_says_when_no_region_stood_out(served):
    black = images.encode(Image.new("RGB", (64, 48)), "PNG")
    body = served.client.post("/gradcam?target=cancerous&heatmap_format=png", files=upload(black, "black.png")).json()
    assert body["explanation"]["empty"] is True and "No region stood out" in body["explanation"]["message"]
    assert _overlay(body).max() == 0, "an empty map leaves the image as it was, not a purple wash"


def test_gradcam_sends_a_png_when_asked(served):
    photo = images.png(96, 80)
    as_png = served.client.post("/gradcam?heatmap_format=png", files=upload(photo)).json()
    as_jpeg = served.client.post("/gradcam?heatmap_format=jpeg", files=upload(photo)).json()
    assert as_png["heatmap_media_type"] == "image/png"
    assert Image.open(io.BytesIO(base64.b64decode(as_png["heatmap_base64"]))).format == "PNG"
    assert np.abs(_overlay(as_png) - _overlay(as_jpeg)).mean() < 3, "the same drawing in both encodings"
    refused = served.client.post("/gradcam?heatmap_format=gif", files=upload(photo))
    assert refused.status_code == 422 and refused.headers["content-type"] == PROBLEM


def test_the_documented_media_types_are_the_encodings_the_service_draws(served):
    from service.inference.heatmap import OverlayFormat

    schema = served.client.get("/openapi.json").json()["components"]["schemas"]["GradcamResponse"]
    assert set(schema["properties"]["heatmap_media_type"]["enum"]) == {f.media_type for f in OverlayFormat}


def test_gradcam_unknown_target_is_a_validation_problem(served):
    response = served.client.post("/gradcam?target=melanoma", files=upload(images.jpeg()))
    assert response.status_code == 422 and response.headers["content-type"] == PROBLEM


def test_gradcam_needs_exactly_one_source(served):
    neither = served.client.post("/gradcam", data={"something": "else"})
    both = served.client.post(
        "/gradcam", files=upload(images.jpeg()), data={"url": "https://example.org/x.jpg"}
    )
    for response in (neither, both):
        assert response.status_code == 422 and response.json()["type"].endswith("missing-image")


def test_gradcam_bad_image_is_a_problem(served):
    response = served.client.post("/gradcam", files=upload(images.truncated_jpeg()))
    assert response.status_code == 422 and response.headers["content-type"] == PROBLEM


# The JPEG decodes at reduced scale (under 256 px at the fake's 32 px input); the noisy PNG decodes whole and is
# shrunk for the display copy, which must not touch the model input.
@pytest.mark.parametrize("large", [images.jpeg(900, 600),
                                   images.encode(Image.fromarray(  # decoded whole, shrunk for the display copy
                                       np.random.default_rng(5).integers(0, 256, (300, 400, 3), dtype=np.uint8)),
                                       "PNG")],
                         ids=["jpeg", "png"])
def test_gradcam_sees_exactly_the_model_input_predict_sees(served, large):
    predicted = served.client.post("/predict", files=upload(large)).json()
    explained = served.client.post("/gradcam", files=upload(large)).json()
    assert explained["probability"] == predicted["probability"]
    assert served.engine.calls[-1].tobytes() == served.engine.calls[-2].tobytes()

"""POST /predict/batch (per-item problems) and POST /gradcam (heatmap PNG, raw CAM)."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image

from tests.service import sample_images as images
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
        assert len(running.engine.calls) == 1


def test_batch_without_files_is_a_validation_problem(served):
    response = served.client.post("/predict/batch", data={"x": "y"})
    assert response.status_code == 422 and response.headers["content-type"] == PROBLEM


def test_gradcam_returns_prediction_and_overlay_png(served):
    response = served.client.post("/gradcam", files=upload(images.jpeg()))
    assert response.status_code == 200, response.text
    body = response.json()
    assert 0 <= body["probability"] <= 1 and "not a diagnosis" in body["disclaimer"]
    heatmap = Image.open(io.BytesIO(base64.b64decode(body["heatmap_png_base64"])))
    assert heatmap.format == "PNG" and heatmap.size == (32, 32) and body["heatmap_size"] == 32
    assert body["cam"] is None and body["timing"]["heatmap_ms"] >= 0


def test_gradcam_raw_grid_on_request(served):
    body = served.client.post("/gradcam?include_raw=true", files=upload(images.jpeg())).json()
    cam = np.array(body["cam"])
    assert cam.shape == (4, 4) and (cam >= 0).all() and cam.max() > 0


def test_gradcam_overlay_follows_the_cam(served):
    # The fake CAM is brightness: a white right half must come out redder than the black left half.
    body = served.client.post("/gradcam", files=upload(images.half_black_half_white_jpeg(None))).json()
    heatmap = np.asarray(Image.open(io.BytesIO(base64.b64decode(body["heatmap_png_base64"])))).astype(int)
    left, right = heatmap[:, :8].mean(axis=(0, 1)), heatmap[:, -8:].mean(axis=(0, 1))
    assert right[0] - right[2] > left[0] - left[2]


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

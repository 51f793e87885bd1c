"""A request may pick its own operating point: the high-sensitivity one, or a threshold of its own."""

from __future__ import annotations

import pytest

from tests.service import sample_images as images
from tests.service.fakes import FakeOpener
from tests.service.harness import serving, upload


def test_default_is_the_bundles_decision_threshold(served):
    body = served.client.post("/predict", files=upload(images.jpeg())).json()
    assert (body["threshold"], body["threshold_source"]) == (0.5, "bundle")


@pytest.mark.parametrize("path", ["/predict", "/gradcam", "/predict/batch"])
def test_a_request_threshold_is_used_and_reported(served, path):
    field = "files" if path == "/predict/batch" else "file"
    body = served.client.post(f"{path}?threshold=0.61", files={field: ("x.jpg", images.jpeg())}).json()
    result = body["items"][0]["result"] if path == "/predict/batch" else body
    assert (result["threshold"], result["threshold_source"]) == (0.61, "request")
    assert result["is_cancerous"] == (result["probability"] >= 0.61)


def test_the_high_sensitivity_operating_point(served):
    body = served.client.post("/predict?operating_point=high_sensitivity", files=upload(images.jpeg())).json()
    assert (body["threshold"], body["threshold_source"]) == (0.2, "high_sensitivity")
    assert body["is_cancerous"] == (body["probability"] >= 0.2)


@pytest.mark.parametrize("query", ["threshold=1.5", "threshold=-0.1", "threshold=abc", "operating_point=sensitive",
                                   "threshold=0.3&operating_point=decision"])
def test_bad_operating_points_are_a_422(served, query):
    response = served.client.post(f"/predict?{query}", files=upload(images.jpeg()))
    assert response.status_code == 422 and response.headers["content-type"] == "application/problem+json"


def test_high_sensitivity_without_thresholds_is_a_422(make_settings):
    with serving(make_settings(), _NoThresholds()) as running:
        response = running.client.post("/predict?operating_point=high_sensitivity", files=upload(images.jpeg()))
    assert response.status_code == 422 and "no high-sensitivity threshold" in response.json()["detail"]


class _NoThresholds(FakeOpener):
    def __init__(self):
        super().__init__()
        self.thresholds = None

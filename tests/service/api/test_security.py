"""API key, CORS, and request body caps."""

from __future__ import annotations

import pytest

from tests.service import sample_images as images
from tests.service.fakes import WARM_UP_CALLS
from tests.service.harness import serving, upload

KEY = "correct-horse-battery-staple-42"
PROBLEM = "application/problem+json"


@pytest.fixture
def keyed(make_settings):
    with serving(make_settings(api_key=KEY)) as running:
        yield running.client


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/predict"),
        ("post", "/predict-url"),
        ("post", "/predict/batch"),
        ("post", "/gradcam"),
        ("get", "/v1/model"),
        ("get", "/v2/models/skin-cancer-detector"),
        ("get", "/v2/models/skin-cancer-detector/ready"),
        ("post", "/v2/models/skin-cancer-detector/infer"),
    ],
)
def test_model_endpoints_need_the_key(keyed, method, path):
    for headers in ({}, {"X-API-Key": "wrong-key-wrong-key-wrong"}):
        response = getattr(keyed, method)(path, headers=headers)
        assert response.status_code == 401, path
        assert (
            response.headers["content-type"] == PROBLEM
            and "X-API-Key" in response.headers["www-authenticate"]
        )


def test_the_right_key_opens_them(keyed):
    response = keyed.post("/predict", files=upload(images.jpeg()), headers={"X-API-Key": KEY})
    assert response.status_code == 200
    assert keyed.get("/v1/model", headers={"X-API-Key": KEY}).status_code == 200


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/docs", "/openapi.json"])
def test_operations_endpoints_stay_open(keyed, path):
    assert keyed.get(path).status_code == 200


def test_no_key_configured_means_open(served):
    assert served.client.get("/v1/model").status_code == 200


def test_cors_allows_only_configured_origins(make_settings):
    with serving(make_settings(cors_origins=["https://ui.example.org"])) as running:
        preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "X-API-Key"}
        allowed = running.client.options(
            "/predict", headers={"Origin": "https://ui.example.org", **preflight}
        )
        denied = running.client.options("/predict", headers={"Origin": "https://evil.example", **preflight})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://ui.example.org"
    assert "access-control-allow-origin" not in denied.headers


def test_no_cors_headers_by_default(served):
    response = served.client.get("/healthz", headers={"Origin": "https://ui.example.org"})
    assert "access-control-allow-origin" not in response.headers


def test_declared_content_length_over_the_cap_is_refused_before_reading(make_settings):
    with serving(make_settings(max_upload_bytes=4096)) as running:
        response = running.client.post(
            "/predict",
            content=b"x" * 10,
            headers={"content-type": "multipart/form-data; boundary=b", "content-length": str(10**9)},
        )
        assert response.status_code == 413 and response.headers["content-type"] == PROBLEM
        assert "declares" in response.json()["detail"]
        assert response.headers["x-request-id"]
        assert len(running.engine.calls) == WARM_UP_CALLS


def test_streamed_body_over_the_cap_is_cut_off(make_settings):
    def body():  # a generator: sent chunked, with no Content-Length to check up front
        for _ in range(64):
            yield b"\0" * 16 * 1024

    with serving(make_settings(max_upload_bytes=4096)) as running:
        response = running.client.post(
            "/predict", content=body(), headers={"content-type": "multipart/form-data; boundary=b"}
        )
    assert response.status_code == 413 and response.json()["type"].endswith("payload-too-large")
    assert "exceeds" in response.json()["detail"]


def test_json_body_for_a_url_is_capped_small(served):
    response = served.client.post("/predict-url", json={"url": "https://example.org/" + "a" * 100_000})
    assert response.status_code == 413


@pytest.mark.parametrize("root_path", ["", "/skin"])  # under a proxy's prefix the batch keeps the batch cap
def test_a_batch_gets_the_batch_cap_not_one_uploads(make_settings, root_path):
    files = [("files", (f"{i}.bin", b"\0" * 900_000, "application/octet-stream")) for i in range(3)]
    with serving(make_settings(max_upload_bytes=1024 * 1024), root_path=root_path) as running:
        response = running.client.post(f"{root_path}/predict/batch", files=files)  # 2.7 MB: over one upload's cap
    assert response.status_code == 200 and response.json()["failed"] == 3  # each item refused alone, as not an image

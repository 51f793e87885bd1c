"""Request ids, JSON-lines logs without image bytes, Prometheus metrics, OpenAPI, and the web page."""

from __future__ import annotations

import io
import json
import logging

import pytest

from service.api.routes import web
from service.core.logs import SERVICE_LOGGER, JsonLinesFormatter, configure_logging, current_request_id
from tests.service import sample_images as images
from tests.service.harness import upload


@pytest.fixture
def log_lines():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLinesFormatter())
    logger = logging.getLogger(SERVICE_LOGGER)
    logger.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logger.removeHandler(handler)


def test_request_id_is_echoed_or_generated(served):
    echoed = served.client.get("/healthz", headers={"X-Request-ID": "trace-abc.123"})
    assert echoed.headers["x-request-id"] == "trace-abc.123"
    generated = served.client.get("/healthz", headers={"X-Request-ID": "no spaces allowed" + "x" * 200})
    assert len(generated.headers["x-request-id"]) == 32 and generated.headers["x-request-id"].isalnum()
    assert served.client.get("/healthz").headers["x-request-id"] != generated.headers["x-request-id"]


def test_access_log_is_json_with_request_id_and_no_image_bytes(served, log_lines):
    marker = "PATIENT-MARKER-7f3a"
    response = served.client.post(
        "/predict",
        files=upload(images.png_with_text(marker), name="lesion.png"),
        headers={"X-Request-ID": "log-test-1"},
    )
    assert response.status_code == 200
    lines = log_lines()
    access = [line for line in lines if line["msg"] == "request"]
    assert access and access[-1]["request_id"] == "log-test-1"
    assert access[-1]["route"] == "/predict" and access[-1]["status"] == 200 and access[-1]["duration_ms"] > 0
    everything = json.dumps(lines)
    assert marker not in everything and "IHDR" not in everything


def test_unexpected_error_is_logged_with_request_id_and_trace(served, log_lines):
    served.engine.fail_with = RuntimeError("boom")
    served.client.post("/predict", files=upload(images.jpeg()), headers={"X-Request-ID": "err-1"})
    errors = [line for line in log_lines() if line["level"] == "ERROR"]
    assert errors and errors[0]["request_id"] == "err-1" and "RuntimeError: boom" in errors[0]["exc_info"]


def test_library_warnings_during_a_request_are_json_lines_with_its_id(capsys):
    configure_logging("INFO")
    token = current_request_id.set("multipart-1")
    try:
        logging.getLogger("python_multipart.multipart").warning("No Content-Type header given")
        logging.getLogger("python_multipart.multipart").info("chatter below WARNING is dropped")
    finally:
        current_request_id.reset(token)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(line["logger"], line["level"], line["request_id"]) for line in lines] == [
        ("python_multipart.multipart", "WARNING", "multipart-1")]


def test_metrics_count_requests_by_route_and_status(served):
    client = served.client
    client.post("/predict", files=upload(images.jpeg()))
    client.post("/predict", files=upload(b"junk"))
    client.get("/definitely/not/here")
    text = client.get("/metrics").text
    assert 'http_requests_total{method="POST",route="/predict",status="200"} 1.0' in text
    assert 'http_requests_total{method="POST",route="/predict",status="422"} 1.0' in text
    assert 'route="unmatched",status="404"' in text and "/definitely" not in text  # no raw paths as labels
    assert 'http_request_duration_seconds_count{method="POST",route="/predict"} 2.0' in text
    assert 'model_inference_duration_seconds_count{engine="fake"} 1.0' in text
    assert "model_ready 1.0" in text


def test_openapi_documents_examples_problems_and_both_gradcam_inputs(served):
    spec = served.client.get("/openapi.json").json()
    assert {
        "/predict",
        "/predict-url",
        "/predict/batch",
        "/gradcam",
        "/healthz",
        "/readyz",
        "/v1/model",
        "/metrics",
    } <= set(spec["paths"])
    schemas = spec["components"]["schemas"]
    assert schemas["PredictionResponse"]["examples"][0]["disclaimer"]
    assert schemas["UrlRequest"]["examples"][0]["url"].startswith("https://")
    assert "application/problem+json" in spec["paths"]["/predict"]["post"]["responses"]["415"]["content"]
    gradcam_body = spec["paths"]["/gradcam"]["post"]["requestBody"]["content"]["multipart/form-data"][
        "schema"
    ]
    gradcam_fields = schemas[gradcam_body["$ref"].rsplit("/", 1)[-1]]["properties"]
    assert {"file", "url"} <= set(gradcam_fields)
    assert "APIKeyHeader" in spec["components"]["securitySchemes"]


def test_web_page_is_served_when_present(served, tmp_path, monkeypatch):
    monkeypatch.setattr(web, "STATIC_DIR", tmp_path)
    missing = served.client.get("/")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
    (tmp_path / "index.html").write_text("<!doctype html><title>ok</title>")
    page = served.client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<title>ok</title>" in page.text

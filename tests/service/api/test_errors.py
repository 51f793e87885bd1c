"""Every failure is RFC 7807 problem+json: unknown routes, wrong methods, server faults."""

from __future__ import annotations

from tests.service import sample_images as images
from tests.service.harness import upload

PROBLEM = "application/problem+json"


def test_unknown_route_is_a_404_problem(served):
    response = served.client.get("/no/such/thing")
    assert response.status_code == 404 and response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["title"] == "Not Found" and body["instance"] == "/no/such/thing" and body["request_id"]
    assert body["detail"] == "nothing is served at /no/such/thing; /docs lists the API"


def test_wrong_method_is_a_405_problem_with_allow(served):
    response = served.client.get("/predict")
    assert response.status_code == 405 and response.headers["content-type"] == PROBLEM
    assert response.headers["allow"] == "POST"
    assert response.json()["status"] == 405 and response.json()["detail"] == "/predict does not accept GET"


def test_malformed_json_is_a_422_problem(served):
    response = served.client.post(
        "/predict-url", content=b'{"url": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422 and response.headers["content-type"] == PROBLEM
    assert response.json()["errors"][0]["type"] == "json_invalid"


def test_wrong_json_shape_is_a_422_problem(served):
    response = served.client.post("/predict-url", json={"url": 42, "extra": True})
    assert response.status_code == 422
    kinds = {tuple(error["loc"]): error["type"] for error in response.json()["errors"]}
    assert kinds[("body", "url")] == "string_type" and kinds[("body", "extra")] == "extra_forbidden"


def test_malformed_multipart_is_a_400_problem(served):
    response = served.client.post(
        "/predict",
        content=b"--nope\r\ngarbage",
        headers={"content-type": "multipart/form-data; boundary=xyz"},
    )
    assert response.status_code == 400 and response.headers["content-type"] == PROBLEM


def test_unexpected_exception_is_a_500_problem_without_internals(served):
    served.engine.fail_with = RuntimeError("secret internal detail /opt/app/engine.py line 42")
    response = served.client.post(
        "/predict", files=upload(images.jpeg()), headers={"X-Request-ID": "req-500"}
    )
    assert response.status_code == 500 and response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["type"].endswith("internal-error") and body["request_id"] == "req-500"
    assert "secret" not in response.text and "Traceback" not in response.text
    assert response.headers["x-request-id"] == "req-500"

    served.engine.fail_with = None  # the server is still up
    assert served.client.post("/predict", files=upload(images.jpeg())).status_code == 200
    assert served.client.get("/healthz").status_code == 200

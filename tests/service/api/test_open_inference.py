"""The Open Inference Protocol v2 REST endpoints, checked against the shapes the protocol specifies."""

from __future__ import annotations

import base64
import json
import math

import numpy as np
import pytest
from PIL import Image

from tests.service import sample_images as images
from tests.service.fakes import FakeOpener
from tests.service.harness import serving

MODEL = "skin-cancer-detector"
INFER = f"/v2/models/{MODEL}/infer"
DATATYPES = {"BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16", "FP32",
             "FP64", "BYTES"}


def _bytes_input(*payloads: bytes, wrap: bool = False) -> dict:
    data = [base64.b64encode(p).decode() for p in payloads]
    return {"name": "image", "shape": [len(data)], "datatype": "BYTES",
            "data": [{"b64": item} for item in data] if wrap else data}


def _check_tensor(tensor: dict) -> None:
    """Every tensor the protocol returns: name, datatype, shape, and data holding prod(shape) elements."""
    assert isinstance(tensor["name"], str) and tensor["datatype"] in DATATYPES
    assert all(isinstance(n, int) for n in tensor["shape"])
    assert len(tensor["data"]) == math.prod(tensor["shape"])


def test_health_and_model_readiness(served):
    assert served.client.get("/v2/health/live").json() == {"live": True}
    ready = served.client.get("/v2/health/ready")
    assert ready.status_code == 200 and ready.json() == {"ready": True}
    model = served.client.get(f"/v2/models/{MODEL}/ready")
    assert model.status_code == 200 and model.json() == {"name": MODEL, "ready": True}


def test_model_metadata_names_its_tensors(served):
    body = served.client.get(f"/v2/models/{MODEL}").json()
    assert body["name"] == MODEL and body["versions"] == ["9.9.9-fake"] and body["platform"]
    assert {(t["name"], t["datatype"]) for t in body["inputs"]} == {("image", "BYTES"), ("image", "UINT8")}
    assert {t["name"] for t in body["outputs"]} == {"probability", "label", "differential", "warnings"}


@pytest.mark.parametrize("wrap", [False, True], ids=["plain-base64", "b64-object"])
def test_infer_on_encoded_images_matches_predict(served, wrap):
    jpeg = images.jpeg()
    response = served.client.post(INFER, json={"id": "req-1", "inputs": [_bytes_input(jpeg, jpeg, wrap=wrap)]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["model_name"], body["model_version"], body["id"]) == (MODEL, "9.9.9-fake", "req-1")
    for tensor in body["outputs"]:
        _check_tensor(tensor)
    outputs = {tensor["name"]: tensor for tensor in body["outputs"]}
    predicted = served.client.post("/predict", files={"file": ("x.jpg", jpeg)}).json()
    assert outputs["probability"]["shape"] == [2, 1]
    assert outputs["probability"]["data"][0] == pytest.approx(predicted["probability"])
    assert outputs["label"]["data"] == [predicted["label"]] * 2
    differential = outputs["differential"]
    assert differential["shape"] == [2, 7] and len(differential["parameters"]["classes"]) == 7
    row = dict(zip(differential["parameters"]["classes"], differential["data"][:7], strict=True))
    assert row == pytest.approx({d["code"]: d["probability"] for d in predicted["differential"]})
    assert json.loads(outputs["warnings"]["data"][0]) == []


def test_infer_on_a_uint8_tensor(served):
    pixels = np.asarray(Image.open(__import__("io").BytesIO(images.png())).convert("RGB"))
    tensor = {"name": "image", "shape": [1, *pixels.shape], "datatype": "UINT8", "data": pixels.ravel().tolist()}
    response = served.client.post(INFER, json={"inputs": [tensor], "outputs": [{"name": "probability"}]})
    assert response.status_code == 200, response.text
    [output] = response.json()["outputs"]
    predicted = served.client.post("/predict", files={"file": ("x.png", images.png())}).json()
    assert output["name"] == "probability" and output["data"][0] == pytest.approx(predicted["probability"], abs=1e-3)


def test_request_parameters_set_the_operating_point(served):
    body = {"inputs": [_bytes_input(images.jpeg())], "parameters": {"threshold": 0.61}}
    label = {t["name"]: t for t in served.client.post(INFER, json=body).json()["outputs"]}["label"]
    assert label["parameters"] == {"threshold": 0.61, "threshold_source": "request"}


@pytest.mark.parametrize(("body", "status", "words"), [
    ({"inputs": []}, 400, "inputs"),
    ({"inputs": [{"name": "pixels", "shape": [1], "datatype": "BYTES", "data": ["AAAA"]}]}, 400, "'image'"),
    ({"inputs": [{"name": "image", "shape": [2], "datatype": "BYTES", "data": ["AAAA"]}]}, 400, "shape"),
    ({"inputs": [{"name": "image", "shape": [1], "datatype": "BYTES", "data": ["not base64!"]}]}, 400, "base64"),
    ({"inputs": [{"name": "image", "shape": [1], "datatype": "FP32", "data": [1.0]}]}, 400, "datatype"),
    ({"inputs": [{"name": "image", "shape": [1, 2, 2, 3], "datatype": "UINT8", "data": [1] * 11}]}, 400, "integers"),
    ({"inputs": [{"name": "image", "shape": [1, 8, 8, 3], "datatype": "UINT8", "data": [2**70] * 192}]}, 400,
     "integers"),
    ({"inputs": [{"name": "image", "shape": [1, 8, 8, 3], "datatype": "UINT8", "data": [1.5] * 192}]}, 400,
     "integers"),
    ({"inputs": [{"name": "image", "shape": [1, 20, 20, 3], "datatype": "UINT8", "data": [300] * 1200}]}, 400,
     "0-255"),
    # over MAX_IMAGE_PIXELS: the 413 an uploaded image of that size gets, refused before its data is read
    ({"inputs": [{"name": "image", "shape": [1, 7000, 7000, 3], "datatype": "UINT8", "data": []}]}, 413,
     "7000x7000 = 49000000 pixels; the limit is"),
    ({"inputs": [{"name": "image", "shape": [1], "datatype": "BYTES", "data": ["bm90IGFuIGltYWdl"]}]}, 422,
     "recognisable"),
    ({"inputs": [{"name": "image", "shape": [1], "datatype": "BYTES", "data": ["AAAA"]}],
      "outputs": [{"name": "score"}]}, 400, "unknown output"),
])
def test_bad_requests_get_the_protocols_error_body(served, body, status, words):
    response = served.client.post(INFER, json=body)
    assert response.status_code == status, response.text
    assert set(response.json()) == {"error"} and words in response.json()["error"]


def test_an_unknown_model_is_a_404(served):
    response = served.client.post("/v2/models/other/infer", json={"inputs": [_bytes_input(images.jpeg())]})
    assert response.status_code == 404 and "other" in response.json()["error"]
    assert served.client.get("/v2/models/other").status_code == 404


def test_not_ready_is_the_protocols_4xx(make_settings):
    with serving(make_settings(), FakeOpener(hold=True), wait=False) as running:
        assert running.client.get("/v2/health/ready").status_code == 400
        loading = running.client.get(f"/v2/models/{MODEL}/ready")
        assert loading.status_code == 400 and loading.json() == {"name": MODEL, "ready": False}
        response = running.client.post(INFER, json={"inputs": [_bytes_input(images.jpeg())]})
        assert response.status_code == 503 and "loading" in response.json()["error"]
        running.opener.release.set()


def test_openapi_documents_the_not_ready_body_and_the_404_error_body(served):
    paths = served.client.get("/openapi.json").json()["paths"]
    for path in ("/v2/health/ready", "/v2/models/{name}/ready"):
        schema = paths[path]["get"]["responses"]["400"]["content"]["application/json"]["schema"]
        assert schema["properties"]["ready"] == {"type": "boolean", "const": False}
        assert "error" not in schema["properties"]
    assert "error" in paths["/v2/models/{name}/ready"]["get"]["responses"]["404"]["content"]["application/json"][
        "schema"]["properties"]


def test_malformed_json_is_a_400(served):
    response = served.client.post(INFER, content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and "error" in response.json()

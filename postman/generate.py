"""Write the Postman collection (v2.1) of every endpoint: `python -m postman.generate`.

The requests and their example responses are built from the service's own OpenAPI document and schema
examples, so the collection cannot name an endpoint or field the service does not have;
tests/postman/test_collection.py checks that the committed file is what this script writes, and runs every
request against a live server.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from service.api.schemas import DISCLAIMER, PREDICTION_EXAMPLE
from service.version import SERVICE_VERSION

MODEL_VERSION = PREDICTION_EXAMPLE["model"]["version"]  # the examples quote the one version the API examples show

REPO_ROOT = Path(__file__).resolve().parents[1]
COLLECTION = REPO_ROOT / "postman" / "skin-cancer-detector.postman_collection.json"
SCHEMA = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
SAMPLE = "samples/mel_ISIC_0024310.jpg"
SECOND_SAMPLE = "samples/nv_ISIC_0024306.jpg"
API_KEY_HEADER = {"key": "X-API-Key", "value": "{{apiKey}}", "type": "text",
                  "description": "Only needed when the server has API_KEY set; leave apiKey empty otherwise."}


def url(path: str, query: dict[str, str] | None = None) -> dict:
    parts = [part for part in path.strip("/").split("/") if part]
    raw = "{{baseUrl}}/" + "/".join(parts) + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")
    built = {"raw": raw, "host": ["{{baseUrl}}"], "path": parts}
    if query:
        built["query"] = [{"key": key, "value": value} for key, value in query.items()]
    return built


def example(name: str, status: int, body: dict | str, content_type: str = "application/json") -> dict:
    return {"name": name, "status": {200: "OK", 406: "Not Acceptable", 422: "Unprocessable Content"}[status],
            "code": status, "_postman_previewlanguage": "json",
            "header": [{"key": "Content-Type", "value": content_type}],
            "body": body if isinstance(body, str) else json.dumps(body, indent=2)}


def request(name: str, method: str, path: str, description: str, *, query: dict | None = None,
            form: list[dict] | None = None, raw_json: dict | None = None, headers: list[dict] | None = None,
            auth: bool = True, examples: list[dict] | None = None) -> dict:
    item: dict = {"name": name, "request": {"method": method, "header": [*(headers or []),
                                                                          *([API_KEY_HEADER] if auth else [])],
                                            "url": url(path, query), "description": description}}
    if form is not None:
        item["request"]["body"] = {"mode": "formdata", "formdata": form}
    if raw_json is not None:
        item["request"]["body"] = {"mode": "raw", "raw": json.dumps(raw_json, indent=2),
                                   "options": {"raw": {"language": "json"}}}
    item["response"] = examples or []
    return item


def file_field(key: str, src: str) -> dict:
    return {"key": key, "type": "file", "src": src}


def prediction_items() -> list[dict]:
    predicted = {key: value for key, value in PREDICTION_EXAMPLE.items()}
    problem = {"type": "urn:skin-cancer-detector:problem:invalid-image", "title": "Invalid image", "status": 422,
               "detail": "the data is not a recognisable image", "instance": "/predict",
               "request_id": "4f9c1e0a7b2d4c58a1d3e5f7a9b1c3d5"}
    return [
        request("Predict (upload)", "POST", "/predict",
                "Classify one dermoscopy image: cancer probability, verdict, seven-class differential, warnings.",
                form=[file_field("file", SAMPLE)],
                examples=[example("A prediction", 200, predicted),
                          example("Not an image", 422, problem, "application/problem+json")]),
        request("Predict at the high-sensitivity operating point", "POST", "/predict",
                "The bundle's second, lower threshold: fewer missed cancers, more false alarms.",
                query={"operating_point": "high_sensitivity"}, form=[file_field("file", SAMPLE)],
                examples=[example("At the high-sensitivity threshold", 200,
                                  {**predicted, "threshold": 0.18, "threshold_source": "high_sensitivity"})]),
        request("Predict with your own threshold", "POST", "/predict",
                "threshold=0.61 sets a stricter threshold of your own; the answer reports threshold_source=request.",
                query={"threshold": "0.61"}, form=[file_field("file", SAMPLE)],
                examples=[example("At threshold 0.61", 200,
                                  {**predicted, "threshold": 0.61, "threshold_source": "request",
                                   "label": "cancerous", "is_cancerous": True})]),
        request("Predict as a FHIR DiagnosticReport", "POST", "/predict",
                "Accept: application/fhir+json answers a FHIR R4 DiagnosticReport; subject and identifier pass "
                "through.",
                query={"subject": "Patient/123", "identifier": "order-42"},
                headers=[{"key": "Accept", "value": "application/fhir+json", "type": "text"}],
                form=[file_field("file", SAMPLE)],
                examples=[example("A preliminary report", 200, {
                    "resourceType": "DiagnosticReport", "status": "preliminary",
                    "meta": {"security": [{"code": "AIAST"}]}, "subject": {"reference": "Patient/123"},
                    "conclusion": "AI suggestion: cancerous ... Decision support, not a diagnosis."},
                    "application/fhir+json")]),
        request("Predict (image URL)", "POST", "/predict-url",
                "The service downloads a public http(s) image through its SSRF guard (private addresses are refused).",
                raw_json={"url": "{{imageUrl}}"},
                headers=[{"key": "Content-Type", "value": "application/json", "type": "text"}],
                examples=[example("A prediction", 200, {**predicted, "timing": {**predicted["timing"],
                                                                                 "fetch_ms": 120.0}})]),
        request("Predict a batch", "POST", "/predict/batch",
                "Up to MAX_BATCH_FILES images as repeated `files` fields; a bad item fails alone.",
                form=[file_field("files", SAMPLE), file_field("files", SECOND_SAMPLE)],
                examples=[example("Two results", 200, {
                    "request_id": predicted["request_id"], "model": predicted["model"], "succeeded": 2, "failed": 0,
                    "items": [{"index": 0, "filename": "mel_ISIC_0024310.jpg", "result": {
                        k: predicted[k] for k in ("probability", "label", "is_cancerous", "threshold",
                                                  "threshold_source", "high_sensitivity", "differential", "warnings")},
                        "problem": None}],
                    "timing": predicted["timing"], "disclaimer": DISCLAIMER})]),
        request("Explain (LayerCAM overlay)", "POST", "/gradcam",
                "The prediction plus the map of the evidence for the predicted class, in the image's aspect ratio. "
                "target=cancerous|non-cancerous picks another class; include_raw=true adds the raw map; "
                "heatmap_format=png sends the overlay as a lossless PNG instead of a JPEG.",
                query={"target": "predicted", "include_raw": "false", "heatmap_format": "jpeg"},
                form=[file_field("file", SAMPLE)],
                examples=[example("A prediction with its map", 200, {
                    **predicted, "heatmap_base64": "/9j/4AAQSkZJRgABAQAAAQABAAD...",
                    "heatmap_media_type": "image/jpeg", "heatmap_width": 200,
                    "heatmap_height": 150, "explanation": {"method": "layercam", "layer": "block5c_add",
                                                           "target": "cancerous", "peak": 3.1, "strength": 0.8,
                                                           "display_scale": 3.9, "empty": False,
                                                           "message": "The coloured regions are where ..."}})]),
    ]


def open_inference_items() -> list[dict]:
    encoded = base64.b64encode((REPO_ROOT / SAMPLE).read_bytes()).decode("ascii")
    infer = {"id": "postman-1", "inputs": [{"name": "image", "shape": [1], "datatype": "BYTES", "data": [encoded]}]}
    return [
        request("OIP: server live", "GET", "/v2/health/live", "Open Inference Protocol liveness.", auth=False,
                examples=[example("Live", 200, {"live": True})]),
        request("OIP: server ready", "GET", "/v2/health/ready", "200 once the model is ready (400 before).",
                auth=False, examples=[example("Ready", 200, {"ready": True})]),
        request("OIP: model metadata", "GET", "/v2/models/{{modelName}}", "Inputs and outputs of the model.",
                examples=[example("Metadata", 200, {"name": "skin-cancer-detector", "versions": [MODEL_VERSION],
                                                    "platform": "litert", "inputs": [], "outputs": []})]),
        request("OIP: model ready", "GET", "/v2/models/{{modelName}}/ready", "Readiness of this model.",
                examples=[example("Ready", 200, {"name": "skin-cancer-detector", "ready": True})]),
        request("OIP: infer", "POST", "/v2/models/{{modelName}}/infer",
                "The image file base64-encoded as a BYTES input named image (a UINT8 [1,H,W,3] tensor works too).",
                raw_json=infer, headers=[{"key": "Content-Type", "value": "application/json", "type": "text"}],
                examples=[example("Outputs", 200, {"model_name": "skin-cancer-detector", "model_version": MODEL_VERSION,
                                                   "id": "postman-1", "outputs": [
                                                       {"name": "probability", "datatype": "FP32", "shape": [1, 1],
                                                        "data": [0.62]}]})]),
    ]


def operations_items() -> list[dict]:
    return [
        request("Liveness", "GET", "/healthz", "The process serves.", auth=False,
                examples=[example("Alive", 200, {"status": "alive"})]),
        request("Readiness", "GET", "/readyz", "The model is loaded (503 problem until then).", auth=False,
                examples=[example("Ready", 200,
                                  {"status": "ready", "model_version": MODEL_VERSION, "engine": "litert"})]),
        request("Model", "GET", "/v1/model", "Version, diagnoses, thresholds, explanation and input-check settings.",
                examples=[example("The served bundle", 200, {"id": "skin-cancer-detector", "version": MODEL_VERSION})]),
        request("Metrics", "GET", "/metrics", "Prometheus text.", auth=False),
        request("OpenAPI document", "GET", "/openapi.json", "The API's OpenAPI 3.1 document.", auth=False),
        request("Interactive docs", "GET", "/docs", "Swagger UI, served offline.", auth=False),
    ]


def collection() -> dict:
    return {
        "info": {"name": "Skin cancer detector", "schema": SCHEMA,
                 "_postman_id": "6d1f5c52-2b3e-4c55-9a52-3f0e8b7a1c2d",
                 "description": f"Every endpoint of the skin-cancer-detector service {SERVICE_VERSION.split('+')[0]}."
                                " Decision support, not a diagnosis. Set baseUrl (and apiKey when the server has"
                                " API_KEY). File fields point at the repository's samples/ images: run from the"
                                " repository root, or pick a file."},
        "variable": [
            {"key": "baseUrl", "value": "http://127.0.0.1:8000", "type": "string"},
            {"key": "apiKey", "value": "", "type": "string"},
            {"key": "modelName", "value": "skin-cancer-detector", "type": "string"},
            {"key": "imageUrl", "value": "https://example.org/lesion.jpg", "type": "string"},
        ],
        "item": [
            {"name": "Prediction", "item": prediction_items()},
            {"name": "Open Inference Protocol (KServe v2)", "item": open_inference_items()},
            {"name": "Operations", "item": operations_items()},
        ],
    }


def render() -> str:
    return json.dumps(collection(), indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    from contract.bundle import write_bytes_atomically

    write_bytes_atomically(COLLECTION, render().encode())
    print(f"wrote {COLLECTION.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()

"""Typed request and response bodies (what the OpenAPI document shows)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from contract.schema import InputSpec

DISCLAIMER = (
    "Decision support, not a diagnosis: this research model's output must be interpreted by a qualified "
    "clinician together with the full clinical picture. It is not a medical device."
)
Label = Literal["cancerous", "non-cancerous"]


class UrlRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"url": "https://example.org/lesion.jpg"}]})

    url: str = Field(min_length=1, max_length=2048, description="http(s) URL of a dermoscopy image.")


class OperatingPointVerdict(BaseModel):
    threshold: float = Field(description="Positive when probability >= threshold.")
    is_cancerous: bool
    label: Label


class ModelRef(BaseModel):
    id: str = Field(description="Model name from the bundle's contract.")
    version: str
    backbone: str
    engine: str = Field(description='"litert" (fast path) or "keras" (fallback).')


class Timing(BaseModel):
    preprocess_ms: float
    inference_ms: float = Field(description="Time in the model runtime (shared by a batch).")
    fetch_ms: float | None = Field(None, description="URL download time, for URL requests.")
    heatmap_ms: float | None = Field(None, description="Grad-CAM drawing time, for /gradcam.")
    total_ms: float = Field(description="Server time since the request arrived.")


class Classification(BaseModel):
    probability: float = Field(ge=0.0, le=1.0, description="Model probability that the lesion is cancerous.")
    label: Label
    is_cancerous: bool
    threshold: float = Field(description="Decision threshold used for label / is_cancerous.")
    threshold_source: Literal["configuration", "bundle", "fallback"]
    high_sensitivity: OperatingPointVerdict | None = Field(
        None, description="Verdict at the bundle's high-sensitivity threshold; null when the bundle has none."
    )


_PREDICTION_EXAMPLE = {
    "request_id": "4f9c1e0a7b2d4c58a1d3e5f7a9b1c3d5",
    "probability": 0.83,
    "label": "cancerous",
    "is_cancerous": True,
    "threshold": 0.61,
    "threshold_source": "bundle",
    "high_sensitivity": {"threshold": 0.3, "is_cancerous": True, "label": "cancerous"},
    "model": {
        "id": "skin-cancer-detector", "version": "1.1.0", "backbone": "efficientnet_lite0", "engine": "litert"
    },
    "timing": {
        "preprocess_ms": 4.1, "inference_ms": 38.5, "fetch_ms": None, "heatmap_ms": None, "total_ms": 45.2
    },
    "disclaimer": DISCLAIMER,
}


class PredictionResponse(Classification):
    model_config = ConfigDict(json_schema_extra={"examples": [_PREDICTION_EXAMPLE]})

    request_id: str
    model: ModelRef
    timing: Timing
    disclaimer: str = DISCLAIMER


class GradcamResponse(PredictionResponse):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {**_PREDICTION_EXAMPLE, "heatmap_png_base64": "iVBORw0KGgoAAAANSUhEUgAA...", "cam": None}
            ]
        }
    )

    heatmap_png_base64: str = Field(
        description="PNG (base64) of the Grad-CAM heatmap blended over the resized model input."
    )
    heatmap_size: int = Field(description="Side of the square heatmap PNG in pixels (the model input size).")
    cam: list[list[float]] | None = Field(
        None, description="Raw (unnormalised, ReLU'd) Grad-CAM grid, G x G; only with ?include_raw=true."
    )


class Problem(BaseModel):
    """RFC 7807 problem details (media type application/problem+json)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": "urn:skin-cancer-detector:problem:invalid-image",
                    "title": "Invalid image",
                    "status": 422,
                    "detail": "the PNG data is truncated or corrupt",
                    "instance": "/predict",
                    "request_id": "4f9c1e0a7b2d4c58a1d3e5f7a9b1c3d5",
                }
            ]
        },
    )

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    request_id: str | None = None


class BatchItem(BaseModel):
    index: int = Field(description="Position of the file in the request.")
    filename: str | None
    result: Classification | None = Field(None, description="The verdict; null when this item failed.")
    problem: Problem | None = Field(None, description="Why this item failed; null when it succeeded.")


class BatchResponse(BaseModel):
    request_id: str
    model: ModelRef
    items: list[BatchItem]
    succeeded: int
    failed: int
    timing: Timing = Field(description="preprocess_ms summed over items; inference_ms: the one engine call.")
    disclaimer: str = DISCLAIMER


class Liveness(BaseModel):
    status: Literal["alive"] = "alive"


class Readiness(BaseModel):
    status: Literal["ready"] = "ready"
    model_version: str
    engine: str


class OperatingPointInfo(BaseModel):
    threshold: float
    criterion: str | None = None
    sensitivity: float | None = None
    specificity: float | None = None
    precision: float | None = None


class ThresholdInfo(BaseModel):
    decision: float = Field(description="The threshold in use.")
    source: Literal["configuration", "bundle", "fallback"]
    bundle: OperatingPointInfo | None = Field(description="threshold.json's tuned point; null if absent.")
    high_sensitivity: OperatingPointInfo | None


class ModelInfo(BaseModel):
    id: str
    version: str
    created_at: str
    backbone: str
    backbone_weights: str
    engine: str
    input: InputSpec
    cam_grid: int
    gradcam_layer: str
    thresholds: ThresholdInfo
    files: dict[str, str] = Field(description="File name -> sha256, as verified at load.")
    test_metrics: dict[str, float]
    licence: str

"""Typed request and response bodies (what the OpenAPI document shows)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from contract.schema import ExplanationSpec, InputCheckSpec, InputSpec
from service.inference.decision import ThresholdSource
from service.inference.input_check import WarningCode

DISCLAIMER = (
    "Decision support, not a diagnosis: this research model's output must be interpreted by a qualified "
    "clinician together with the full clinical picture. It is not a medical device."
)
Label = Literal["cancerous", "non-cancerous"]
ThresholdSourceName = ThresholdSource  # where the threshold in use came from (service.inference.decision)


class UrlRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"url": "https://example.org/lesion.jpg"}]})

    url: str = Field(min_length=1, max_length=2048, description="http(s) URL of a dermoscopy image.")


class Verdict(BaseModel):
    threshold: float = Field(description="Cancerous when probability >= threshold.")
    is_cancerous: bool
    label: Label


class Diagnosis(BaseModel):
    code: str = Field(description="HAM10000 diagnosis code: akiec, bcc, bkl, df, mel, nv or vasc.")
    name: str
    probability: float = Field(ge=0.0, le=1.0)


class InputWarning(BaseModel):
    code: WarningCode
    detail: str


class ModelRef(BaseModel):
    id: str = Field(description="Model name from the bundle's contract.")
    version: str
    backbone: str
    engine: str = Field(description='"litert" (fast path) or "keras" (fallback).')


class Timing(BaseModel):
    preprocess_ms: float
    inference_ms: float = Field(description="Time in the model runtime (shared by a batch).")
    fetch_ms: float | None = Field(None, description="URL download time, for URL requests.")
    heatmap_ms: float | None = Field(None, description="Explanation drawing time, for /gradcam.")
    total_ms: float = Field(description="Server time since the request arrived.")


class Prediction(BaseModel):
    probability: float = Field(ge=0.0, le=1.0, description="Probability that the lesion is cancerous: the sum of "
                                                            "the differential's mel, bcc and akiec.")
    label: Label
    is_cancerous: bool
    threshold: float = Field(description="Decision threshold used for label / is_cancerous.")
    threshold_source: ThresholdSourceName
    high_sensitivity: Verdict | None = Field(
        None, description="Verdict at the bundle's high-sensitivity threshold; null when the bundle has none."
    )
    differential: list[Diagnosis] = Field(description="All seven diagnoses, most probable first; sums to 1.")
    warnings: list[InputWarning] = Field(description="Empty when the input check found nothing; read them first.")


PREDICTION_EXAMPLE: dict[str, Any] = {
    "probability": 0.62,
    "label": "cancerous",
    "is_cancerous": True,
    "threshold": 0.25,
    "threshold_source": "bundle",
    "high_sensitivity": {"threshold": 0.18, "is_cancerous": True, "label": "cancerous"},
    "differential": [
        {"code": "mel", "name": "Melanoma", "probability": 0.55},
        {"code": "nv", "name": "Melanocytic nevus", "probability": 0.3},
        {"code": "bkl", "name": "Benign keratosis-like lesion", "probability": 0.07},
        {"code": "bcc", "name": "Basal cell carcinoma", "probability": 0.05},
        {"code": "akiec", "name": "Actinic keratosis / intraepithelial carcinoma", "probability": 0.02},
        {"code": "df", "name": "Dermatofibroma", "probability": 0.006},
        {"code": "vasc", "name": "Vascular lesion", "probability": 0.004},
    ],
    "warnings": [],
    "request_id": "4f9c1e0a7b2d4c58a1d3e5f7a9b1c3d5",
    "model": {
        "id": "skin-cancer-detector", "version": "2.2.0", "backbone": "efficientnet_lite0", "engine": "litert"
    },
    "timing": {
        "preprocess_ms": 1.1, "inference_ms": 4.2, "fetch_ms": None, "heatmap_ms": None, "total_ms": 5.9
    },
    "disclaimer": DISCLAIMER,
}


class PredictionResponse(Prediction):
    model_config = ConfigDict(json_schema_extra={"examples": [PREDICTION_EXAMPLE]})

    request_id: str
    model: ModelRef
    timing: Timing
    disclaimer: str = DISCLAIMER


class ExplanationInfo(BaseModel):
    method: Literal["layercam"]
    layer: str = Field(description="The backbone layer the map comes from.")
    target: Label = Field(description="The class whose evidence the map shows.")
    peak: float = Field(description="The raw map's maximum.")
    strength: float = Field(description="peak / display_scale: about 1 for a strong map on validation images.")
    display_scale: float = Field(description="The raw value drawn at full colour; the same for every image.")
    empty: bool = Field(description="True when no region stood out (peak below the bundle's empty level).")
    message: str = Field(description="What to read from the map, in words.")


class GradcamResponse(PredictionResponse):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{**PREDICTION_EXAMPLE, "heatmap_base64": "/9j/4AAQSkZJRgABAQAAAQABAAD...",
                          "heatmap_media_type": "image/jpeg",
                          "heatmap_width": 256, "heatmap_height": 192,
                          "explanation": {"method": "layercam", "layer": "block5c_add", "target": "cancerous",
                                          "peak": 3.1, "strength": 0.8, "display_scale": 3.9, "empty": False,
                                          "message": "The coloured regions drove the cancerous call."}}]
        }
    )

    heatmap_base64: str = Field(
        description="The explanation map over the image, in its own aspect ratio: the image file's bytes in base64 "
                    "(no data: prefix), in the format that heatmap_media_type names."
    )
    heatmap_media_type: Literal["image/jpeg", "image/png"] = Field(
        description="image/jpeg by default; image/png (lossless) with ?heatmap_format=png."
    )
    heatmap_width: int
    heatmap_height: int
    explanation: ExplanationInfo
    cam: list[list[float]] | None = Field(
        None, description="The raw map at its native grid (g x g); present only with ?include_raw=true."
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
    result: Prediction | None = Field(None, description="The prediction; null when this item failed.")
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


class OperatingPoint(BaseModel):
    threshold: float
    criterion: str | None = None
    sensitivity: float | None = None
    specificity: float | None = None
    precision: float | None = None


class Thresholds(BaseModel):
    decision: float = Field(description="The threshold in use.")
    source: ThresholdSourceName
    bundle: OperatingPoint | None = Field(description="threshold.json's tuned point (validation); null if absent.")
    high_sensitivity: OperatingPoint | None


class DiagnosisInfo(BaseModel):
    code: str
    name: str
    cancerous: bool


class ModelInfo(BaseModel):
    id: str
    version: str
    created_at: str
    backbone: str
    backbone_weights: str
    engine: str
    input: InputSpec
    diagnoses: list[DiagnosisInfo] = Field(description="The differential's classes, in the model's output order.")
    explanation: ExplanationSpec
    input_check: InputCheckSpec = Field(description="The input check's limits (see the README's Input check).")
    thresholds: Thresholds
    files: dict[str, str] = Field(description="File name -> sha256, as verified at load.")
    test_metrics: dict[str, float]
    licence: str

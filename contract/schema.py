"""The bundle's contract, as typed schemas: one definition read by training and serving.

A bundle directory holds the files named in `BundleFiles`; `contract.json` is written last
and lists every other file's sha256, so a reader can tell a complete bundle from a torn one.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1
FALLBACK_THRESHOLD = 0.61  # the seed project's tuned value, used only when a bundle has none
POSITIVE_DIAGNOSES = frozenset({"mel", "bcc", "akiec"})
NEGATIVE_DIAGNOSES = frozenset({"nv", "bkl", "df", "vasc"})
POSITIVE_LABEL = "cancerous"
NEGATIVE_LABEL = "non-cancerous"


class BundleFiles:
    """File names inside a model bundle directory."""

    KERAS_MODEL = "skin_cancer_detector.keras"
    LITERT_MODEL = "model.tflite"
    CONTRACT = "contract.json"
    THRESHOLD = "threshold.json"
    METRICS = "metrics.json"
    SPLIT_MANIFEST = "split_manifest.csv"
    TRAINING_HISTORY = "history.json"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", protected_namespaces=())


class InputSpec(_Frozen):
    """What the model's input tensor means. Preprocessing produces exactly this."""

    image_size: int = Field(ge=32, le=1024, description="Square side in pixels.")
    layout: Literal["NHWC"] = "NHWC"
    color_order: Literal["RGB"] = "RGB"
    dtype: Literal["float32"] = "float32"
    value_range: tuple[float, float] = (0.0, 255.0)
    resize: Literal["squash-bilinear-antialias"] = "squash-bilinear-antialias"
    exif_orientation: Literal["applied"] = "applied"


class OutputSpec(_Frozen):
    """What the LiteRT/Keras explainer outputs are."""

    probability: str = "sigmoid probability that the lesion is cancerous (mel, bcc, akiec)"
    cam_grid: int = Field(ge=1, description="Side of the Grad-CAM grid (e.g. 7 at 224 px).")
    positive_label: str = POSITIVE_LABEL
    negative_label: str = NEGATIVE_LABEL


class OperatingPoint(_Frozen):
    """A threshold and what it achieved on the split it was tuned on."""

    threshold: float = Field(ge=0.0, le=1.0)
    criterion: str
    sensitivity: float
    specificity: float
    precision: float


class ThresholdReport(_Frozen):
    """threshold.json: the decision thresholds, tuned on validation only."""

    threshold: float = Field(ge=0.0, le=1.0)
    criterion: str
    split: Literal["validation"] = "validation"
    sensitivity: float
    specificity: float
    precision: float
    high_sensitivity: OperatingPoint
    model_sha256: str


class ModelContract(_Frozen):
    """contract.json: identity, input/output meaning, provenance and file hashes of one bundle."""

    schema_version: Literal[1] = SCHEMA_VERSION
    model_name: str = "skin-cancer-detector"
    model_version: str
    created_at: str
    backbone: str
    backbone_weights: str = Field(description="Where the backbone's initial weights came from.")
    input: InputSpec
    output: OutputSpec
    gradcam_layer: str
    files: dict[str, str] = Field(description="File name -> sha256 of every file in the bundle.")
    training: dict[str, object] = Field(default_factory=dict, description="The training config used.")
    test_metrics: dict[str, float] = Field(default_factory=dict)
    licence: str = "Model weights trained on HAM10000 (CC BY-NC 4.0): non-commercial use only."

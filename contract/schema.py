"""The bundle's contract, as typed schemas: one definition read by training and serving.

A bundle directory holds the files named in `BundleFiles`; `contract.json` is written last
and lists the sha256 of every file the training run wrote, so a reader can tell a complete bundle from a
torn one. Schema 2 (model 2.0): seven diagnoses, the LayerCAM explanation and the input check.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from contract.diagnoses import CANCEROUS_CODES, NON_CANCEROUS_CODES

SCHEMA_VERSION: Literal[2] = 2
# MAJOR.MINOR.PATCH with an optional pre-release and build (semver.org), so clients can compare versions.
_NUMBER = r"(?:0|[1-9][0-9]*)"  # no leading zeros
_PRE_RELEASE_PART = rf"(?:{_NUMBER}|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
SEMANTIC_VERSION = (rf"^{_NUMBER}\.{_NUMBER}\.{_NUMBER}(?:-{_PRE_RELEASE_PART}(?:\.{_PRE_RELEASE_PART})*)?"
                    r"(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$")
FALLBACK_THRESHOLD = 0.61  # the seed project's tuned value, used only when a bundle has none
POSITIVE_DIAGNOSES = CANCEROUS_CODES
NEGATIVE_DIAGNOSES = NON_CANCEROUS_CODES
POSITIVE_LABEL = "cancerous"
NEGATIVE_LABEL = "non-cancerous"


class ModelLayers:
    """Names of the layers that training builds and the explainer, calibration and export look up."""

    FEATURES = "top_activation"  # the backbone's last conv activation (Lite0 and B0 both name it so)
    POOLED = "head_pool"  # global average of FEATURES: the input-check statistics are fitted on it
    HEAD_NORM = "head_bn"
    HEAD_HIDDEN = "head_dense"
    LOGITS = "head_logits"  # one logit per diagnosis; calibration is folded into its kernel and bias
    PROBABILITIES = "head_probabilities"  # softmax over LOGITS
    HEAD_PREFIX = "head_"


class LiteRTSignature:
    """The signatures of model.tflite and their tensor names, shared by the exporter and the LiteRT engine.

    `predict` is forward-only (what /predict pays for); `explain` adds the explanation maps.
    """

    PREDICT = "predict"
    EXPLAIN = "explain"
    IMAGES = "images"  # input (N, S, S, 3) float32 RGB 0-255
    PROBABILITIES = "probabilities"  # (N, K) softmax over the diagnoses in output.classes
    FEATURES = "features"  # (N, F) pooled backbone features, for the input check
    CAM_CANCEROUS = "cam_cancerous"  # explain output (N, h, w): raw LayerCAM of what speaks for "cancerous"
    CAM_NON_CANCEROUS = "cam_non_cancerous"  # ... and for "non-cancerous"


class BundleFiles:
    """File names inside a model bundle directory."""

    KERAS_MODEL = "skin_cancer_detector.keras"
    LITERT_MODEL = "model.tflite"
    CONTRACT = "contract.json"
    THRESHOLD = "threshold.json"
    METRICS = "metrics.json"
    SPLIT_MANIFEST = "split_manifest.csv"
    TRAINING_HISTORY = "history.json"
    INPUT_CHECK = "input_check.npz"
    MODEL_CARD = "MODEL_CARD.md"


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
    """What the model's outputs mean."""

    classes: tuple[str, ...] = Field(description="Diagnosis codes of the probability columns, in order.")
    cancer_probability: str = "sum of the probabilities of the cancerous diagnoses (mel, bcc, akiec)"
    feature_dim: int = Field(ge=1, description="Width of the pooled features output (the input check's input).")
    positive_label: str = POSITIVE_LABEL
    negative_label: str = NEGATIVE_LABEL


class ExplanationSpec(_Frozen):
    """The explanation map: how it is computed, and the one absolute scale it is shown on."""

    method: Literal["layercam"] = "layercam"
    layer: str = Field(description="The backbone layer whose activations and gradients make the map.")
    grid: int = Field(ge=1, description="Side of the raw map (12 at 192 px for a stride-16 layer).")
    score: str = "log(P(cancerous) / P(non-cancerous)) for the cancerous map, its negative for the other"
    display_scale: float = Field(gt=0, description="Raw value drawn at full colour: the validation split's "
                                                   "95th percentile of map peaks, or 1 where those peaks are rounding "
                                                   "noise (below training's signal floor): shown as empty.")
    empty_below: float = Field(ge=0, description="A map whose peak is below this shows 'no region stood out': "
                                                 "5 % of display_scale.")


class InputCheckSpec(_Frozen):
    """The input check: out-of-distribution distance and image-quality limits, chosen on HAM10000 data."""

    distance_threshold: float = Field(gt=0, description="Mahalanobis distance above which an image is flagged.")
    distance_percentile: float = Field(description="Percentile of the validation split the threshold sits at.")
    statistics_fitted_on: Literal["train"] = "train"
    principal_directions: int = Field(ge=1, description=(
        "Leading principal directions of the training features' covariance the distance keeps; the others "
        "share one variance."))
    min_short_side: int = Field(ge=1, description="Shorter side in pixels below which low_resolution is raised.")
    min_sharpness: float = Field(description="Laplacian variance below which blurry is raised.")
    min_brightness: float = Field(description="Mean luma (0-255) below which underexposed is raised.")
    max_brightness: float = Field(description="Mean luma (0-255) above which overexposed is raised.")
    # optional, so that bundles exported before the noise check still load (and are checked without it)
    max_noise: float | None = Field(default=None, description=(
        "Estimated pixel noise (standard deviation, luma grey levels) above which noisy is raised; absent in "
        "bundles exported before the check existed, which are not checked for noise."))
    quality_percentiles: tuple[float, float] = Field(description="Training-split percentiles of the quality limits.")


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

    schema_version: Literal[2] = SCHEMA_VERSION
    model_name: str = "skin-cancer-detector"
    model_version: str = Field(pattern=SEMANTIC_VERSION, description="Semantic version of the bundle.")
    created_at: str
    backbone: str
    backbone_weights: str = Field(description="Where the backbone's initial weights came from.")
    input: InputSpec
    output: OutputSpec
    explanation: ExplanationSpec
    input_check: InputCheckSpec
    files: dict[str, str] = Field(description="File name -> sha256 of every file the training run wrote.")
    training: dict[str, object] = Field(default_factory=dict, description="The training config used.")
    test_metrics: dict[str, float] = Field(default_factory=dict)
    licence: str = "Model weights trained on HAM10000 (CC BY-NC 4.0): non-commercial use only."

"""A fake engine and bundle, so transport tests run without TensorFlow or a trained model."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from contract.diagnoses import CLASS_CODES, class_index
from contract.input_check import FeatureStatistics
from contract.schema import (
    ExplanationSpec,
    InputCheckSpec,
    InputSpec,
    ModelContract,
    OperatingPoint,
    OutputSpec,
    ThresholdReport,
)
from service.core.config import Settings
from service.inference.bundle_loader import LoadedBundle
from service.inference.engine import Explained, Forward, OutputShape
from service.inference.input_check import InputCheck

IMAGE_SIZE = 32
WARM_UP_CALLS = 2  # the model warms both signatures (predict and explain) before it declares itself ready
GRID = 4
FEATURES = 3  # the mean R, G, B of the image
DISPLAY_SCALE = 100.0


class FakeEngine:
    """Brightness is the evidence: the melanoma probability is the mean brightness, the rest goes to nevus;
    features are the mean colour; both maps are the brightness pooled to a 4x4 grid. Records what it saw."""

    name = "fake"

    def __init__(self) -> None:
        self.calls: list[np.ndarray] = []
        self.fail_with: Exception | None = None
        self.hold: threading.Event | None = None  # while set to an unset event, every call waits for it
        self._lock = threading.Lock()
        self._shape = OutputShape(len(CLASS_CODES), FEATURES, GRID)

    def _record(self, images: np.ndarray) -> None:
        with self._lock:
            self.calls.append(images.copy())
        if self.hold is not None:
            self.hold.wait(10)
        if self.fail_with is not None:
            raise self.fail_with

    def predict(self, images: np.ndarray) -> Forward:
        self._record(images)
        return self._shape.forward(fake_probabilities(images), images.mean(axis=(1, 2)), len(images))

    def explain(self, images: np.ndarray) -> Explained:
        self._record(images)
        batch = len(images)
        pooled = images.mean(axis=-1).reshape(batch, GRID, IMAGE_SIZE // GRID, GRID, -1).mean(axis=(2, 4))
        return self._shape.explained(fake_probabilities(images), images.mean(axis=(1, 2)), pooled,
                                     255.0 - pooled, batch)

    def close(self) -> None:
        pass


def fake_probabilities(images: np.ndarray) -> np.ndarray:
    melanoma = images.mean(axis=(1, 2, 3)) / 255.0
    probabilities = np.zeros((len(images), len(CLASS_CODES)), dtype=np.float32)
    probabilities[:, class_index("mel")] = melanoma
    probabilities[:, class_index("nv")] = 1.0 - melanoma
    return probabilities


def fake_input_check_spec(**overrides: float | None) -> InputCheckSpec:
    values = {"distance_threshold": 1000.0, "distance_percentile": 99.0, "principal_directions": FEATURES,
              "min_short_side": 16,
              "min_sharpness": 0.0, "min_brightness": 0.0, "max_brightness": 255.0, "max_noise": 255.0,
              "quality_percentiles": (0.5, 99.5)}
    return InputCheckSpec(**{**values, **overrides})


def fake_contract(**input_check: float | None) -> ModelContract:
    return ModelContract(
        model_version="9.9.9-fake",
        created_at="2025-01-01T00:00:00+00:00",
        backbone="fake-backbone",
        backbone_weights="none",
        input=InputSpec(image_size=IMAGE_SIZE),
        output=OutputSpec(classes=CLASS_CODES, feature_dim=FEATURES),
        explanation=ExplanationSpec(layer="fake_layer", grid=GRID, display_scale=DISPLAY_SCALE, empty_below=5.0),
        input_check=fake_input_check_spec(**input_check),
        files={},
        test_metrics={"roc_auc": 0.9},
    )


def fake_thresholds(threshold: float = 0.5, high_sensitivity: float = 0.2) -> ThresholdReport:
    point = OperatingPoint(
        threshold=high_sensitivity, criterion="sens>=0.9", sensitivity=0.9, specificity=0.5, precision=0.4
    )
    return ThresholdReport(
        threshold=threshold,
        criterion="youden",
        sensitivity=0.8,
        specificity=0.7,
        precision=0.6,
        high_sensitivity=point,
        model_sha256="0" * 64,
    )


def fake_statistics() -> FeatureStatistics:
    """Distance = |mean colour - mid grey| / 1: a saturated colour is 'foreign' under a low threshold."""
    return FeatureStatistics(np.full(FEATURES, 127.5, dtype=np.float32), np.eye(FEATURES, dtype=np.float32),
                             np.ones(FEATURES, dtype=np.float32), 1.0)


class FakeOpener:
    """Stands in for open_bundle; can be held back to observe the 'loading' state."""

    def __init__(
        self,
        engine: FakeEngine | None = None,
        thresholds: ThresholdReport | None = None,
        *,
        hold: bool = False,
        contract: ModelContract | None = None,
    ):
        self.engine = engine or FakeEngine()
        self.thresholds = thresholds if thresholds is not None else fake_thresholds()
        self.contract = contract or fake_contract()
        self.release = threading.Event()
        if not hold:
            self.release.set()

    def __call__(self, settings: Settings) -> LoadedBundle:
        self.release.wait(timeout=30)
        check = InputCheck(self.contract.input_check, fake_statistics())
        return LoadedBundle(Path(settings.model_dir), self.contract, self.thresholds, self.engine, check)

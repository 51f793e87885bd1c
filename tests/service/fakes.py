"""A fake engine and bundle, so transport tests run without TensorFlow or a trained model."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from contract.schema import InputSpec, ModelContract, OperatingPoint, OutputSpec, ThresholdReport
from service.core.config import Settings
from service.inference.bundle_loader import LoadedBundle
from service.inference.engine import EngineOutput, checked_output

IMAGE_SIZE = 32
CAM_GRID = 4


class FakeEngine:
    """probability = mean brightness; CAM = brightness pooled to a 4x4 grid. Records what it saw."""

    name = "fake"

    def __init__(self) -> None:
        self.calls: list[np.ndarray] = []
        self.fail_with: Exception | None = None
        self._lock = threading.Lock()

    def infer(self, images: np.ndarray) -> EngineOutput:
        with self._lock:
            self.calls.append(images.copy())
        if self.fail_with is not None:
            raise self.fail_with
        batch = len(images)
        probability = images.mean(axis=(1, 2, 3)) / 255.0
        pooled = images.mean(axis=-1).reshape(batch, CAM_GRID, IMAGE_SIZE // CAM_GRID, CAM_GRID, -1)
        return checked_output(probability[:, None], pooled.mean(axis=(2, 4)), batch, CAM_GRID)

    def close(self) -> None:
        pass


def fake_contract() -> ModelContract:
    return ModelContract(
        model_version="9.9.9-fake",
        created_at="2025-01-01T00:00:00+00:00",
        backbone="fake-backbone",
        backbone_weights="none",
        input=InputSpec(image_size=IMAGE_SIZE),
        output=OutputSpec(cam_grid=CAM_GRID),
        gradcam_layer="top_activation",
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


class FakeOpener:
    """Stands in for open_bundle; can be held back to observe the 'loading' state."""

    def __init__(
        self,
        engine: FakeEngine | None = None,
        thresholds: ThresholdReport | None = None,
        *,
        hold: bool = False,
    ):
        self.engine = engine or FakeEngine()
        self.thresholds = thresholds if thresholds is not None else fake_thresholds()
        self.release = threading.Event()
        if not hold:
            self.release.set()

    def __call__(self, settings: Settings) -> LoadedBundle:
        self.release.wait(timeout=30)
        return LoadedBundle(Path(settings.model_dir), fake_contract(), self.thresholds, self.engine)

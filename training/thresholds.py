"""Decision thresholds, tuned on the validation split only."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_curve

from contract.decision import ConfusionRates
from contract.schema import OperatingPoint, ThresholdReport
from training.errors import TrainingError

TARGET_SENSITIVITY = 0.90
YOUDEN = "max Youden's J (sensitivity + specificity - 1) on validation"
HIGH_SENSITIVITY = f"highest threshold with sensitivity >= {TARGET_SENSITIVITY:.2f} on validation"


def operating_point(labels: np.ndarray, scores: np.ndarray, threshold: float, criterion: str) -> OperatingPoint:
    rates = ConfusionRates.at(labels, scores, threshold)
    return OperatingPoint(threshold=float(threshold), criterion=criterion, sensitivity=rates.sensitivity,
                          specificity=rates.specificity, precision=rates.precision)


def youden_threshold(labels: np.ndarray, scores: np.ndarray) -> float:
    false_positive_rate, true_positive_rate, thresholds = roc_curve(labels, scores)
    best = int(np.argmax(true_positive_rate - false_positive_rate))
    return float(np.clip(thresholds[best], 0.0, 1.0))


def high_sensitivity_threshold(labels: np.ndarray, scores: np.ndarray,
                               target: float = TARGET_SENSITIVITY) -> float:
    """The largest threshold that still flags at least `target` of the positives."""
    positive_scores = np.sort(scores[labels == 1])[::-1]
    if positive_scores.size == 0:
        raise TrainingError("no positive examples: cannot set a sensitivity target")
    needed = int(np.ceil(target * positive_scores.size))
    return float(positive_scores[needed - 1])


def tune_thresholds(labels: np.ndarray, scores: np.ndarray, model_sha256: str = "") -> ThresholdReport:
    """The decision and high-sensitivity thresholds; the exporter fills in the model's sha256."""
    if len(np.unique(labels)) < 2:
        raise TrainingError("threshold tuning needs both classes in the validation split")
    decision = youden_threshold(labels, scores)
    chosen = operating_point(labels, scores, decision, YOUDEN)
    # The high-sensitivity point is never above the decision threshold: where the decision point already
    # reaches the target sensitivity, the two coincide.
    sensitive_threshold = high_sensitivity_threshold(labels, scores)
    criterion = HIGH_SENSITIVITY if sensitive_threshold <= decision else f"{HIGH_SENSITIVITY}, capped at the decision"
    sensitive = operating_point(labels, scores, min(sensitive_threshold, decision), criterion)
    return ThresholdReport(
        threshold=chosen.threshold, criterion=chosen.criterion, split="validation",
        sensitivity=chosen.sensitivity, specificity=chosen.specificity, precision=chosen.precision,
        high_sensitivity=sensitive, model_sha256=model_sha256,
    )

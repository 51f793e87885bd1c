"""The decision rule, in one place: a lesion is called cancerous when its probability >= the threshold.

threshold.json is tuned under this rule; evaluation counts, the service's verdict and the plots all use it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from contract.schema import FALLBACK_THRESHOLD, ThresholdReport


def is_cancerous(probability: np.ndarray | float, threshold: float) -> np.ndarray | bool:
    """The rule itself: positive at or above the threshold."""
    return np.asarray(probability) >= threshold if isinstance(probability, np.ndarray) else probability >= threshold


def decision_threshold(report: ThresholdReport | None) -> float:
    """The bundle's tuned threshold, or the fallback when it has none."""
    return report.threshold if report is not None else FALLBACK_THRESHOLD


@dataclass(frozen=True)
class ConfusionRates:
    true_positives: int
    false_positives: int
    true_negatives: int
    false_negatives: int

    @classmethod
    def at(cls, labels: np.ndarray, probabilities: np.ndarray, threshold: float) -> ConfusionRates:
        predicted = is_cancerous(np.asarray(probabilities), threshold)
        positive = np.asarray(labels) == 1
        return cls(int(np.sum(predicted & positive)), int(np.sum(predicted & ~positive)),
                   int(np.sum(~predicted & ~positive)), int(np.sum(~predicted & positive)))

    @property
    def sensitivity(self) -> float:
        return self.true_positives / max(self.true_positives + self.false_negatives, 1)

    @property
    def specificity(self) -> float:
        return self.true_negatives / max(self.true_negatives + self.false_positives, 1)

    @property
    def precision(self) -> float:
        return self.true_positives / max(self.true_positives + self.false_positives, 1)

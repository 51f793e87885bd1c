"""Evaluation metrics: discrimination, calibration, operating points, bootstrap CIs, subgroups."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    brier_score_loss,
    classification_report,
    confusion_matrix,
    roc_auc_score,
)

from contract.schema import NEGATIVE_LABEL, POSITIVE_LABEL

CALIBRATION_BINS = 10
BOOTSTRAP_ROUNDS = 1000
AGE_BANDS = [0, 30, 45, 60, 75, 200]


def expected_calibration_error(labels: np.ndarray, scores: np.ndarray, bins: int = CALIBRATION_BINS) -> float:
    """Sum over equal-width bins of |mean score - positive rate|, weighted by bin size."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    bin_of = np.clip(np.digitize(scores, edges[1:-1]), 0, bins - 1)
    error = 0.0
    for index in range(bins):
        in_bin = bin_of == index
        if in_bin.any():
            error += in_bin.mean() * abs(scores[in_bin].mean() - labels[in_bin].mean())
    return float(error)


def summary_metrics(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float]:
    """Threshold-free and at-threshold metrics for one labelled set."""
    predicted = (scores >= threshold).astype(int)
    true_negative, false_positive, false_negative, true_positive = confusion_matrix(
        labels, predicted, labels=[0, 1]).ravel()
    both_classes = len(np.unique(labels)) == 2
    return {
        "n": len(labels),
        "positives": int(labels.sum()),
        "roc_auc": float(roc_auc_score(labels, scores)) if both_classes else float("nan"),
        "pr_auc": float(average_precision_score(labels, scores)) if both_classes else float("nan"),
        "accuracy": float(accuracy_score(labels, predicted)),
        "balanced_accuracy": float(balanced_accuracy_score(labels, predicted)) if both_classes else float("nan"),
        "sensitivity": float(true_positive / max(true_positive + false_negative, 1)),
        "specificity": float(true_negative / max(true_negative + false_positive, 1)),
        "precision": float(true_positive / max(true_positive + false_positive, 1)),
        "brier": float(brier_score_loss(labels, scores)),
        "ece": expected_calibration_error(labels, scores),
        "threshold": float(threshold),
    }


def bootstrap_intervals(labels: np.ndarray, scores: np.ndarray, threshold: float, seed: int = 0,
                        rounds: int = BOOTSTRAP_ROUNDS) -> dict[str, list[float]]:
    """95 % percentile intervals for ROC-AUC, PR-AUC, sensitivity and specificity."""
    rng = np.random.default_rng(seed)
    names = ("roc_auc", "pr_auc", "sensitivity", "specificity")
    samples: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(rounds):
        drawn = rng.integers(0, len(labels), len(labels))
        if len(np.unique(labels[drawn])) < 2:
            continue
        predicted = scores[drawn] >= threshold
        positives = labels[drawn] == 1
        samples["roc_auc"].append(roc_auc_score(labels[drawn], scores[drawn]))
        samples["pr_auc"].append(average_precision_score(labels[drawn], scores[drawn]))
        samples["sensitivity"].append(float(np.mean(predicted[positives])))
        samples["specificity"].append(float(np.mean(~predicted[~positives])))
    return {name: [float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))] for name, v in samples.items()}


def subgroup_metrics(table: pd.DataFrame, scores: np.ndarray, threshold: float) -> dict[str, dict]:
    """Metrics by sex, age band, localisation and diagnosis (where the columns exist)."""
    table = table.assign(score=scores)
    if "age" in table:
        table["age_band"] = pd.cut(table["age"], AGE_BANDS, right=False).astype(str)
    report: dict[str, dict] = {}
    for column in ("sex", "age_band", "localization", "dx"):
        if column not in table:
            continue
        report[column] = {
            str(value): summary_metrics(group["label"].to_numpy(), group["score"].to_numpy(), threshold)
            for value, group in table.groupby(column, dropna=False) if len(group) >= 10
        }
    return report


def text_report(labels: np.ndarray, scores: np.ndarray, threshold: float) -> str:
    predicted = (scores >= threshold).astype(int)
    return classification_report(labels, predicted, labels=[0, 1], zero_division=0,
                                 target_names=[NEGATIVE_LABEL, POSITIVE_LABEL])

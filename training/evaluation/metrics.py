"""Evaluation metrics: discrimination, calibration, operating points, bootstrap CIs, subgroups, and the
seven-class differential (balanced accuracy as in ISIC 2018 Task 3, per-class recall/precision/ROC-AUC)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    classification_report,
    confusion_matrix,
    roc_auc_score,
)

from contract.decision import ConfusionRates, is_cancerous
from contract.diagnoses import CLASS_CODES
from contract.schema import NEGATIVE_LABEL, POSITIVE_LABEL

CALIBRATION_BINS = 10
BOOTSTRAP_ROUNDS = 1000
AGE_BANDS = [0, 30, 45, 60, 75, 200]


def calibration_bins(labels: np.ndarray, scores: np.ndarray,
                     bins: int = CALIBRATION_BINS) -> list[tuple[float, float, float]]:
    """(mean score, positive rate, share of images) of each non-empty equal-width bin of the scores."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    bin_of = np.clip(np.digitize(scores, edges[1:-1]), 0, bins - 1)
    return [(float(scores[bin_of == b].mean()), float(labels[bin_of == b].mean()), float(np.mean(bin_of == b)))
            for b in range(bins) if np.any(bin_of == b)]


def expected_calibration_error(labels: np.ndarray, scores: np.ndarray, bins: int = CALIBRATION_BINS) -> float:
    """Sum over equal-width bins of |mean score - positive rate|, weighted by bin size."""
    return float(sum(share * abs(mean - rate) for mean, rate, share in calibration_bins(labels, scores, bins)))


def summary_metrics(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float]:
    """Threshold-free and at-threshold metrics for one labelled set."""
    rates = ConfusionRates.at(labels, scores, threshold)
    both_classes = len(np.unique(labels)) == 2
    return {
        "n": len(labels),
        "positives": int(labels.sum()),
        "roc_auc": float(roc_auc_score(labels, scores)) if both_classes else float("nan"),
        "pr_auc": float(average_precision_score(labels, scores)) if both_classes else float("nan"),
        "accuracy": (rates.true_positives + rates.true_negatives) / max(len(labels), 1),
        "balanced_accuracy": (rates.sensitivity + rates.specificity) / 2 if both_classes else float("nan"),
        "sensitivity": rates.sensitivity,
        "specificity": rates.specificity,
        "precision": rates.precision,
        "brier": float(brier_score_loss(labels, scores)),
        "ece": expected_calibration_error(labels, scores),
        "threshold": float(threshold),
    }


def bootstrap_intervals(labels: np.ndarray, scores: np.ndarray, threshold: float, groups: np.ndarray | None = None,
                        seed: int = 0, rounds: int = BOOTSTRAP_ROUNDS) -> dict[str, list[float]]:
    """95 % percentile intervals for ROC-AUC, PR-AUC, sensitivity and specificity.

    With `groups` (each image's lesion id) whole groups are resampled: a lesion's images are not independent
    draws, and resampling them one by one would make the intervals too narrow. Without, images are.
    """
    rng = np.random.default_rng(seed)
    members = _members_of_each_group(groups, len(labels))
    names = ("roc_auc", "pr_auc", "sensitivity", "specificity")
    samples: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(rounds):
        drawn = np.concatenate([members[i] for i in rng.integers(0, len(members), len(members))])
        if len(np.unique(labels[drawn])) < 2:
            continue
        predicted = is_cancerous(scores[drawn], threshold)
        positives = labels[drawn] == 1
        samples["roc_auc"].append(roc_auc_score(labels[drawn], scores[drawn]))
        samples["pr_auc"].append(average_precision_score(labels[drawn], scores[drawn]))
        samples["sensitivity"].append(float(np.mean(predicted[positives])))
        samples["specificity"].append(float(np.mean(~predicted[~positives])))
    return {name: [float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))] for name, v in samples.items()}


def _members_of_each_group(groups: np.ndarray | None, count: int) -> list[np.ndarray]:
    if groups is None:
        return [np.array([index]) for index in range(count)]
    _, inverse = np.unique(np.asarray(groups).astype(str), return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    return np.split(order, np.flatnonzero(np.diff(inverse[order])) + 1)


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
    predicted = is_cancerous(scores, threshold).astype(int)
    return classification_report(labels, predicted, labels=[0, 1], zero_division=0,
                                 target_names=[NEGATIVE_LABEL, POSITIVE_LABEL])


def differential_metrics(class_indices: np.ndarray, probabilities: np.ndarray,
                         train_prevalence: np.ndarray | None = None) -> dict[str, object]:
    """Seven-class metrics of the differential's top diagnosis.

    `balanced_accuracy` is the ISIC 2018 Task 3 metric (mean per-class recall) of the top diagnosis. With
    the training split's prevalence, `balanced_accuracy_prevalence_adjusted` is that of argmax p / prevalence,
    the rule that maximises balanced accuracy for calibrated probabilities (reported, not served).
    """
    classes = len(CLASS_CODES)
    predicted = probabilities.argmax(axis=1)
    matrix = confusion_matrix(class_indices, predicted, labels=list(range(classes)))
    per_class = {code: _class_metrics(matrix, index, class_indices, probabilities)
                 for index, code in enumerate(CLASS_CODES)}
    present = [code for code, values in per_class.items() if values["n"] > 0]
    report: dict[str, object] = {
        "classes": list(CLASS_CODES),
        "balanced_accuracy": float(np.mean([per_class[code]["recall"] for code in present])),
        "accuracy": float(np.trace(matrix) / max(matrix.sum(), 1)),
        "per_class": per_class,
        "confusion_matrix": matrix.tolist(),
    }
    if train_prevalence is not None:
        adjusted = (probabilities / np.maximum(train_prevalence, 1e-12)).argmax(axis=1)
        recalls = [np.mean(adjusted[class_indices == index] == index)
                   for index, code in enumerate(CLASS_CODES) if code in present]
        report["balanced_accuracy_prevalence_adjusted"] = float(np.mean(recalls))
    return report


def _class_metrics(matrix: np.ndarray, index: int, class_indices: np.ndarray,
                   probabilities: np.ndarray) -> dict[str, float]:
    n, predicted = int(matrix[index].sum()), int(matrix[:, index].sum())
    is_class = class_indices == index
    one_vs_rest = (float(roc_auc_score(is_class, probabilities[:, index]))
                   if 0 < is_class.sum() < len(is_class) else float("nan"))
    return {"n": n, "recall": matrix[index, index] / max(n, 1), "precision": matrix[index, index] / max(predicted, 1),
            "roc_auc_one_vs_rest": one_vs_rest}

"""Evaluation plots (ROC, PR, calibration, the binary and the seven-class confusion matrices) as PNG bytes."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # headless: no display on servers or CI

import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import precision_recall_curve, roc_curve

from contract.decision import ConfusionRates
from contract.diagnoses import CLASS_CODES
from contract.schema import NEGATIVE_LABEL, POSITIVE_LABEL
from training.evaluation.metrics import calibration_bins

PLOT_FILES = ("roc.png", "pr.png", "calibration.png", "confusion_matrix.png", "confusion_matrix_7.png")


def png_bytes(figure: plt.Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def plot_roc(labels: np.ndarray, scores: np.ndarray, auc: float) -> bytes:
    false_positive_rate, true_positive_rate, _ = roc_curve(labels, scores)
    figure, axes = plt.subplots(figsize=(4.5, 4.5))
    axes.plot(false_positive_rate, true_positive_rate, label=f"ROC-AUC {auc:.3f}")
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey")
    axes.set(xlabel="1 - specificity", ylabel="sensitivity", title="ROC")
    axes.legend(loc="lower right")
    return png_bytes(figure)


def plot_pr(labels: np.ndarray, scores: np.ndarray, auc: float) -> bytes:
    precision, recall, _ = precision_recall_curve(labels, scores)
    figure, axes = plt.subplots(figsize=(4.5, 4.5))
    axes.plot(recall, precision, label=f"PR-AUC {auc:.3f}")
    axes.axhline(labels.mean(), linestyle="--", color="grey", label=f"prevalence {labels.mean():.2f}")
    axes.set(xlabel="recall (sensitivity)", ylabel="precision", title="Precision-recall")
    axes.legend(loc="upper right")
    return png_bytes(figure)


def plot_calibration(labels: np.ndarray, scores: np.ndarray) -> bytes:
    bins = calibration_bins(labels, scores)
    figure, axes = plt.subplots(figsize=(4.5, 4.5))
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey")
    axes.plot([mean for mean, _, _ in bins], [rate for _, rate, _ in bins], marker="o")
    axes.set(xlabel="mean predicted probability", ylabel="observed cancerous rate", title="Calibration")
    return png_bytes(figure)


def plot_matrix(matrix: np.ndarray, ticks: list[str], title: str) -> bytes:
    figure, axes = plt.subplots(figsize=(1.0 + 0.7 * len(ticks), 0.6 + 0.65 * len(ticks)))
    axes.imshow(matrix, cmap="Blues")
    for (row, column), count in np.ndenumerate(matrix):
        axes.text(column, row, str(count), ha="center", va="center",
                  color="white" if count > matrix.max() / 2 else "black")
    positions = list(range(len(ticks)))
    axes.set(xticks=positions, yticks=positions, xticklabels=ticks, yticklabels=ticks, xlabel="predicted",
             ylabel="true", title=title)
    return png_bytes(figure)


def plot_binary_confusion(labels: np.ndarray, scores: np.ndarray, threshold: float) -> bytes:
    rates = ConfusionRates.at(labels, scores, threshold)
    matrix = np.array([[rates.true_negatives, rates.false_positives], [rates.false_negatives, rates.true_positives]])
    return plot_matrix(matrix, [NEGATIVE_LABEL, POSITIVE_LABEL], f"Confusion at threshold {threshold:.3f}")


def plot_all(labels: np.ndarray, scores: np.ndarray, threshold: float, metrics: dict,
             differential: dict) -> dict[str, bytes]:
    """File name -> PNG bytes, for the names in PLOT_FILES."""
    matrix = np.asarray(differential["confusion_matrix"])
    return dict(zip(PLOT_FILES, (
        plot_roc(labels, scores, metrics["roc_auc"]),
        plot_pr(labels, scores, metrics["pr_auc"]),
        plot_calibration(labels, scores),
        plot_binary_confusion(labels, scores, threshold),
        plot_matrix(matrix, list(CLASS_CODES), "Seven-class confusion (top diagnosis)"),
    ), strict=True))

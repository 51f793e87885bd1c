"""Evaluation plots (ROC, PR, calibration, confusion matrix) written as PNGs."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: no display on servers or CI

import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_curve, roc_curve

from contract.bundle import write_atomically
from contract.schema import NEGATIVE_LABEL, POSITIVE_LABEL
from training.metrics import CALIBRATION_BINS


def save_figure(figure: plt.Figure, path: Path) -> Path:
    write_atomically(path, lambda tmp: figure.savefig(tmp, format="png", dpi=110, bbox_inches="tight"))
    plt.close(figure)
    return path


def plot_roc(labels: np.ndarray, scores: np.ndarray, auc: float, path: Path) -> Path:
    false_positive_rate, true_positive_rate, _ = roc_curve(labels, scores)
    figure, axes = plt.subplots(figsize=(4.5, 4.5))
    axes.plot(false_positive_rate, true_positive_rate, label=f"ROC-AUC {auc:.3f}")
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey")
    axes.set(xlabel="1 - specificity", ylabel="sensitivity", title="ROC")
    axes.legend(loc="lower right")
    return save_figure(figure, path)


def plot_pr(labels: np.ndarray, scores: np.ndarray, auc: float, path: Path) -> Path:
    precision, recall, _ = precision_recall_curve(labels, scores)
    figure, axes = plt.subplots(figsize=(4.5, 4.5))
    axes.plot(recall, precision, label=f"PR-AUC {auc:.3f}")
    axes.axhline(labels.mean(), linestyle="--", color="grey", label=f"prevalence {labels.mean():.2f}")
    axes.set(xlabel="recall (sensitivity)", ylabel="precision", title="Precision-recall")
    axes.legend(loc="upper right")
    return save_figure(figure, path)


def plot_calibration(labels: np.ndarray, scores: np.ndarray, path: Path) -> Path:
    edges = np.linspace(0, 1, CALIBRATION_BINS + 1)
    bin_of = np.clip(np.digitize(scores, edges[1:-1]), 0, CALIBRATION_BINS - 1)
    filled = [b for b in range(CALIBRATION_BINS) if np.any(bin_of == b)]
    figure, axes = plt.subplots(figsize=(4.5, 4.5))
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey")
    axes.plot([scores[bin_of == b].mean() for b in filled], [labels[bin_of == b].mean() for b in filled],
              marker="o")
    axes.set(xlabel="mean predicted probability", ylabel="observed cancerous rate", title="Calibration")
    return save_figure(figure, path)


def plot_confusion(labels: np.ndarray, scores: np.ndarray, threshold: float, path: Path) -> Path:
    matrix = confusion_matrix(labels, (scores >= threshold).astype(int), labels=[0, 1])
    figure, axes = plt.subplots(figsize=(4.5, 4))
    axes.imshow(matrix, cmap="Blues")
    for (row, column), count in np.ndenumerate(matrix):
        axes.text(column, row, str(count), ha="center", va="center",
                  color="white" if count > matrix.max() / 2 else "black")
    ticks = [NEGATIVE_LABEL, POSITIVE_LABEL]
    axes.set(xticks=[0, 1], yticks=[0, 1], xticklabels=ticks, yticklabels=ticks, xlabel="predicted",
             ylabel="true", title=f"Confusion at threshold {threshold:.3f}")
    return save_figure(figure, path)


def plot_all(labels: np.ndarray, scores: np.ndarray, threshold: float, metrics: dict, out_dir: Path) -> list[Path]:
    return [
        plot_roc(labels, scores, metrics["roc_auc"], out_dir / "roc.png"),
        plot_pr(labels, scores, metrics["pr_auc"], out_dir / "pr.png"),
        plot_calibration(labels, scores, out_dir / "calibration.png"),
        plot_confusion(labels, scores, threshold, out_dir / "confusion_matrix.png"),
    ]

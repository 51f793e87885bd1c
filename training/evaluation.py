"""Scoring a bundle on a labelled set, and the report that goes with it (metrics.json + plots)."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pandas as pd

from contract.bundle import read_contract, read_thresholds, write_json_atomically
from contract.schema import FALLBACK_THRESHOLD, BundleFiles, ThresholdReport
from training.data.ingest import load_dataset
from training.data.pipeline import load_images
from training.metrics import bootstrap_intervals, subgroup_metrics, summary_metrics, text_report
from training.plots import plot_all

EVAL_BATCH = 64


def predict_scores(model: keras.Model, images: np.ndarray) -> np.ndarray:
    """Cancer probabilities for uint8 images, in batches through one compiled call."""
    scores = [np.asarray(model(images[i : i + EVAL_BATCH].astype(np.float32), training=False)).reshape(-1)
              for i in range(0, len(images), EVAL_BATCH)]
    return np.concatenate(scores) if scores else np.empty(0, dtype=np.float32)


def evaluate_scores(table: pd.DataFrame, scores: np.ndarray, thresholds: ThresholdReport | None,
                    out_dir: Path, split_note: str) -> dict[str, object]:
    """Metrics at the bundle's thresholds, CIs, subgroups, plots; writes metrics.json into out_dir."""
    labels = table["label"].to_numpy()
    threshold = thresholds.threshold if thresholds else FALLBACK_THRESHOLD
    metrics: dict[str, object] = {
        "evaluated_on": split_note,
        "test": summary_metrics(labels, scores, threshold),
        "confidence_intervals_95": bootstrap_intervals(labels, scores, threshold),
        "subgroups": subgroup_metrics(table, scores, threshold),
        "classification_report": text_report(labels, scores, threshold),
    }
    if thresholds:
        metrics["high_sensitivity"] = summary_metrics(labels, scores, thresholds.high_sensitivity.threshold)
    write_json_atomically(out_dir / BundleFiles.METRICS, metrics)
    plot_all(labels, scores, threshold, metrics["test"], out_dir)
    print(format_summary(metrics))
    return metrics


def format_summary(metrics: dict) -> str:
    test, intervals = metrics["test"], metrics["confidence_intervals_95"]
    rows = [f"evaluated on: {metrics['evaluated_on']} (n={test['n']}, positives={test['positives']})",
            f"{'metric':<20}{'value':>8}   95% CI"]
    for name in ("roc_auc", "pr_auc", "sensitivity", "specificity", "accuracy", "balanced_accuracy",
                 "precision", "brier", "ece"):
        interval = intervals.get(name)
        shown = f"[{interval[0]:.3f}, {interval[1]:.3f}]" if interval else ""
        rows.append(f"{name:<20}{test[name]:>8.3f}   {shown}")
    rows.append(f"threshold            {test['threshold']:>8.3f}")
    return "\n".join(rows)


def evaluate_bundle(model_dir: Path, data_dir: Path, metadata: Path | None, out_dir: Path | None) -> dict:
    """Score a bundle on any labelled set; on its own training data, only on its test split."""
    contract = read_contract(model_dir)
    table = load_dataset(data_dir, metadata)
    table, note = restrict_to_test_split(table, model_dir)
    model = keras.models.load_model(model_dir / BundleFiles.KERAS_MODEL, compile=False)
    scores = predict_scores(model, load_images(table["path"].tolist(), contract.input.image_size))
    return evaluate_scores(table, scores, read_thresholds(model_dir), out_dir or model_dir, note)


def restrict_to_test_split(table: pd.DataFrame, model_dir: Path) -> tuple[pd.DataFrame, str]:
    manifest_path = model_dir / BundleFiles.SPLIT_MANIFEST
    if not manifest_path.exists():
        return table, f"all {len(table)} images given (the bundle has no split manifest)"
    manifest = pd.read_csv(manifest_path, dtype={"image_id": str})
    seen = table["image_id"].isin(manifest["image_id"])
    if not seen.any():
        return table, f"all {len(table)} images given (none belong to the bundle's training data)"
    test_ids = set(manifest.loc[manifest["split"] == "test", "image_id"])
    kept = table[table["image_id"].isin(test_ids) | ~seen].reset_index(drop=True)
    note = (f"the bundle's own test split: {int(kept['image_id'].isin(test_ids).sum())} images; "
            f"{int(seen.sum()) - int(kept['image_id'].isin(test_ids).sum())} train/validation images excluded")
    print(f"note: these images include the bundle's training data; scoring only {note}")
    return kept, note

"""Scoring a model on a labelled split: metrics.json's content and the plots, returned, not written."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from contract.bundle import read_contract, read_thresholds, write_bytes_atomically, write_json_atomically
from contract.decision import decision_threshold
from contract.diagnoses import CLASS_CODES, cancer_probability
from contract.schema import BundleFiles, ModelLayers, ThresholdReport
from training.data.ingest import load_dataset
from training.data.pipeline import load_images
from training.errors import IngestError, TrainingError
from training.evaluation.flips import FLIP_VIEWS, averaged_over_flips
from training.evaluation.metrics import (
    bootstrap_intervals,
    differential_metrics,
    subgroup_metrics,
    summary_metrics,
    text_report,
)
from training.evaluation.plots import plot_all
from training.model.classifier import load_classifier

EVAL_BATCH = 64
OWN_TEST_SPLIT = "test split of this bundle's own lesion-grouped split"  # metrics.json's evaluated_on, at export


@dataclass(frozen=True)
class Evaluation:
    metrics: dict[str, object]  # metrics.json
    figures: dict[str, bytes]  # plot file name -> PNG


def predict_probabilities(model: keras.Model, images: np.ndarray, flips: str = "none") -> np.ndarray:
    """(N, K) class probabilities (or whatever the model outputs) for uint8 images, averaged over the views
    that `flips` names in training.evaluation.flips.FLIP_VIEWS."""
    if not len(images):
        return np.empty((0, len(CLASS_CODES)), dtype=np.float32)
    return averaged_over_flips(lambda view: _in_batches(model, view)[0], images, flips)


def predict_with_features(model: keras.Model, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, K) probabilities and (N, F) pooled backbone features in one pass."""
    both = keras.Model(model.input, [model.output, model.get_layer(ModelLayers.POOLED).output])
    if not len(images):
        return (np.empty((0, both.outputs[0].shape[-1]), dtype=np.float32),
                np.empty((0, both.outputs[1].shape[-1]), dtype=np.float32))
    probabilities, features = _in_batches(both, images)
    return probabilities, features


def _in_batches(model: keras.Model, images: np.ndarray) -> tuple[np.ndarray, ...]:
    """Every output of `model` for uint8 images, EVAL_BATCH at a time (one compiled call per batch)."""
    batches = []
    for start in range(0, len(images), EVAL_BATCH):
        outputs = model(images[start : start + EVAL_BATCH].astype(np.float32), training=False)
        batches.append(outputs if isinstance(outputs, list | tuple) else [outputs])
    return tuple(np.concatenate([np.asarray(batch[i]) for batch in batches]) for i in range(len(batches[0])))


def lesion_groups(table: pd.DataFrame) -> np.ndarray | None:
    """The lesion of each image, or None where a set has no lesion ids (ingest then makes each image its own)."""
    if "lesion_id" not in table or (table["lesion_id"] == table["image_id"]).all():
        return None
    return table["lesion_id"].to_numpy()


def evaluate_split(table: pd.DataFrame, probabilities: np.ndarray, thresholds: ThresholdReport | None,
                   split_note: str, train_prevalence: np.ndarray | None = None) -> Evaluation:
    """Cancer-probability metrics at the bundle's thresholds, CIs, subgroups, the differential, plots."""
    labels = table["label"].to_numpy()
    scores = cancer_probability(probabilities)
    threshold = decision_threshold(thresholds)
    lesions = lesion_groups(table)
    metrics: dict[str, object] = {
        "evaluated_on": split_note,
        "test": summary_metrics(labels, scores, threshold),
        "confidence_intervals_95": bootstrap_intervals(labels, scores, threshold, lesions),
        "confidence_intervals_resample": "images" if lesions is None else "lesions",
        "subgroups": subgroup_metrics(table, scores, threshold),
        "classification_report": text_report(labels, scores, threshold),
        "differential": differential_metrics(table["class_index"].to_numpy(), probabilities, train_prevalence),
    }
    if thresholds:
        metrics["high_sensitivity"] = summary_metrics(labels, scores, thresholds.high_sensitivity.threshold)
    figures = plot_all(labels, scores, threshold, metrics["test"], metrics["differential"])
    print(format_summary(metrics))
    return Evaluation(metrics, figures)


def write_evaluation(evaluation: Evaluation, out_dir: Path) -> list[Path]:
    written = [write_json_atomically(out_dir / BundleFiles.METRICS, evaluation.metrics)]
    return written + [write_bytes_atomically(out_dir / name, png) for name, png in evaluation.figures.items()]


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
    differential = metrics["differential"]
    rows.append(f"seven classes: balanced accuracy {differential['balanced_accuracy']:.3f}, "
                f"accuracy {differential['accuracy']:.3f}")
    return "\n".join(rows)


def train_prevalence(manifest: pd.DataFrame) -> np.ndarray:
    """(K,) share of each diagnosis in the training split."""
    counts = manifest.loc[manifest["split"] == "train", "dx"].value_counts()
    shares = np.array([counts.get(code, 0) for code in CLASS_CODES], dtype=np.float64)
    return shares / max(shares.sum(), 1.0)


def evaluate_bundle(model_dir: Path, data_dir: Path, metadata: Path | None, out_dir: Path,
                    split: str = "test", skip_missing: bool = False, flips: str = "none") -> dict:
    """Score a bundle on any labelled set (on its own training data, only its test split); write the report.

    split="validation" scores the bundle's own validation split instead: the split that candidate bundles are
    compared on before one is shipped (its calibration and thresholds were fitted there, so it flatters every
    candidate alike and is never a reported result). `flips` other than "none" averages each image's
    probabilities over its mirrored copies (FLIP_VIEWS), to measure what test-time flips would bring.
    """
    if flips not in FLIP_VIEWS:
        raise TrainingError(f"unknown test-time flips {flips!r}; choose one of {sorted(FLIP_VIEWS)}")
    if out_dir.resolve() == model_dir.resolve():
        raise TrainingError(f"{out_dir} is the bundle itself: evaluate writes its report elsewhere "
                            "(`training reevaluate` rescores a bundle in place)")
    contract = read_contract(model_dir)
    table = load_dataset(data_dir, metadata, skip_missing=skip_missing)
    if split == "validation":
        table, note, prevalence = restrict_to_validation_split(table, model_dir)
    else:
        table, note, prevalence = restrict_to_test_split(table, model_dir)
    if flips != "none":
        note += (f"; probabilities averaged over test-time flips ({flips}), which the service does not run, at "
                 "thresholds and a calibration fitted without them")
    model = load_classifier(model_dir / BundleFiles.KERAS_MODEL)
    probabilities = predict_probabilities(model, load_images(table["path"].tolist(), contract.input.image_size),
                                          flips)
    evaluation = evaluate_split(table, probabilities, read_thresholds(model_dir, contract), note, prevalence)
    if flips != "none":
        evaluation.metrics["test_time_flips"] = flips
    write_evaluation(evaluation, out_dir)
    return evaluation.metrics


def read_split_manifest(model_dir: Path) -> pd.DataFrame | None:
    """The bundle's split_manifest.csv (image ids as strings), or None if it has none."""
    path = model_dir / BundleFiles.SPLIT_MANIFEST
    return pd.read_csv(path, dtype={"image_id": str}) if path.exists() else None


def restrict_to_validation_split(table: pd.DataFrame, model_dir: Path) -> tuple[pd.DataFrame, str, np.ndarray]:
    """The bundle's own validation images, a note saying so, and the train prevalence."""
    manifest = read_split_manifest(model_dir)
    if manifest is None:
        raise IngestError(f"{model_dir} has no {BundleFiles.SPLIT_MANIFEST}: it names no validation split")
    validation_ids = set(manifest.loc[manifest["split"] == "validation", "image_id"])
    kept = table[table["image_id"].isin(validation_ids)].reset_index(drop=True)
    if kept.empty:
        raise IngestError("none of the given images is in the bundle's validation split")
    note = (f"the bundle's own validation split: {len(kept)} images (calibration and thresholds were fitted "
            "there: for comparing bundles, not for reporting)")
    return kept, note, train_prevalence(manifest)


def restrict_to_test_split(table: pd.DataFrame, model_dir: Path) -> tuple[pd.DataFrame, str, np.ndarray | None]:
    """The rows that are not the bundle's train/validation images, a note saying so, and the train prevalence."""
    manifest = read_split_manifest(model_dir)
    if manifest is None:
        return table, f"all {len(table)} images given (the bundle has no split manifest)", None
    prevalence = train_prevalence(manifest)
    seen = table["image_id"].isin(manifest["image_id"])
    # an image the manifest does not name (a --limit or --skip-missing run left it out) may still be another
    # view of a lesion the model was fitted or tuned on: it is excluded with its lesion
    fitted_lesions = set(manifest.loc[manifest["split"] != "test", "lesion_id"].astype(str))
    of_fitted_lesion = (table["lesion_id"].astype(str).isin(fitted_lesions) if "lesion_id" in table
                        else pd.Series(False, index=table.index))
    if not seen.any() and not of_fitted_lesion.any():
        return table, f"all {len(table)} images given (none belong to the bundle's training data)", prevalence
    test_ids = set(manifest.loc[manifest["split"] == "test", "image_id"])
    kept = table[table["image_id"].isin(test_ids) | (~seen & ~of_fitted_lesion)].reset_index(drop=True)
    in_test = int(kept["image_id"].isin(test_ids).sum())
    excluded, outside = len(table) - len(kept), len(kept) - in_test
    # images the manifest does not name (a --limit or --skip-missing bundle's) are scored too: say so
    beside = f" and {outside} images outside the bundle's data" if outside else ""
    note = (f"the bundle's own test split: {in_test} images{beside}; {excluded} images of train/validation "
            "lesions excluded")
    print(f"note: these images include the bundle's training data; scoring only {note}")
    return kept, note, prevalence

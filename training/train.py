"""`train`, top to bottom: data -> fit -> calibrate -> tune -> input check -> explanation -> evaluate -> export.

Every step returns values; only the last one writes the bundle (the fit writes its own checkpoints).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from contract.decision import decision_threshold, is_cancerous
from contract.diagnoses import cancer_probability
from training import calibration, input_check
from training.config import TrainConfig
from training.data import pipeline
from training.data.ingest import load_dataset, stratified_subset
from training.data.split import assign_splits, check_no_leakage
from training.evaluation.report import (
    OWN_TEST_SPLIT,
    evaluate_split,
    predict_probabilities,
    predict_with_features,
    train_prevalence,
)
from training.explanation import explanation_spec
from training.export import litert
from training.export.bundle import BundleContents, write_bundle
from training.fit import fit
from training.model.classifier import build_classifier
from training.thresholds import tune_thresholds


@dataclass(frozen=True)
class Split:
    table: pd.DataFrame
    images: np.ndarray  # (N, S, S, 3) uint8

    @property
    def labels(self) -> np.ndarray:
        return self.table["label"].to_numpy()

    @property
    def class_indices(self) -> np.ndarray:
        return self.table["class_index"].to_numpy()


def run_training(config: TrainConfig) -> Path:
    keras.utils.set_random_seed(config.seed)
    table = prepare_table(config)
    images = pipeline.load_images(table["path"].tolist(), config.image_size)
    model, history = fit(config, table, images)
    return finish(config, as_float32(model, config), table, images, history)


def finish(config: TrainConfig, model: keras.Model, table: pd.DataFrame, images: np.ndarray,
           history: dict[str, object]) -> Path:
    """Everything after the fit, from calibration to the written bundle (also how tests build bundles)."""
    train, validation, test = (split_of(table, images, name) for name in ("train", "validation", "test"))
    if config.calibrate:
        history["calibration"] = calibrate(model, validation)
    validation_probabilities, validation_features = predict_with_features(model, validation.images)
    thresholds = tune_thresholds(validation.labels, cancer_probability(validation_probabilities))
    statistics, limits = input_check.fit(predict_with_features(model, train.images)[1], validation_features,
                                         train.images, config.image_size)
    verdicts = is_cancerous(cancer_probability(validation_probabilities), decision_threshold(thresholds))
    explanation = explanation_spec(model, config.explanation_layer, validation.images, verdicts)
    evaluation = evaluate_split(test.table.reset_index(drop=True), predict_probabilities(model, test.images),
                                thresholds, OWN_TEST_SPLIT,
                                train_prevalence(table))
    flatbuffer = litert.convert(model, config.explanation_layer)
    history["litert_gaps"] = litert.verify(flatbuffer, model, config.explanation_layer,
                                           validation.images[:litert.VERIFY_IMAGES])
    contents = BundleContents(model, flatbuffer, thresholds, evaluation, statistics, limits, explanation, table,
                              history)
    return write_bundle(config, contents)


def prepare_table(config: TrainConfig) -> pd.DataFrame:
    table = load_dataset(config.data_dir, config.metadata, skip_missing=config.skip_missing)
    table = stratified_subset(table, config.limit, config.data_seed)
    table["split"] = assign_splits(table, config.data_seed)
    check_no_leakage(table)
    counts = table.groupby(["split", "dx"]).size().unstack(fill_value=0)
    print(f"{len(table)} images, {table['lesion_id'].nunique()} lesions\n{counts}")
    return table


def split_of(table: pd.DataFrame, images: np.ndarray, name: str) -> Split:
    mask = (table["split"] == name).to_numpy()
    return Split(table.loc[mask].reset_index(drop=True), images[mask])


def as_float32(model: keras.Model, config: TrainConfig) -> keras.Model:
    """Mixed-precision training still exports a float32 model."""
    if model.dtype_policy.name == "float32":
        return model
    keras.mixed_precision.set_global_policy("float32")
    exported = build_classifier(config.backbone, config.image_size, weights="none",
                                colour_constancy=config.colour_constancy)
    exported.set_weights(model.get_weights())
    return exported


def calibrate(model: keras.Model, validation: Split) -> dict[str, object]:
    logits = predict_probabilities(calibration.logits_model(model), validation.images)
    scaling = calibration.fit_scaling(logits, validation.class_indices)
    calibration.fold_into_logits(model, scaling)
    print(f"calibration: temperature {scaling.temperature:.3f}, class biases "
          f"{[round(b, 3) for b in scaling.bias]} (fitted on validation)")
    return {"temperature": scaling.temperature, "bias": list(scaling.bias), "fitted_on": "validation"}

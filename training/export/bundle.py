"""Writing the bundle: every file atomically, the model card, and contract.json last.

contract.json lists the sha256 of every file the run wrote, so an interrupted export leaves a bundle
that readers reject rather than one that silently mixes two runs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import keras
import pandas as pd

from contract.bundle import sha256_of, write_atomically, write_bytes_atomically, write_json_atomically
from contract.diagnoses import CLASS_CODES
from contract.input_check import FeatureStatistics
from contract.schema import (
    BundleFiles,
    ExplanationSpec,
    InputCheckSpec,
    InputSpec,
    ModelContract,
    ModelLayers,
    OutputSpec,
    ThresholdReport,
)
from training.config import TrainConfig
from training.evaluation.report import Evaluation, write_evaluation
from training.model.efficientnet_lite import VARIANTS
from training.model_card import render_model_card


@dataclass(frozen=True)
class BundleContents:
    model: keras.Model
    litert_flatbuffer: bytes
    thresholds: ThresholdReport
    evaluation: Evaluation
    feature_statistics: FeatureStatistics
    input_check: InputCheckSpec
    explanation: ExplanationSpec
    table: pd.DataFrame
    history: dict[str, object]


def write_bundle(config: TrainConfig, contents: BundleContents) -> Path:
    out = config.output_dir
    written = [save_keras_model(contents.model, out / BundleFiles.KERAS_MODEL)]
    thresholds = contents.thresholds.model_copy(update={"model_sha256": sha256_of(written[0])})
    written.append(write_json_atomically(out / BundleFiles.THRESHOLD, thresholds))
    written += write_evaluation(contents.evaluation, out)
    written.append(write_split_manifest(contents.table, out / BundleFiles.SPLIT_MANIFEST))
    written.append(write_json_atomically(out / BundleFiles.TRAINING_HISTORY, contents.history))
    written.append(write_atomically(out / BundleFiles.INPUT_CHECK, contents.feature_statistics.save))
    written.append(write_bytes_atomically(out / BundleFiles.LITERT_MODEL, contents.litert_flatbuffer))
    contract = make_contract(config, contents, files={})
    written.append(render_model_card(out, contract, thresholds, contents.evaluation.metrics, contents.history))
    contract = contract.model_copy(update={"files": {path.name: sha256_of(path) for path in written}})
    write_json_atomically(out / BundleFiles.CONTRACT, contract)
    print(f"bundle written to {out}")
    return out


def save_keras_model(model: keras.Model, path: Path) -> Path:
    """Save weights and architecture only: the optimizer state would triple the file for nothing.

    Rebuilt from the config, not `clone_model`, which in Keras 3 carries the compile state along.
    """
    inference_copy = keras.Model.from_config(model.get_config())
    inference_copy.set_weights(model.get_weights())
    return write_atomically(path, lambda tmp: inference_copy.save(tmp))


def write_split_manifest(table: pd.DataFrame, path: Path) -> Path:
    """The split of every image, in the order training scored them (earlier bundles, the shipped 2.2.0
    among them, sorted it by image id): `evaluate --metadata` on this file batches the test split as the export did."""
    columns = ["image_id", "lesion_id", "dx", "label", "split"]
    return write_bytes_atomically(path, table[columns].to_csv(index=False).encode())


def contract_test_metrics(metrics: dict) -> dict[str, float]:
    """The headline test numbers the contract carries (and /v1/model serves), from an evaluation's metrics."""
    test = {k: float(v) for k, v in metrics["test"].items() if isinstance(v, int | float)}
    test["differential_balanced_accuracy"] = float(metrics["differential"]["balanced_accuracy"])
    return test


def make_contract(config: TrainConfig, contents: BundleContents, files: dict[str, str]) -> ModelContract:
    test = contract_test_metrics(contents.evaluation.metrics)
    feature_dim = int(contents.model.get_layer(ModelLayers.POOLED).output.shape[-1])
    return ModelContract(
        model_version=config.model_version,
        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        backbone=config.backbone,
        backbone_weights=describe_weights(config),
        input=InputSpec(image_size=config.image_size),
        output=OutputSpec(classes=CLASS_CODES, feature_dim=feature_dim),
        explanation=contents.explanation,
        input_check=contents.input_check,
        files=files,
        training=config.recipe(),
        test_metrics=test,
    )


def describe_weights(config: TrainConfig) -> str:
    if config.weights == "none":
        return "random initialisation (no pretrained weights)"
    if config.weights == "imagenet" and config.backbone in VARIANTS:
        variant = VARIANTS[config.backbone]
        return (f"ImageNet, converted from {variant.checkpoint} {variant.checkpoint_version} "
                "(models/pretrained/README.md)")
    if config.weights == "imagenet":
        return "ImageNet, keras.applications EfficientNetB0"
    return f"file {Path(config.weights).name} (sha256 {sha256_of(Path(config.weights))[:16]})"

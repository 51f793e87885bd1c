"""Refreshing parts of a bundle with the current code, from the bundle's own model and split, without retraining.

The input check's statistics and limits, and the LiteRT conversion, depend only on the fitted Keras model and
the bundle's split, so they can be made again exactly as `train` makes them at export:

- `refit_input_check`: input_check.npz and the contract's input-check limits;
- `reconvert_litert`: model.tflite (converted and verified against the Keras model) and its gaps in history.json.

Each rewrites its files atomically, then the model card, then contract.json (limits and hashes) last, so an
interrupted refresh leaves a bundle whose hashes no longer match, which readers refuse. The old files are never
read: a bundle of an older format (say, before the contract recorded the check's rank) is refreshed as well.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import pandas as pd

from contract.bundle import (
    read_thresholds,
    sha256_of,
    verify_files,
    write_atomically,
    write_json_atomically,
)
from contract.schema import BundleFiles, ExplanationSpec, InputSpec, ModelContract
from training import input_check
from training.data.ingest import load_dataset
from training.data.pipeline import load_images
from training.errors import IngestError
from training.evaluation.report import predict_with_features
from training.export import litert
from training.model_card import read_history_and_metrics, render_model_card


def refit_input_check(bundle_dir: Path, data_dir: Path, metadata: Path | None = None) -> ModelContract:
    raw, model = _open(bundle_dir)
    size = InputSpec.model_validate(raw["input"]).image_size
    train, validation = _split_paths(bundle_dir, data_dir, metadata)
    train_images = load_images(train, size)
    statistics = input_check.fit_feature_statistics(predict_with_features(model, train_images)[1])
    validation_features = predict_with_features(model, load_images(validation, size))[1]
    limits = input_check.choose_limits(statistics, validation_features, train_images, size)
    written = write_atomically(bundle_dir / BundleFiles.INPUT_CHECK, statistics.save)
    return _finish(bundle_dir, {**raw, "input_check": limits.model_dump()}, [written])


def reconvert_litert(bundle_dir: Path, data_dir: Path, metadata: Path | None = None) -> ModelContract:
    raw, model = _open(bundle_dir)
    size = InputSpec.model_validate(raw["input"]).image_size
    layer = ExplanationSpec.model_validate(raw["explanation"]).layer
    validation = _split_paths(bundle_dir, data_dir, metadata)[1][:litert.VERIFY_IMAGES]
    flatbuffer = litert.convert(model, layer)
    gaps = litert.verify(flatbuffer, model, layer, load_images(validation, size))
    history_path = bundle_dir / BundleFiles.TRAINING_HISTORY
    history = json.loads(history_path.read_text()) if history_path.exists() else {}
    written = [litert.write_to(bundle_dir / BundleFiles.LITERT_MODEL, flatbuffer),
               write_json_atomically(history_path, {**history, "litert_gaps": gaps})]
    return _finish(bundle_dir, raw, written)


def _open(bundle_dir: Path) -> tuple[dict, keras.Model]:
    """The contract as plain JSON (its listed files verified) and the bundle's Keras model."""
    raw = json.loads((bundle_dir / BundleFiles.CONTRACT).read_text())
    verify_files(bundle_dir, raw.get("files", {}))
    return raw, keras.models.load_model(bundle_dir / BundleFiles.KERAS_MODEL, compile=False)


def _finish(bundle_dir: Path, raw: dict, written: list[Path]) -> ModelContract:
    """Re-render the card, then write the contract with the new hashes, last."""
    contract = ModelContract.model_validate(raw)
    metrics, history = read_history_and_metrics(bundle_dir)
    card = render_model_card(bundle_dir, contract, read_thresholds(bundle_dir), metrics, history)
    files = {**contract.files, **{path.name: sha256_of(path) for path in [*written, card]}}
    contract = contract.model_copy(update={"files": files})
    write_json_atomically(bundle_dir / BundleFiles.CONTRACT, contract)
    return contract


def _split_paths(bundle_dir: Path, data_dir: Path, metadata: Path | None) -> tuple[list[str], list[str]]:
    """Image paths of the bundle's train and validation splits, in manifest order; every one must exist."""
    manifest = pd.read_csv(bundle_dir / BundleFiles.SPLIT_MANIFEST, dtype={"image_id": str})
    table = load_dataset(data_dir, metadata, skip_missing=True)
    paths = dict(zip(table["image_id"], table["path"], strict=True))
    chosen = manifest[manifest["split"].isin(["train", "validation"])]
    missing = sorted(set(chosen["image_id"]) - set(paths))
    if missing:
        raise IngestError(f"{len(missing)} train/validation images of the bundle are not under {data_dir} "
                          f"(first: {missing[0]}); refreshing a bundle needs all of them")
    train, validation = ([paths[image_id] for image_id in chosen.loc[chosen["split"] == name, "image_id"]]
                         for name in ("train", "validation"))
    return train, validation

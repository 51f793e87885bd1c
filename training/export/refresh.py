"""Refreshing parts of a bundle with the current code, from the bundle's own model and split, without retraining.

The input check's statistics and limits, and the LiteRT conversion, depend only on the fitted Keras model and
the bundle's split, so they can be made again as `train` makes them at export:

- `refit_input_check`: input_check.npz and the contract's input-check limits;
- `reconvert_litert`: model.tflite (converted and verified against the Keras model) and its gaps in history.json.

The new contract is validated before anything is written; then each file is rewritten atomically, the model
card next, and contract.json (version, limits and hashes) last. Only the files a refresh reads and never
writes are checked against the old contract, so a refresh that was interrupted can simply be run again.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import pandas as pd
from pydantic import ValidationError

from contract.bundle import (
    read_thresholds,
    sha256_of,
    verify_files,
    write_atomically,
    write_json_atomically,
)
from contract.schema import BundleFiles, ModelContract
from training import input_check
from training.data.ingest import load_dataset
from training.data.pipeline import load_images
from training.errors import IngestError, TrainingError
from training.evaluation.report import predict_with_features
from training.export import litert
from training.model_card import read_history_and_metrics, render_model_card

# What a refresh reads and never rewrites: these must still match the contract.
READ_ONLY = (BundleFiles.KERAS_MODEL, BundleFiles.SPLIT_MANIFEST, BundleFiles.THRESHOLD, BundleFiles.METRICS)


class StaleContract(TrainingError):
    """The bundle's contract is of a format this refresh cannot carry forward on its own."""


def refit_input_check(bundle_dir: Path, data_dir: Path, model_version: str,
                      metadata: Path | None = None) -> ModelContract:
    raw, model = _open(bundle_dir)
    size = int(raw["input"]["image_size"])
    train_paths, validation_paths = _split_paths(bundle_dir, data_dir, metadata)
    train_images = load_images(train_paths, size)
    statistics, limits = input_check.fit(predict_with_features(model, train_images)[1],
                                         predict_with_features(model, load_images(validation_paths, size))[1],
                                         train_images, size)
    contract = _next_contract({**raw, "input_check": limits.model_dump()}, model_version)
    written = write_atomically(bundle_dir / BundleFiles.INPUT_CHECK, statistics.save)
    return _finish(bundle_dir, contract, [written])


def reconvert_litert(bundle_dir: Path, data_dir: Path, model_version: str,
                     metadata: Path | None = None) -> ModelContract:
    raw, model = _open(bundle_dir)
    contract = _next_contract(raw, model_version)
    layer, size = contract.explanation.layer, contract.input.image_size
    validation = load_images(_split_paths(bundle_dir, data_dir, metadata)[1][:litert.VERIFY_IMAGES], size)
    flatbuffer = litert.convert(model, layer)
    gaps = litert.verify(flatbuffer, model, layer, validation)
    history = read_history_and_metrics(bundle_dir)[1]
    written = [litert.write_to(bundle_dir / BundleFiles.LITERT_MODEL, flatbuffer),
               write_json_atomically(bundle_dir / BundleFiles.TRAINING_HISTORY, {**history, "litert_gaps": gaps})]
    return _finish(bundle_dir, contract, written)


def _open(bundle_dir: Path) -> tuple[dict, keras.Model]:
    """The contract as plain JSON (the files a refresh only reads verified) and the bundle's Keras model."""
    raw = json.loads((bundle_dir / BundleFiles.CONTRACT).read_text())
    listed = raw.get("files", {})
    verify_files(bundle_dir, {name: listed[name] for name in READ_ONLY if name in listed})
    return raw, keras.models.load_model(bundle_dir / BundleFiles.KERAS_MODEL, compile=False)


def _next_contract(raw: dict, model_version: str) -> ModelContract:
    """The contract to write, validated before any file changes."""
    try:
        return ModelContract.model_validate({**raw, "model_version": model_version})
    except ValidationError as error:
        raise StaleContract(f"{BundleFiles.CONTRACT} cannot be carried forward: {error}\n(a bundle from before the "
                            "input check recorded its rank needs `refit-input-check` first)") from error


def _finish(bundle_dir: Path, contract: ModelContract, written: list[Path]) -> ModelContract:
    """Re-render the card, then write the contract with the new hashes, last."""
    metrics, history = read_history_and_metrics(bundle_dir)
    card = render_model_card(bundle_dir, contract, read_thresholds(bundle_dir), metrics, history)
    files = {**contract.files, **{path.name: sha256_of(path) for path in [*written, card]}}
    contract = contract.model_copy(update={"files": files})
    write_json_atomically(bundle_dir / BundleFiles.CONTRACT, contract)
    return contract


def _split_paths(bundle_dir: Path, data_dir: Path, metadata: Path | None) -> tuple[list[str], list[str]]:
    """Image paths of the bundle's train and validation splits, in the metadata's order (as `train` sees
    them); every one must exist."""
    manifest = pd.read_csv(bundle_dir / BundleFiles.SPLIT_MANIFEST, dtype={"image_id": str})
    split_of = dict(zip(manifest["image_id"], manifest["split"], strict=True))
    table = load_dataset(data_dir, metadata, skip_missing=True)
    wanted = {image_id for image_id, split in split_of.items() if split in ("train", "validation")}
    missing = sorted(wanted - set(table["image_id"]))
    if missing:
        raise IngestError(f"{len(missing)} train/validation images of the bundle are not under {data_dir} "
                          f"(first: {missing[0]}); refreshing a bundle needs all of them")
    splits = table["image_id"].map(split_of).to_numpy()
    paths = table["path"].to_numpy()
    return paths[splits == "train"].tolist(), paths[splits == "validation"].tolist()


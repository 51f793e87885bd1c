"""`refit-input-check`: recompute a bundle's input check with the current fitting code, without retraining.

The statistics and limits depend only on the fitted model and the bundle's own split, so they can be fitted
again from the bundle's Keras model and split manifest exactly as `train` fits them at export. The bundle is
updated in place: input_check.npz, the model card and, last, contract.json (limits and hashes), each written
atomically, so an interrupted refit leaves a bundle whose hashes no longer match, which readers refuse.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import pandas as pd

from contract.bundle import read_thresholds, sha256_of, verify_files, write_atomically, write_json_atomically
from contract.schema import BundleFiles, InputSpec, ModelContract
from training import input_check
from training.data.ingest import load_dataset
from training.data.pipeline import load_images
from training.errors import IngestError
from training.evaluation.report import predict_with_features
from training.model_card import read_history_and_metrics, render_model_card


def refit_input_check(bundle_dir: Path, data_dir: Path, metadata: Path | None = None) -> ModelContract:
    """The bundle's contract after the refit. The old input check is never read: a bundle whose check is of
    an older format (say, before the contract recorded its rank) is refitted as well as a current one."""
    raw = json.loads((bundle_dir / BundleFiles.CONTRACT).read_text())
    verify_files(bundle_dir, raw.get("files", {}))
    size = InputSpec.model_validate(raw["input"]).image_size
    train, validation = _split_paths(bundle_dir, data_dir, metadata)
    model = keras.models.load_model(bundle_dir / BundleFiles.KERAS_MODEL, compile=False)
    train_images = load_images(train, size)
    statistics = input_check.fit_feature_statistics(predict_with_features(model, train_images)[1])
    validation_features = predict_with_features(model, load_images(validation, size))[1]
    limits = input_check.choose_limits(statistics, validation_features, train_images, size)

    written = write_atomically(bundle_dir / BundleFiles.INPUT_CHECK, statistics.save)
    contract = ModelContract.model_validate({**raw, "input_check": limits.model_dump()})
    metrics, history = read_history_and_metrics(bundle_dir)
    card = render_model_card(bundle_dir, contract, read_thresholds(bundle_dir), metrics, history)
    files = {**contract.files, written.name: sha256_of(written), card.name: sha256_of(card)}
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
                          f"(first: {missing[0]}); the input check is fitted on all of them")
    return tuple(  # type: ignore[return-value]
        [paths[image_id] for image_id in chosen.loc[chosen["split"] == name, "image_id"]]
        for name in ("train", "validation"))

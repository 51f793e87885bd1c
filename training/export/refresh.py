"""Refreshing parts of a bundle with the current code, from the bundle's own model and split, without retraining.

The input check's statistics and limits, the LiteRT conversion and the test-split evaluation depend only on the
fitted Keras model and the bundle's split, so they can be made again as `train` makes them at export:

- `refit_input_check`: input_check.npz and the contract's input-check limits;
- `reconvert_litert`: model.tflite (converted and verified against the Keras model) and its gaps in history.json;
- `reevaluate`: metrics.json and the plots, the test split scored again with the current evaluation code.

The new contract is validated before anything is written; then each file is rewritten atomically, the model
card next, and contract.json (version, limits and hashes) last. Every file a refresh keeps must match the old
contract, but the ones it rewrites are not checked, so a refresh that was interrupted can simply be run again;
it ends by reading the bundle back as the service would.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import pandas as pd
from pydantic import ValidationError

from contract.bundle import (
    BundleError,
    read_contract,
    read_thresholds,
    sha256_of,
    verify_files,
    write_atomically,
    write_json_atomically,
)
from contract.schema import BundleFiles, InputSpec, ModelContract
from training import input_check
from training.data.ingest import load_dataset
from training.data.pipeline import load_images
from training.errors import IngestError, TrainingError
from training.evaluation.plots import PLOT_FILES
from training.evaluation.report import (
    OWN_TEST_SPLIT,
    evaluate_split,
    predict_probabilities,
    predict_with_features,
    read_split_manifest,
    train_prevalence,
    write_evaluation,
)
from training.export import litert
from training.export.bundle import contract_test_metrics
from training.model.classifier import load_classifier
from training.model_card import read_history_and_metrics, render_model_card

# What every refresh reads: these must be listed in the contract (and, like every file a refresh does not
# rewrite, still match it).
REQUIRED = (BundleFiles.KERAS_MODEL, BundleFiles.SPLIT_MANIFEST, BundleFiles.METRICS)


class StaleContract(TrainingError):
    """The bundle's contract is of a format this refresh cannot carry forward on its own."""


def refit_input_check(bundle_dir: Path, data_dir: Path, model_version: str,
                      metadata: Path | None = None) -> ModelContract:
    raw, model = _open(bundle_dir, model_version, rewrites={BundleFiles.INPUT_CHECK})
    size = InputSpec.model_validate(raw["input"]).image_size
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
    raw, model = _open(bundle_dir, model_version,
                       rewrites={BundleFiles.LITERT_MODEL, BundleFiles.TRAINING_HISTORY})
    contract = _next_contract(raw, model_version)
    layer, size = contract.explanation.layer, contract.input.image_size
    validation = load_images(_split_paths(bundle_dir, data_dir, metadata)[1][:litert.VERIFY_IMAGES], size)
    flatbuffer = litert.convert(model, layer)
    gaps = litert.verify(flatbuffer, model, layer, validation)
    history = read_history_and_metrics(bundle_dir)[1]
    written = [litert.write_to(bundle_dir / BundleFiles.LITERT_MODEL, flatbuffer),
               write_json_atomically(bundle_dir / BundleFiles.TRAINING_HISTORY, {**history, "litert_gaps": gaps})]
    return _finish(bundle_dir, contract, written)


def reevaluate(bundle_dir: Path, data_dir: Path, model_version: str, metadata: Path | None = None) -> ModelContract:
    raw, model = _open(bundle_dir, model_version, rewrites={BundleFiles.METRICS, *PLOT_FILES})
    contract = _next_contract(raw, model_version)
    [table] = _split_tables(bundle_dir, data_dir, metadata, "test")
    probabilities = predict_probabilities(model, load_images(table["path"].tolist(), contract.input.image_size))
    evaluation = evaluate_split(table, probabilities, read_thresholds(bundle_dir, contract), OWN_TEST_SPLIT,
                                train_prevalence(read_split_manifest(bundle_dir)))
    # the contract's copy of the headline numbers is what /v1/model serves: it must follow metrics.json
    contract = contract.model_copy(update={"test_metrics": contract_test_metrics(evaluation.metrics)})
    return _finish(bundle_dir, contract, write_evaluation(evaluation, bundle_dir))


def _open(bundle_dir: Path, model_version: str, rewrites: set[str]) -> tuple[dict, keras.Model]:
    """The contract as plain JSON and the bundle's Keras model. Every listed file except those this refresh
    rewrites (and the card) must match the contract: what a refresh keeps, it vouches for."""
    try:
        raw = json.loads((bundle_dir / BundleFiles.CONTRACT).read_text())
    except (OSError, ValueError) as error:
        raise BundleError(f"{bundle_dir / BundleFiles.CONTRACT} cannot be read: {error}") from error
    listed = raw.get("files", {}) if isinstance(raw, dict) else {}
    missing = [name for name in REQUIRED if name not in listed]
    if missing:
        raise BundleError(f"{BundleFiles.CONTRACT} does not list {missing}: not a bundle a refresh can work from")
    if model_version == raw.get("model_version"):
        raise StaleContract(f"the bundle is already {model_version}; a refresh changes what the service answers, "
                            "so it needs a new model version (a patch bump for the same weights)")
    kept = {name: digest for name, digest in listed.items() if name not in rewrites | {BundleFiles.MODEL_CARD}}
    verify_files(bundle_dir, kept)
    return raw, load_classifier(bundle_dir / BundleFiles.KERAS_MODEL)


def _next_contract(raw: dict, model_version: str) -> ModelContract:
    """The contract to write, validated before any file changes."""
    try:
        return ModelContract.model_validate({**raw, "model_version": model_version})
    except ValidationError as error:
        hint = ("\n(a bundle from before the input check recorded its rank needs `refit-input-check` first)"
                if "principal_directions" in str(error) else "")
        raise StaleContract(f"{BundleFiles.CONTRACT} cannot be carried forward: {error}{hint}") from error


def _finish(bundle_dir: Path, contract: ModelContract, written: list[Path]) -> ModelContract:
    """Re-render the card, then write the contract with the new hashes, last."""
    metrics, history = read_history_and_metrics(bundle_dir)
    card = render_model_card(bundle_dir, contract, read_thresholds(bundle_dir, contract), metrics, history)
    files = {**contract.files, **{path.name: sha256_of(path) for path in [*written, card]}}
    write_json_atomically(bundle_dir / BundleFiles.CONTRACT, contract.model_copy(update={"files": files}))
    return read_contract(bundle_dir)  # success means a bundle whose every file matches its contract


def _split_paths(bundle_dir: Path, data_dir: Path, metadata: Path | None) -> tuple[list[str], list[str]]:
    """Image paths of the bundle's train and validation splits, in the metadata's order (as `train` sees them)."""
    train, validation = _split_tables(bundle_dir, data_dir, metadata, "train", "validation")
    return train["path"].tolist(), validation["path"].tolist()


def _split_tables(bundle_dir: Path, data_dir: Path, metadata: Path | None, *splits: str) -> list[pd.DataFrame]:
    """The rows of each named split of the bundle, in the metadata's order (as `train` sees them), from one read
    of the data folder; every image of those splits must exist."""
    manifest = read_split_manifest(bundle_dir)  # listed in the contract and verified by _open
    split_of = dict(zip(manifest["image_id"], manifest["split"], strict=True))
    table = load_dataset(data_dir, metadata, skip_missing=True)
    wanted = {image_id for image_id, name in split_of.items() if name in splits}
    missing = sorted(wanted - set(table["image_id"]))
    if missing:
        raise IngestError(f"{len(missing)} {'/'.join(splits)} images of the bundle are not under {data_dir} "
                          f"(first: {missing[0]}); refreshing a bundle needs all of them")
    names = table["image_id"].map(split_of)
    return [table[names == split].reset_index(drop=True) for split in splits]

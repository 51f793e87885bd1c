"""Builds small but real model bundles for tests, through the project's own exporter.

The backbone is EfficientNet-Lite0 with its shipped ImageNet weights at a small input size;
the head gets seeded random weights so probabilities and Grad-CAM maps vary between images.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from contract.bundle import sha256_of, write_json_atomically
from contract.diagnoses import CANCEROUS_CODES, class_index
from contract.schema import BundleFiles, ModelContract, ModelLayers

DIAGNOSES = ("nv", "mel", "bkl", "bcc", "nv", "akiec", "df", "nv", "vasc", "mel")


def synthetic_images(count: int, image_size: int, seed: int = 0) -> np.ndarray:
    """Smooth random blobs on a skin-like background: varied enough to spread the scores."""
    rng = np.random.default_rng(seed)
    grid = np.linspace(-1, 1, image_size)
    yy, xx = np.meshgrid(grid, grid, indexing="ij")
    images = np.empty((count, image_size, image_size, 3), dtype=np.uint8)
    for index in range(count):
        centre, radius = rng.uniform(-0.5, 0.5, 2), rng.uniform(0.2, 0.7)
        blob = np.exp(-((yy - centre[0]) ** 2 + (xx - centre[1]) ** 2) / radius**2)[..., None]
        skin, lesion = rng.uniform(150, 230, 3), rng.uniform(20, 120, 3)
        noise = rng.normal(0, 8, (image_size, image_size, 3))
        images[index] = np.clip(skin * (1 - blob) + lesion * blob + noise, 0, 255).astype(np.uint8)
    return images


def synthetic_table(count: int) -> pd.DataFrame:
    dx = [DIAGNOSES[i % len(DIAGNOSES)] for i in range(count)]
    splits = ["train", "validation", "test"]
    return pd.DataFrame({
        "image_id": [f"ISIC_{i:07d}" for i in range(count)],
        "lesion_id": [f"HAM_{i:07d}" for i in range(count)],
        "dx": dx,
        "label": [int(d in CANCEROUS_CODES) for d in dx],
        "class_index": [class_index(d) for d in dx],
        "split": [splits[i % 3] for i in range(count)],
        "sex": ["male", "female"] * (count // 2) + ["male"] * (count % 2),
        "age": [30 + (i * 7) % 50 for i in range(count)],
        "localization": ["back", "trunk", "face"] * (count // 3) + ["back"] * (count % 3),
    })


def make_bundle(directory: Path, *, image_size: int = 64, with_litert: bool = True,
                with_thresholds: bool = True, seed: int = 7, images: int = 60) -> Path:
    """Write a complete bundle into `directory` (real Keras model, real LiteRT export)."""
    import keras

    from training.config import TrainConfig
    from training.model.classifier import build_classifier
    from training.train import finish

    keras.utils.set_random_seed(seed)
    model = build_classifier("efficientnet_lite0", image_size, weights="imagenet")
    randomise_head(model, seed)
    config = TrainConfig(data_dir=directory, output_dir=directory, backbone="efficientnet_lite0",
                         image_size=image_size, seed=seed, model_version="0.0.1-test", calibrate=False)
    finish(config, model, synthetic_table(images), synthetic_images(images, image_size, seed), {})
    drop = [name for name, keep in ((BundleFiles.LITERT_MODEL, with_litert),
                                    (BundleFiles.THRESHOLD, with_thresholds)) if not keep]
    if drop:
        remove_from_bundle(directory, drop)
    return directory


def randomise_head(model, seed: int) -> None:
    """Give the head weights that spread the probabilities (the default init maps all to ~0.5)."""
    rng = np.random.default_rng(seed)
    for name in (ModelLayers.HEAD_HIDDEN, ModelLayers.LOGITS):
        layer = model.get_layer(name)
        kernel, bias = layer.get_weights()
        layer.set_weights([rng.normal(0, 3.0 / np.sqrt(kernel.shape[0]), kernel.shape).astype("float32"),
                           np.zeros_like(bias)])


def remove_from_bundle(directory: Path, names: list[str]) -> None:
    """Delete files and re-sign the contract, as a bundle exported without them would be."""
    contract_path = directory / BundleFiles.CONTRACT
    contract = ModelContract.model_validate_json(contract_path.read_bytes())
    for name in names:
        (directory / name).unlink(missing_ok=True)
    files = {name: sha256_of(directory / name) for name in contract.files if name not in names}
    write_json_atomically(contract_path, contract.model_copy(update={"files": files}))

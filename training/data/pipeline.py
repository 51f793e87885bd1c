"""Input pipeline: decode every image once with the serving preprocessing, then feed tf.data.

The shared `preprocess_image` runs once per image (in threads: Pillow releases the GIL), so
training sees exactly the pixels the service would compute. Augmentation runs on train only,
on batches, inside tf.data, so it overlaps with the model's step.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import tensorflow as tf
from tqdm import tqdm

from contract.diagnoses import CLASS_CODES
from contract.errors import InvalidImage
from contract.preprocessing import preprocess_image
from training.data.augment import build_augmenter
from training.data.ingest import describe_problem
from training.errors import IngestError

AUTOTUNE = tf.data.AUTOTUNE


def load_images(paths: list[str], image_size: int, workers: int = 4) -> np.ndarray:
    """(N, S, S, 3) uint8 through the serving preprocessing; unreadable files are named, not dropped."""
    images = np.empty((len(paths), image_size, image_size, 3), dtype=np.uint8)
    failures: list[str] = []

    def load(index: int) -> None:
        try:
            images[index] = preprocess_image(Path(paths[index]).read_bytes(), image_size)
        except (OSError, InvalidImage):
            failures.append(Path(paths[index]).stem)

    with ThreadPoolExecutor(workers) as pool:
        list(tqdm(pool.map(load, range(len(paths))), total=len(paths), desc="decode", unit="img"))
    if failures:
        raise IngestError(describe_problem("images could not be decoded", sorted(failures)))
    return images


def class_weights(class_indices: np.ndarray, power: float = 1.0) -> np.ndarray:
    """(K,) loss weights (n / (K * n_c)) ** power for the diagnoses present in the split.

    power 1 makes every diagnosis contribute equally to the loss; 0.5 (the square root) keeps the rare
    diagnoses weighted up while shrinking the spread of weights within a batch (on HAM10000's training split
    dermatofibroma weighs ~14, ~65x a nevus, at power 1, and ~3.7, ~8x a nevus, at 0.5), which makes phase
    2's steps less noisy. A diagnosis absent from the split (possible in --limit runs)
    gets weight 1: it has no samples to weigh.
    """
    classes = len(CLASS_CODES)
    counts = np.bincount(class_indices.astype(np.int64), minlength=classes)
    present = counts > 0
    if present.sum() < 2:
        raise IngestError(f"the training split has fewer than two diagnoses (counts {counts.tolist()})")
    weights = np.ones(classes, dtype=np.float32)
    weights[present] = (len(class_indices) / (present.sum() * counts[present])) ** power
    return weights


def make_dataset(images: np.ndarray, labels: np.ndarray, batch_size: int, *, training: bool,
                 seed: int = 0, weights: np.ndarray | None = None,
                 augmenter: keras.Sequential | None = None) -> tf.data.Dataset:
    """Batches of (float32 images 0-255, int32 class indices[, sample weights]); shuffled+augmented if training
    (by `augmenter`, else build_augmenter's defaults)."""
    dataset = tf.data.Dataset.from_tensor_slices((images, labels.astype(np.int32)))
    if training:
        dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size).map(_to_float, num_parallel_calls=AUTOTUNE)
    if training:
        if augmenter is None:
            augmenter = build_augmenter(seed)
        dataset = dataset.map(lambda x, y: (augmenter(x, training=True), y), num_parallel_calls=AUTOTUNE)
    if weights is not None:
        table = tf.constant(weights, dtype=tf.float32)
        dataset = dataset.map(lambda x, y: (x, y, tf.gather(table, y)))
    return dataset.prefetch(AUTOTUNE)


def _to_float(images: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    return tf.cast(images, tf.float32), labels


def split_arrays(table: pd.DataFrame, images: np.ndarray, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(images, class indices) of one split."""
    mask = (table["split"] == split).to_numpy()
    return images[mask], table.loc[mask, "class_index"].to_numpy()

"""Do the explanation maps sit on the lesion? Energy share and pointing game against the HAM10000 lesion masks.

    python -m bench.explain [--model-dir models] [--split validation|test|both] [--limit N] [--quick] [--json PATH]

For every method, on the bundle's own validation split (where the method and layer are chosen) and test split
(where they are reported), for all images and for the cancerous ones, with each map explaining the image's
predicted class (the service's default) unless --target says otherwise:

- energy share: the share of the map's total (upsampled to the model input) that falls inside the lesion mask;
- pointing game: whether the map's hottest pixel lies inside the lesion;
- empty maps: maps whose peak is below the bundle's empty level, for cancerous verdicts.

The baseline is a centred Gaussian that never looks at the image. Masks are squashed to the model input exactly
as the image is. Needs the [train] extra (the maps of every candidate are computed in TensorFlow, with the
same forward-op LayerCAM the LiteRT model carries) and the HAM10000 masks in ../shared/data/ham10000/masks.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from bench.common import (
    HAM10000,
    choose_bundle,
    ham_image,
    load_keras_model,
    machine_info,
    results_path,
    split_rows,
    write_json,
)
from contract.bundle import read_contract, read_thresholds
from contract.decision import decision_threshold, is_cancerous
from contract.diagnoses import cancer_probability
from contract.preprocessing import preprocess_image

LAYERCAM_LAYERS = ("block4c_add", "block5c_add", "block6d_add", "top_activation")
BATCH = 32
MASK_LEVEL = 128  # the masks' edges are soft from resizing; the README of the masks says threshold at 128


def centre_gaussian(size: int, sigma_fraction: float = 0.25) -> np.ndarray:
    grid = np.linspace(-0.5, 0.5, size)
    yy, xx = np.meshgrid(grid, grid, indexing="ij")
    return np.exp(-(xx**2 + yy**2) / (2 * sigma_fraction**2)).astype(np.float32)


def upsample(maps: np.ndarray, size: int) -> np.ndarray:
    """(N, g, g) -> (N, size, size), bilinear (the service's overlay resampling)."""
    return np.stack([np.asarray(Image.fromarray(m.astype(np.float32)).resize((size, size), Image.Resampling.BILINEAR))
                     for m in maps])


def scores(maps: np.ndarray, masks: np.ndarray) -> dict[str, np.ndarray]:
    """Per image: energy share inside the mask, and whether the hottest pixel is inside it."""
    flat_maps, flat_masks = maps.reshape(len(maps), -1), masks.reshape(len(masks), -1)
    totals = flat_maps.sum(axis=1)
    energy = np.where(totals > 0, (flat_maps * flat_masks).sum(axis=1) / np.maximum(totals, 1e-12), 0.0)
    hottest = flat_maps.argmax(axis=1)
    pointing = flat_masks[np.arange(len(maps)), hottest] & (totals > 0)
    return {"energy_share": energy, "pointing": pointing.astype(float)}


def load_split(bundle: Path, split: str, size: int, limit: int | None) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rows = split_rows(bundle, split, limit)
    images = np.stack([preprocess_image(ham_image(i), size) for i in rows["image_id"]])
    masks = np.stack([np.asarray(Image.open(HAM10000 / "masks" / f"{i}.png").convert("L")
                                 .resize((size, size), Image.Resampling.BILINEAR)) >= MASK_LEVEL
                      for i in rows["image_id"]])
    return rows.reset_index(drop=True), images, masks


def candidate_maps(classifier, images: np.ndarray, cancerous: np.ndarray,
                   size: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(method -> (N, size, size) maps upsampled to the model input, method -> raw maps) of each image's class."""
    import tensorflow as tf

    from training.model.explainer import LayerCam, cancer_log_odds_seed, layercam

    deepest = LayerCam(classifier, LAYERCAM_LAYERS[0])  # its path runs through every later candidate
    targets = {name: classifier.get_layer(name).output for name in LAYERCAM_LAYERS}
    found: dict[str, list[np.ndarray]] = {name: [] for name in ("gradcam@top_activation", *LAYERCAM_LAYERS)}
    for start in range(0, len(images), BATCH):
        batch = tf.constant(images[start : start + BATCH], tf.float32)
        sign = tf.constant(np.where(cancerous[start : start + BATCH], 1.0, -1.0)[:, None, None, None], tf.float32)
        outputs = deepest.forward(batch, training=False)
        values = {key: outputs[f"t{index}"] for index, key in enumerate(deepest._keys)}
        gradients = deepest.gradients_at(values, cancer_log_odds_seed(outputs["logits"]), list(targets.values()))
        for name, tensor in targets.items():
            gradient, activation = sign * gradients[id(tensor)], values[id(tensor)]
            found[name].append(layercam(gradient, activation).numpy())
        top_gradient, top = sign * gradients[id(targets["top_activation"])], values[id(targets["top_activation"])]
        alpha = tf.reduce_mean(top_gradient, axis=(1, 2), keepdims=True)  # Grad-CAM: one weight per channel
        found["gradcam@top_activation"].append(tf.nn.relu(tf.reduce_sum(alpha * top, axis=-1)).numpy())
    raw = {name if name.startswith("gradcam") else f"layercam@{name}": np.concatenate(parts)
           for name, parts in found.items()}
    upsampled = {name: upsample(value, size) for name, value in raw.items()}
    # the fusion the issue suggests: the 12x12 map and the last layer's, each on its own maximum
    upsampled["layercam@block5c_add+top_activation"] = (_normalised(upsampled["layercam@block5c_add"])
                                                         + _normalised(upsampled["layercam@top_activation"]))
    # LayerCAM's own multi-layer fusion: the two 12x12 stages together
    upsampled["layercam@block4c_add+block5c_add"] = (_normalised(upsampled["layercam@block4c_add"])
                                                     + _normalised(upsampled["layercam@block5c_add"]))
    upsampled["centre_gaussian_baseline"] = np.repeat(centre_gaussian(size)[None], len(images), axis=0)
    return upsampled, raw


def _normalised(maps: np.ndarray) -> np.ndarray:
    peaks = maps.reshape(len(maps), -1).max(axis=1)
    return maps / np.maximum(peaks, 1e-12)[:, None, None]


def evaluate_split(bundle: Path, split: str, limit: int | None, target: str) -> dict:
    contract = read_contract(bundle)
    size = contract.input.image_size
    classifier = load_keras_model(bundle)
    rows, images, masks = load_split(bundle, split, size, limit)
    probabilities = np.concatenate([np.asarray(classifier(images[i : i + BATCH].astype(np.float32), training=False))
                                    for i in range(0, len(images), BATCH)])
    verdicts = is_cancerous(cancer_probability(probabilities), decision_threshold(read_thresholds(bundle, contract)))
    explained = verdicts if target == "predicted" else np.full(len(images), target == "cancerous")
    maps, raw = candidate_maps(classifier, images, explained, size)
    truly_cancerous = rows["label"].to_numpy() == 1
    report = {"n": len(rows), "cancerous": int(truly_cancerous.sum()), "target": target, "methods": {}}
    for name, method_maps in maps.items():
        per_image = scores(method_maps, masks)
        report["methods"][name] = {
            group: {metric: round(float(values[subset].mean()), 4) for metric, values in per_image.items()}
            for group, subset in (("all", np.ones(len(rows), bool)), ("cancerous", truly_cancerous))
        }
    layer = contract.explanation.layer
    served = raw.get(f"layercam@{layer}")
    if served is not None:
        peaks = served.reshape(len(served), -1).max(axis=1)
        empty = peaks < contract.explanation.empty_below
        report["served_method"] = f"layercam@{layer}"
        report["empty_maps_for_cancerous_verdicts"] = int((empty & verdicts).sum())
        report["empty_maps_all"] = int(empty.sum())
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", type=Path)
    parser.add_argument("--split", choices=("validation", "test", "both"), default="both")
    parser.add_argument("--target", choices=("predicted", "cancerous", "non-cancerous"), default="predicted")
    parser.add_argument("--limit", type=int, help="at most about N images per split (half cancerous)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 16 images per split")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    bundle = choose_bundle(args.model_dir)
    limit = 16 if args.quick else args.limit
    splits = ("validation", "test") if args.split == "both" else (args.split,)
    report = {"machine": machine_info(), "bundle": bundle.describe(), "limit": limit,
              "splits": {split: evaluate_split(bundle.path, split, limit, args.target) for split in splits}}
    for split, result in report["splits"].items():
        print(f"\n{split}: n={result['n']} ({result['cancerous']} cancerous), target={result['target']}")
        print(f"{'method':42} {'energy all':>11} {'point all':>10} {'energy canc':>12} {'point canc':>11}")
        for name, values in result["methods"].items():
            print(f"{name:42} {values['all']['energy_share']:>11.3f} {values['all']['pointing']:>10.3f} "
                  f"{values['cancerous']['energy_share']:>12.3f} {values['cancerous']['pointing']:>11.3f}")
    write_json(results_path("explain", args.quick, args.json), report)


if __name__ == "__main__":
    main()

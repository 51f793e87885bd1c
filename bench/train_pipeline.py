"""Training input pipeline overhead vs the model's own step time, measured side by side.

    python bench/train_pipeline.py [--data-dir ../shared/data/ham10000] [--images 640] [--quick]

Three numbers, on the same images, batch size and model (Lite0, all layers trainable, as in the
shipped recipe's phase 2):
  1. pipeline alone: batches/s of the training tf.data pipeline (augmentation included), no model;
  2. model step alone: train_on_batch on batches already in memory (no input pipeline);
  3. fit through the pipeline: the real thing.
Overhead = (3) / (2) - 1; the goal is <= 10 %.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import keras
import numpy as np

from training.data import pipeline
from training.data.ingest import load_dataset, stratified_subset
from training.model.classifier import build_classifier, unfreeze_top_of_backbone
from training.train import compile_model


def seconds_per_batch(run_one, batches: int) -> float:
    run_one()  # warm-up: tracing, first allocation
    started = time.perf_counter()
    for _ in range(batches):
        run_one()
    return (time.perf_counter() - started) / batches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data/ham10000"))
    parser.add_argument("--images", type=int, default=640)
    parser.add_argument("--image-size", type=int, default=192)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--quick", action="store_true", help="few batches, small images (CI smoke)")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args()
    if args.quick:
        args.images, args.image_size = 128, 96
    table = stratified_subset(load_dataset(args.data_dir), args.images, seed=0)
    images = pipeline.load_images(table["path"].tolist(), args.image_size)
    labels = table["label"].to_numpy()
    batches = len(images) // args.batch_size - 1
    dataset = pipeline.make_dataset(images, labels, args.batch_size, training=True, seed=0,
                                    weights=pipeline.class_weights(labels)).repeat()

    stream = iter(dataset)
    pipeline_alone = seconds_per_batch(lambda: next(stream), batches)

    model = build_classifier("efficientnet_lite0", args.image_size, weights="imagenet")
    unfreeze_top_of_backbone(model, 0)
    compile_model(model, 1e-5)
    x, y, w = next(iter(dataset))
    step_alone = seconds_per_batch(lambda: model.train_on_batch(x, y, sample_weight=w), batches)

    model.fit(dataset, steps_per_epoch=1, epochs=1, verbose=0)  # warm-up of fit's own function
    started = time.perf_counter()
    model.fit(dataset, steps_per_epoch=batches, epochs=1, verbose=0)
    fit_with_pipeline = (time.perf_counter() - started) / batches

    result = {
        "images": len(images), "image_size": args.image_size, "batch_size": args.batch_size,
        "batches_timed": batches,
        "pipeline_alone_ms_per_batch": round(pipeline_alone * 1e3, 1),
        "model_step_alone_ms_per_batch": round(step_alone * 1e3, 1),
        "fit_through_pipeline_ms_per_batch": round(fit_with_pipeline * 1e3, 1),
        "pipeline_overhead": round(fit_with_pipeline / step_alone - 1, 3),
        "model_ms_per_image": round(step_alone * 1e3 / args.batch_size, 1),
    }
    print(json.dumps(result, indent=2))
    print(f"pipeline overhead: {result['pipeline_overhead']:+.1%} over the model's own step (goal <= +10%)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    keras.utils.set_random_seed(0)
    np.set_printoptions(precision=3)
    main()

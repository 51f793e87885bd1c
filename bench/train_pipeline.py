"""Training input pipeline overhead vs the model's own step time, measured side by side.

    python -m bench.train_pipeline [--data-dir ../shared/data/ham10000] [--images 640] [--quick]

On the same images, batch size and model (the shipped recipe's backbone, all layers trainable, as in its
phase 2), all through `model.fit`, in interleaved rounds (this machine's speed drifts by +-20 % over
minutes, so each figure is the median over rounds):
  1. model alone: fit on one batch already in memory, repeated (no input pipeline at all);
  2. fit through the training pipeline (fused affine augmentation, training/data/augment.py);
  3. fit through the same pipeline with Keras's separate RandomFlip/RandomRotation/RandomZoom layers,
     the obvious alternative the fused layer replaces.
Also each pipeline alone (ms per batch, no model). Overhead = (2) / (1) - 1, in wall and in CPU time;
the goal is <= 10 %.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from unittest import mock

import keras
import numpy as np
import tensorflow as tf

from bench.common import machine_info, write_json
from training.config import TrainConfig
from training.data import augment, pipeline
from training.data.ingest import load_dataset, stratified_subset
from training.fit import compile_model
from training.model.classifier import build_classifier, unfreeze_top_of_backbone

RECIPE = {name: field.default for name, field in TrainConfig.__dataclass_fields__.items()}  # the shipped recipe


def seconds_per_batch(run_one, batches: int) -> float:
    run_one()  # warm-up: tracing, first allocation
    started = time.perf_counter()
    for _ in range(batches):
        run_one()
    return (time.perf_counter() - started) / batches


def fit_seconds_per_batch(model: keras.Model, dataset: tf.data.Dataset, batches: int) -> tuple[float, float]:
    """(wall, CPU) seconds per batch. CPU time (all threads of this process) is the steadier measure here:
    this VM's wall-clock speed flips between two levels for minutes at a time."""
    started, cpu_started = time.perf_counter(), time.process_time()
    model.fit(dataset, steps_per_epoch=batches, epochs=1, verbose=0)
    return (time.perf_counter() - started) / batches, (time.process_time() - cpu_started) / batches


def separate_keras_layers_augmenter(seed: int) -> keras.Sequential:
    """The obvious alternative: one Keras layer, and one resampling pass, per geometric transform; the
    photometric layers are the training augmenter's own, so only the geometric part differs."""
    photometric = augment.build_augmenter(seed).layers[1:]
    return keras.Sequential([
        keras.layers.RandomFlip("horizontal_and_vertical", seed=seed),
        keras.layers.RandomRotation(0.5, fill_mode="reflect", seed=seed + 1),
        keras.layers.RandomZoom((-0.15, 0.25), fill_mode="reflect", seed=seed + 2),
        *photometric,
    ], name="augmentation")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data/ham10000"))
    parser.add_argument("--images", type=int, default=640)
    parser.add_argument("--image-size", type=int, default=192)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians are reported")
    parser.add_argument("--quick", action="store_true", help="few batches, small images (CI smoke)")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args()
    if args.quick:
        args.images, args.image_size, args.rounds = 128, 96, 1
    machine = machine_info()  # before the work: its load average says whether the machine was idle
    table = stratified_subset(load_dataset(args.data_dir), args.images, seed=0)
    images = pipeline.load_images(table["path"].tolist(), args.image_size)
    labels = table["class_index"].to_numpy()  # the seven diagnoses, weighted as the recipe weighs them
    weights = pipeline.class_weights(labels, RECIPE["class_weight_power"])
    batches = len(images) // args.batch_size - 1
    dataset = pipeline.make_dataset(images, labels, args.batch_size, training=True, seed=0,
                                    weights=weights).repeat()

    stream = iter(dataset)
    pipeline_alone = seconds_per_batch(lambda: next(stream), batches)

    model = build_classifier(RECIPE["backbone"], args.image_size, weights="imagenet",
                             colour_constancy=RECIPE["colour_constancy"])
    unfreeze_top_of_backbone(model, 0)
    compile_model(model, 1e-5)
    # One augmented batch, cached: the same element spec as the pipelines (a different one retraces fit's
    # train step with a looser signature, which alone costs ~40 % here), but no input work per step.
    in_memory = dataset.take(1).cache().repeat()
    with mock.patch.object(pipeline, "build_augmenter", separate_keras_layers_augmenter):
        separate_layers = pipeline.make_dataset(images, labels, args.batch_size, training=True, seed=0,
                                                weights=weights).repeat()
    separate_stream = iter(separate_layers)
    separate_pipeline_alone = seconds_per_batch(lambda: next(separate_stream), batches)
    variants = {"model_alone": in_memory, "fused": dataset, "separate_layers": separate_layers}
    for variant in variants.values():
        model.fit(variant, steps_per_epoch=2, epochs=1, verbose=0)  # warm-up: tracing, buffers
    timings: dict[str, list[float]] = {name: [] for name in variants}
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, variant in variants.items():
            wall_s, cpu_s = fit_seconds_per_batch(model, variant, batches)
            timings[name].append(wall_s)
            cpu[name].append(cpu_s)
    step_alone, fit_with_pipeline, fit_separate = (statistics.median(timings[name]) for name in variants)
    cpu_alone, cpu_fused, cpu_separate = (statistics.median(cpu[name]) for name in variants)

    result = {
        "machine": machine, "images": len(images), "image_size": args.image_size, "batch_size": args.batch_size,
        "batches_timed": batches,
        "pipeline_alone_ms_per_batch": round(pipeline_alone * 1e3, 1),
        "pipeline_alone_separate_keras_layers_ms_per_batch": round(separate_pipeline_alone * 1e3, 1),
        "model_step_alone_ms_per_batch": round(step_alone * 1e3, 1),
        "fit_through_pipeline_ms_per_batch": round(fit_with_pipeline * 1e3, 1),
        "fit_with_separate_keras_layers_ms_per_batch": round(fit_separate * 1e3, 1),
        "pipeline_overhead": round(fit_with_pipeline / step_alone - 1, 3),
        "pipeline_overhead_separate_keras_layers": round(fit_separate / step_alone - 1, 3),
        "rounds": args.rounds,
        "all_rounds_ms_per_batch": {name: [round(t * 1e3) for t in ts] for name, ts in timings.items()},
        "cpu_ms_per_batch": {"model_alone": round(cpu_alone * 1e3), "fused": round(cpu_fused * 1e3),
                             "separate_layers": round(cpu_separate * 1e3)},
        "pipeline_cpu_overhead": round(cpu_fused / cpu_alone - 1, 3),
        "pipeline_cpu_overhead_separate_keras_layers": round(cpu_separate / cpu_alone - 1, 3),
        "model_ms_per_image": round(step_alone * 1e3 / args.batch_size, 1),
    }
    print(json.dumps(result, indent=2))
    print(f"pipeline overhead: {result['pipeline_overhead']:+.1%} over the model's own step (goal <= +10%); "
          f"with separate Keras layers: {result['pipeline_overhead_separate_keras_layers']:+.1%}; in CPU time: "
          f"{result['pipeline_cpu_overhead']:+.1%} and {result['pipeline_cpu_overhead_separate_keras_layers']:+.1%}")
    if args.json:
        write_json(args.json, result)


if __name__ == "__main__":
    keras.utils.set_random_seed(0)
    np.set_printoptions(precision=3)
    main()

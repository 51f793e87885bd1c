"""Per-image inference latency and throughput: the service's engines vs the seed's `model.predict` vs a
compiled Keras call vs raw LiteRT, all on one bundle, in one process, on the same preprocessed image.

    python -m bench.inference [--model-dir models] [--iterations 200] [--time-limit 30] [--quick] [--json PATH]

Model-only timings (the input is already a (1, S, S, 3) float32 tensor); the service's own per-request
steps (JPEG decode + resize, the LayerCAM overlay as JPEG and as PNG) are timed separately. LiteRT variants
run first, so TensorFlow's thread pools do not exist yet while they are measured.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from bench.common import (
    choose_bundle,
    load_keras_model,
    machine_info,
    results_path,
    sample_jpeg,
    seed_model_predict,
    summarise_ms,
    time_calls,
    write_json,
)
from contract.bundle import read_contract
from contract.preprocessing import prepare_image, preprocess_image
from contract.schema import BundleFiles
from contract.schema import LiteRTSignature as Sig
from service.inference.dataplane import DISPLAY_SIDE

THREADS = 2  # the service's INFERENCE_THREADS default, and this machine's core count


def measure_litert(bundle: Path, contract, batch: np.ndarray, budget: dict) -> dict:
    from ai_edge_litert.interpreter import Interpreter

    from service.inference.litert_engine import LiteRTEngine

    model = bundle / BundleFiles.LITERT_MODEL
    interpreter = Interpreter(model_path=str(model), num_threads=THREADS)
    predict = interpreter.get_signature_runner(Sig.PREDICT)
    explain = interpreter.get_signature_runner(Sig.EXPLAIN)
    results = {"litert_raw": time_calls(lambda: predict(**{Sig.IMAGES: batch}), **budget),
               "litert_raw_explain": time_calls(lambda: explain(**{Sig.IMAGES: batch}), **budget)}

    engine = LiteRTEngine(model, contract, num_threads=THREADS, pool_size=1)
    results["service_litert_engine"] = time_calls(lambda: engine.predict(batch), **budget)
    results["service_litert_engine_explain"] = time_calls(lambda: engine.explain(batch), **budget)

    # The service's defaults: INFERENCE_CONCURRENCY=2 interpreters, each with INFERENCE_THREADS threads.
    for threads in (THREADS, 1):
        pooled = LiteRTEngine(model, contract, num_threads=threads, pool_size=2)
        results[f"service_litert_engine_2_callers_{threads}_threads"] = concurrent_throughput(
            lambda engine=pooled: engine.predict(batch), callers=2, **budget)
    return results


def concurrent_throughput(call, *, callers: int, iterations: int, time_limit_s: float, warmup: int) -> dict:
    """Images/s with `callers` threads calling at once (latency per call as each caller sees it)."""
    for _ in range(warmup):
        call()
    samples: list[float] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + time_limit_s

    def caller() -> None:
        while time.perf_counter() < deadline:
            with lock:
                if len(samples) >= iterations:
                    return
            began = time.perf_counter()
            call()
            with lock:
                samples.append((time.perf_counter() - began) * 1000)

    started = time.perf_counter()
    with ThreadPoolExecutor(callers) as pool:
        for future in [pool.submit(caller) for _ in range(callers)]:
            future.result()
    elapsed = time.perf_counter() - started
    return {**summarise_ms(samples), "callers": callers, "throughput_per_s": round(len(samples) / elapsed, 2)}


def measure_keras(bundle: Path, contract, batch: np.ndarray, budget: dict, seed_budget: dict) -> dict:
    from service.inference.keras_engine import KerasEngine  # sets TF's thread pools first, as the service does

    engine = KerasEngine(bundle / BundleFiles.KERAS_MODEL, contract, num_threads=THREADS)
    results = {"service_keras_engine": time_calls(lambda: engine.predict(batch), **budget)}

    import tensorflow as tf

    classifier = load_keras_model(bundle)
    results["seed_model_predict"] = time_calls(seed_model_predict(classifier, batch), **seed_budget)
    tensor = tf.constant(batch)
    compiled = tf.function(lambda images: classifier(images, training=False), reduce_retracing=True)
    results["keras_compiled_call"] = time_calls(lambda: compiled(tensor).numpy(), **budget)
    try:
        xla = tf.function(lambda images: classifier(images, training=False), jit_compile=True)
        results["keras_compiled_call_xla"] = time_calls(lambda: xla(tensor).numpy(), **budget)
    except Exception as error:  # XLA is optional on CPU; record why rather than fail the run
        results["keras_compiled_call_xla"] = {"error": f"{type(error).__name__}: {str(error)[:200]}"}
    return results


def measure_service_steps(jpeg: bytes, size: int, bundle: Path, contract, budget: dict) -> dict:
    """The non-model work of one request: decode + resize, the input check, and the explanation overlay.

    The overlay is timed in both of /gradcam's encodings, side by side: JPEG (the default) and PNG.
    """
    from contract.input_check import FeatureStatistics
    from service.inference.heatmap import OverlayFormat, draw_overlay
    from service.inference.input_check import InputCheck

    prepared = prepare_image(jpeg, size, display_side=DISPLAY_SIDE)
    grid = contract.explanation.grid
    raw_map = np.random.default_rng(0).random((grid, grid), dtype=np.float32) * contract.explanation.display_scale
    check = InputCheck(contract.input_check, FeatureStatistics.load(bundle / BundleFiles.INPUT_CHECK))
    features = np.random.default_rng(1).random(contract.output.feature_dim, dtype=np.float32)
    return {
        "preprocess_600x450_jpeg": time_calls(lambda: preprocess_image(jpeg, size), **budget),
        "input_check": time_calls(lambda: check.warnings(prepared.pixels, prepared.original_size, features),
                                  **budget),
        **{f"explanation_overlay_{image_format.value}": time_calls(
            lambda image_format=image_format: draw_overlay(prepared.display, raw_map, contract.explanation,
                                                           image_format), **budget)
           for image_format in OverlayFormat},
    }


def add_ratios(results: dict) -> None:
    """speedup_vs_seed: seed p50 / variant p50; vs_litert_raw: variant p50 / raw LiteRT p50."""
    seed = results.get("seed_model_predict", {}).get("p50_ms")
    litert = results.get("litert_raw", {}).get("p50_ms")
    for row in results.values():
        if "p50_ms" not in row:
            continue
        if seed:
            row["speedup_vs_seed_p50"] = round(seed / row["p50_ms"], 1)
        if litert:
            row["vs_litert_raw_p50"] = round(row["p50_ms"] / litert, 2)
    seed_rate = results.get("seed_model_predict", {}).get("throughput_per_s")
    if seed_rate:
        for row in results.values():
            if "throughput_per_s" in row:
                row["throughput_vs_seed"] = round(row["throughput_per_s"] / seed_rate, 1)


def print_table(results: dict) -> None:
    print(f"\n{'variant':46} {'p50':>8} {'p95':>8} {'p99':>8} {'img/s':>8} {'x seed':>7} {'/litert':>7}")
    for name, row in results.items():
        if "p50_ms" not in row:
            print(f"{name:46} {row}")
            continue
        print(f"{name:46} {row['p50_ms']:8.2f} {row['p95_ms']:8.2f} {row['p99_ms']:8.2f} "
              f"{row['throughput_per_s']:8.1f} {row.get('speedup_vs_seed_p50', ''):>7} "
              f"{row.get('vs_litert_raw_p50', ''):>7}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", type=Path)
    parser.add_argument("--iterations", type=int, default=300, help="timed calls per variant (at most)")
    parser.add_argument("--time-limit", type=float, default=30.0, help="seconds per variant (at most)")
    parser.add_argument("--quick", action="store_true", help="few iterations: checks the script, not the numbers")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.quick:
        args.iterations, args.time_limit = 20, 5.0
    bundle = choose_bundle(args.model_dir)
    contract = read_contract(bundle.path)
    size = contract.input.image_size
    jpeg = sample_jpeg()
    batch = preprocess_image(jpeg, size)[None].astype(np.float32)
    budget = {"iterations": args.iterations, "time_limit_s": args.time_limit, "warmup": 5}
    # model.predict is ~15x slower: fewer calls give the same confidence in a bounded time.
    seed_budget = {"iterations": max(10, args.iterations // 3), "time_limit_s": args.time_limit, "warmup": 3}
    machine = machine_info()  # before the run: its load average says whether anything else was busy
    print(f"bundle: {bundle.note} ({bundle.path}), input {size}x{size}; pid {os.getpid()}")

    results = measure_litert(bundle.path, contract, batch, budget)
    results.update(measure_service_steps(jpeg, size, bundle.path, contract, budget))
    results.update(measure_keras(bundle.path, contract, batch, budget, seed_budget))
    add_ratios(results)
    print_table(results)
    payload = {"benchmark": "inference", "quick": args.quick, "machine": machine,
               "bundle": bundle.describe(), "input": {"jpeg": "600x450", "image_size": size, "batch": 1},
               "threads": THREADS, "results": results}
    write_json(results_path("inference", args.quick, args.json), payload)


if __name__ == "__main__":
    main()

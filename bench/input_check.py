"""How often the input check flags each kind of image, through the service's own engine and check.

    python -m bench.input_check [--model-dir models] [--limit N] [--quick] [--ranks 32,128,1280] [--json PATH]

Proxy sets (the real targets, other clinics' dermoscopy and smartphone photos, are not available here):

- everyday: the photographs scikit-image and scikit-learn ship, plus synthetic flat colours, noise, a
  screenshot-like text image and a document page: all should get `out_of_distribution`;
- ham_validation / ham_test: the bundle's own HAM10000 splits (validation is where the threshold was set);
- ham_validation_other_camera / ham_test_other_camera: the split re-photographed in software (bench/shifts.py):
  3x upscaled, a colour cast, re-encoded as JPEG at quality 70 (what another dermatoscope and camera pipeline
  change); should mostly pass (the validation copy is the one to choose on, the test copy the one to report);
- ham_test_blurred / _dark / _bright / _noisy: degraded copies that should get `blurry` / `underexposed` /
  `overexposed` / `noisy`.

Also the check's cost per request: inference alone against inference plus the check, side by side. With
--ranks, the out-of-distribution rates of the distance refitted at several ranks (how the rank was chosen).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from bench.common import choose_bundle, ham_image, machine_info, results_path, split_rows, time_calls, write_json
from bench.shifts import BLURRED, BRIGHT, DARK, NOISY, OTHER_CAMERA, Shift, jpeg
from contract.bundle import read_contract
from contract.input_check import FeatureStatistics
from contract.preprocessing import prepare_image
from contract.schema import BundleFiles, InputCheckSpec
from service.inference.input_check import InputCheck, WarningCode
from service.inference.litert_engine import LiteRTEngine


def everyday_images() -> dict[str, bytes]:
    """Photos and synthetic images far from dermoscopy."""
    import skimage.data
    from sklearn.datasets import load_sample_images

    found = {}
    for name in ("astronaut", "camera", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry",
                 "coins", "moon", "page", "text", "horse", "retina", "logo", "colorwheel", "clock", "grass",
                 "gravel", "brick"):
        found[f"skimage:{name}"] = jpeg(Image.fromarray(getattr(skimage.data, name)()))
    for index, image in enumerate(load_sample_images().images):
        found[f"sklearn:sample{index}"] = jpeg(Image.fromarray(image))
    rng = np.random.default_rng(0)
    for colour in ((255, 255, 255), (0, 0, 0), (128, 128, 128), (200, 30, 30), (230, 190, 160)):
        found[f"flat:{colour}"] = jpeg(Image.new("RGB", (400, 300), colour))
    for index in range(3):
        found[f"noise:{index}"] = jpeg(Image.fromarray(rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)))
    found["screenshot:text"] = jpeg(_text_image((1280, 800), "white", "black", 40))
    found["document:page"] = jpeg(_text_image((850, 1100), (250, 250, 245), (30, 30, 30), 60))
    return found


def _text_image(size: tuple[int, int], background, ink, lines: int) -> Image.Image:
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    for line in range(lines):
        draw.text((20, 10 + line * (size[1] // lines)), f"{line:03d} The quick brown fox jumps over the lazy dog",
                  fill=ink)
    return image


def ham_images(bundle: Path, split: str, limit: int | None, shift: Shift | None = None) -> dict[str, bytes]:
    """The bundle's `split` images (the first `limit` by image id: a sample with the split's mix of classes),
    shifted by `shift` if given."""
    return {image_id: shift.apply(ham_image(image_id)) if shift else ham_image(image_id)
            for image_id in split_rows(bundle, split)["image_id"][:limit]}


@dataclass(frozen=True)
class Measured:
    """One image as the service sees it: the model input, the size it was sent at, its pooled features."""

    name: str
    pixels: np.ndarray
    original_size: tuple[int, int]
    features: np.ndarray
    probabilities: np.ndarray  # in the contract's class order


def measure_set(images: dict[str, bytes], engine: LiteRTEngine, size: int) -> list[Measured]:
    measured = []
    for name, data in images.items():
        prepared = prepare_image(data, size)
        forward = engine.predict(prepared.pixels[None].astype(np.float32))
        measured.append(Measured(name, prepared.pixels, prepared.original_size, forward.features[0].copy(),
                                 forward.probabilities[0].copy()))
    return measured


def flag_rates(images: list[Measured], check: InputCheck) -> dict:
    counts: dict[str, int] = dict.fromkeys((code.value for code in WarningCode), 0)
    flagged_any, distances, unflagged = 0, [], []
    for image in images:
        warnings = check.warnings(image.pixels, image.original_size, image.features)
        distances.append(check.distance(image.features))
        codes = {warning.code.value for warning in warnings}
        for code in codes:
            counts[code] += 1
        flagged_any += bool(codes)
        if WarningCode.OUT_OF_DISTRIBUTION.value not in codes:
            unflagged.append(image.name)
    n = len(images)
    return {"n": n, "any_warning": round(flagged_any / n, 4),
            **{code: round(count / n, 4) for code, count in counts.items()},
            "distance_median": round(float(np.median(distances)), 2),
            "not_out_of_distribution": unflagged[:10]}


def check_cost(engine: LiteRTEngine, check: InputCheck, image: Measured, blocks: int = 40,
               block_calls: int = 20) -> dict:
    """What the check adds to a request: short blocks of inference alone and of inference followed by the
    check, alternating, and the median over block pairs of the difference of their medians. Neighbouring
    blocks share the machine's state of the moment, so this VM's drift cancels; and the difference includes
    what the check's memory traffic costs the next inference, which timing the check alone would miss."""
    batch = image.pixels[None].astype(np.float32)

    def inference() -> None:
        engine.predict(batch)

    def inference_and_check() -> None:
        forward = engine.predict(batch)
        check.warnings(image.pixels, image.original_size, forward.features[0])

    alone: list[float] = []
    checked: list[float] = []
    for _ in range(blocks):
        alone.append(time_calls(inference, iterations=block_calls, time_limit_s=5.0, warmup=2)["p50_ms"])
        checked.append(time_calls(inference_and_check, iterations=block_calls, time_limit_s=5.0, warmup=2)["p50_ms"])
    added = np.subtract(checked, alone)
    isolated = time_calls(lambda: check.warnings(image.pixels, image.original_size, image.features),
                          iterations=500, time_limit_s=10.0, warmup=5)
    return {"inference_p50_ms": round(float(np.median(alone)), 3),
            "inference_and_check_p50_ms": round(float(np.median(checked)), 3),
            "added_per_request_ms": round(float(np.median(added)), 3),
            "added_per_request_iqr_ms": [round(float(q), 3) for q in np.percentile(added, [25, 75])],
            "check_alone_p50_ms": isolated["p50_ms"], "blocks": blocks, "calls_per_block": block_calls}


def compare_ranks(bundle: Path, engine: LiteRTEngine, spec: InputCheckSpec, sets: dict[str, list[Measured]],
                  ranks: list[int], size: int) -> dict:
    """Out-of-distribution flag rates of the distance fitted at each rank (the threshold at the same
    validation percentile each time), from the training split's features through this engine, and what the
    check adds to a request at that rank."""
    from training.input_check import DISTANCE_PERCENTILE, fit_feature_statistics

    train = np.stack([image.features for image in measure_set(ham_images(bundle, "train", None), engine, size)])
    table = {}
    for rank in ranks:
        statistics = fit_feature_statistics(train, directions=rank)
        threshold = np.percentile(statistics.distance(_features(sets["ham_validation"])), DISTANCE_PERCENTILE)
        row = {name: round(float((statistics.distance(_features(images)) > threshold).mean()), 4)
               for name, images in sets.items()}
        check = InputCheck(spec.model_copy(update={"distance_threshold": float(threshold)}), statistics)
        cost = check_cost(engine, check, sets["ham_test"][0])
        row.update({key: cost[key] for key in ("added_per_request_ms", "check_alone_p50_ms")})
        table[str(rank)] = row
        print(f"rank {rank:5}: " + ", ".join(f"{name} {rate}" for name, rate in row.items()), flush=True)
    return table


def _features(images: list[Measured]) -> np.ndarray:
    return np.stack([image.features for image in images])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", type=Path)
    parser.add_argument("--limit", type=int, help="at most N images of each HAM10000 set")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 20 images of each HAM10000 set")
    parser.add_argument("--ranks", help="also compare the out-of-distribution rates of the distance refitted "
                                        "at these ranks, e.g. 32,64,128,256,1280 (needs the training split)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    bundle = choose_bundle(args.model_dir)
    contract = read_contract(bundle.path)
    size = contract.input.image_size
    limit = 20 if args.quick else args.limit
    engine = LiteRTEngine(bundle.path / BundleFiles.LITERT_MODEL, contract, num_threads=2, pool_size=1)
    check = InputCheck(contract.input_check, FeatureStatistics.load(bundle.path / BundleFiles.INPUT_CHECK))
    sets = {name: measure_set(images, engine, size) for name, images in {
        "everyday": everyday_images(),
        "ham_validation": ham_images(bundle.path, "validation", limit),
        "ham_validation_other_camera": ham_images(bundle.path, "validation", limit, OTHER_CAMERA),
        "ham_test": ham_images(bundle.path, "test", limit),
        "ham_test_other_camera": ham_images(bundle.path, "test", limit, OTHER_CAMERA),
        "ham_test_blurred": ham_images(bundle.path, "test", limit, BLURRED),
        "ham_test_dark": ham_images(bundle.path, "test", limit, DARK),
        "ham_test_bright": ham_images(bundle.path, "test", limit, BRIGHT),
        "ham_test_noisy": ham_images(bundle.path, "test", limit, NOISY),
    }.items()}
    rates = {name: flag_rates(images, check) for name, images in sets.items()}
    cost = check_cost(engine, check, sets["ham_test"][0], blocks=6 if args.quick else 40)
    report = {"machine": machine_info(), "bundle": bundle.describe(), "limit": limit,
              "input_check": contract.input_check.model_dump(), "rates": rates, "check_cost": cost}
    codes = [code.value for code in WarningCode]
    print(f"{'set':28} {'n':>5} {'any':>6} " + " ".join(f"{code:>{len(code)}}" for code in codes))
    for name, row in rates.items():
        print(f"{name:28} {row['n']:>5} {row['any_warning']:>6.3f} "
              + " ".join(f"{row[code]:>{len(code)}.3f}" for code in codes))
    print(f"check cost per request: {cost['added_per_request_ms']} ms added to inference (interquartile "
          f"{cost['added_per_request_iqr_ms']}; inference {cost['inference_p50_ms']} ms p50); "
          f"{cost['check_alone_p50_ms']} ms alone")
    if args.ranks:
        report["out_of_distribution_by_rank"] = compare_ranks(
            bundle.path, engine, contract.input_check, sets, [int(rank) for rank in args.ranks.split(",")], size)
    write_json(results_path("input_check", args.quick, args.json), report)


if __name__ == "__main__":
    main()

"""How often the input check flags each kind of image, through the service's own engine and check.

    python -m bench.input_check [--model-dir models] [--limit N] [--quick] [--json PATH]

Proxy sets (the real targets, other clinics' dermoscopy and smartphone photos, are not available here):

- everyday: the photographs scikit-image and scikit-learn ship, plus synthetic flat colours, noise, a
  screenshot-like text image and a document page: all should get `out_of_distribution`;
- ham_validation / ham_test: the bundle's own HAM10000 splits (validation is where the threshold was set);
- ham_test_other_camera: the test split re-photographed in software: 3x upscaled, a colour cast, re-encoded
  as JPEG at quality 70 (what another dermatoscope and camera pipeline change); should mostly pass;
- ham_test_blurred / _dark / _bright: degraded copies that should get `blurry` / `underexposed` / `overexposed`.

Also the check's cost per request (the Mahalanobis distance and the quality measures, after the engine).
"""

from __future__ import annotations

import argparse
import io
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

from bench.common import REPO_ROOT, choose_bundle, machine_info, results_path, summarise_ms, write_json
from contract.bundle import read_contract
from contract.input_check import FeatureStatistics
from contract.preprocessing import prepare_image
from contract.schema import BundleFiles
from service.inference.input_check import InputCheck, WarningCode
from service.inference.litert_engine import LiteRTEngine

HAM10000 = REPO_ROOT.parent / "shared" / "data" / "ham10000"


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


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


def ham_images(bundle: Path, split: str, limit: int | None,
               transform: Callable[[Image.Image], Image.Image] | None = None, quality: int = 90) -> dict[str, bytes]:
    manifest = pd.read_csv(bundle / BundleFiles.SPLIT_MANIFEST, dtype={"image_id": str})
    ids = manifest.loc[manifest["split"] == split, "image_id"].sort_values().tolist()[:limit]
    found = {}
    for image_id in ids:
        image = Image.open(HAM10000 / "images" / f"{image_id}.jpg")
        found[image_id] = jpeg(transform(image), quality) if transform else (HAM10000 / "images" /
                                                                              f"{image_id}.jpg").read_bytes()
    return found


def other_camera(image: Image.Image) -> Image.Image:
    """Another dermatoscope and camera: 3x larger, warmer and a little more saturated, a softer lens."""
    larger = image.resize((image.width * 3, image.height * 3), Image.Resampling.BICUBIC)
    red, green, blue = larger.split()
    warmer = Image.merge("RGB", (red.point(lambda v: min(255, int(v * 1.06))), green,
                                 blue.point(lambda v: int(v * 0.94))))
    return ImageEnhance.Color(warmer).enhance(1.15).filter(ImageFilter.GaussianBlur(1.0))


def blurred(image: Image.Image) -> Image.Image:
    return image.filter(ImageFilter.GaussianBlur(4))


def dark(image: Image.Image) -> Image.Image:
    return ImageEnhance.Brightness(image).enhance(0.3)


def bright(image: Image.Image) -> Image.Image:
    return ImageEnhance.Brightness(image).enhance(1.9)


def flag_rates(images: dict[str, bytes], engine: LiteRTEngine, check: InputCheck, size: int,
               timings: list[float]) -> dict:
    counts: dict[str, int] = dict.fromkeys((code.value for code in WarningCode), 0)
    flagged_any, distances, unflagged = 0, [], []
    for name, data in images.items():
        prepared = prepare_image(data, size)
        forward = engine.predict(prepared.pixels[None].astype(np.float32))
        started = time.perf_counter()
        warnings = check.warnings(prepared.pixels, prepared.original_size, forward.features[0])
        timings.append((time.perf_counter() - started) * 1000)
        distances.append(check.distance(forward.features[0]))
        codes = {warning.code.value for warning in warnings}
        for code in codes:
            counts[code] += 1
        flagged_any += bool(codes)
        if WarningCode.OUT_OF_DISTRIBUTION.value not in codes:
            unflagged.append(name)
    n = len(images)
    return {"n": n, "any_warning": round(flagged_any / n, 4),
            **{code: round(count / n, 4) for code, count in counts.items()},
            "distance_median": round(float(np.median(distances)), 2),
            "not_out_of_distribution": unflagged[:10]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", type=Path)
    parser.add_argument("--limit", type=int, help="at most N images of each HAM10000 set")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 20 images of each HAM10000 set")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    bundle = choose_bundle(args.model_dir)
    contract = read_contract(bundle.path)
    limit = 20 if args.quick else args.limit
    engine = LiteRTEngine(bundle.path / BundleFiles.LITERT_MODEL, contract, num_threads=2, pool_size=1)
    check = InputCheck(contract.input_check, FeatureStatistics.load(bundle.path / BundleFiles.INPUT_CHECK))
    sets = {
        "everyday": everyday_images(),
        "ham_validation": ham_images(bundle.path, "validation", limit),
        "ham_test": ham_images(bundle.path, "test", limit),
        "ham_test_other_camera": ham_images(bundle.path, "test", limit, other_camera, quality=70),
        "ham_test_blurred": ham_images(bundle.path, "test", limit, blurred),
        "ham_test_dark": ham_images(bundle.path, "test", limit, dark),
        "ham_test_bright": ham_images(bundle.path, "test", limit, bright),
    }
    timings: list[float] = []
    rates = {name: flag_rates(images, engine, check, contract.input.image_size, timings)
             for name, images in sets.items()}
    report = {"machine": machine_info(), "bundle": bundle.describe(), "limit": limit,
              "input_check": contract.input_check.model_dump(), "rates": rates,
              "check_cost_ms": summarise_ms(timings)}
    print(f"{'set':24} {'n':>5} {'any':>6} {'ood':>6} {'blurry':>7} {'dark':>6} {'bright':>7} {'lowres':>7}")
    for name, row in rates.items():
        print(f"{name:24} {row['n']:>5} {row['any_warning']:>6.3f} {row['out_of_distribution']:>6.3f} "
              f"{row['blurry']:>7.3f} {row['underexposed']:>6.3f} {row['overexposed']:>7.3f} "
              f"{row['low_resolution']:>7.3f}")
    print(f"check cost per request: p50 {report['check_cost_ms']['p50_ms']} ms")
    write_json(results_path("input_check", args.quick, args.json), report)


if __name__ == "__main__":
    main()

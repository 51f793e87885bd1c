"""How the served model holds up when the camera changes: the bundle's held-out HAM10000 split, re-photographed
in software (bench/shifts.py), scored through the service's own decoding, LiteRT engine and input check.

    python -m bench.acquisition_shift [--model-dir models] [--split test] [--limit N] [--quick] [--json PATH]

Other clinics' dermoscopy is not available here, and these shifts only stand in for it: a model that loses
little under them may still lose more on real images from elsewhere, but one that loses much here will too.
For each shift, on the same images as the unshifted split:
- the cancer probability's ROC-AUC, PR-AUC, expected calibration error, and sensitivity and specificity at the
  bundle's validation-tuned threshold (training.evaluation.metrics, as metrics.json computes them);
- the seven-class balanced accuracy of the differential's top diagnosis;
- how far each image's probability moved from its unshifted value (median and 95th percentile), and the share
  of verdicts that changed;
- the share of images the input check flags (any warning; out of distribution).

Nothing is chosen on these numbers; `--split validation` exists for comparing candidate bundles before one is
shipped, `test` (the default) is the split to report.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bench.common import HAM10000, choose_bundle, machine_info, results_path, write_json
from bench.shifts import ACQUISITION_SHIFTS, Shift
from contract.bundle import read_contract, read_thresholds
from contract.decision import decision_threshold
from contract.diagnoses import cancer_probability, class_index
from contract.input_check import FeatureStatistics
from contract.preprocessing import prepare_image
from contract.schema import BundleFiles
from service.inference.input_check import InputCheck, WarningCode
from service.inference.litert_engine import LiteRTEngine
from training.data.ingest import binary_label, load_dataset
from training.evaluation.metrics import differential_metrics, summary_metrics

QUICK_IMAGES = 60  # a stratified handful: enough of each binary class for the AUCs to exist


@dataclass(frozen=True)
class Scored:
    """The split under one shift, as the service saw it."""

    probabilities: np.ndarray  # (N, K) the differential
    flagged: np.ndarray  # (N,) bool: any input-check warning
    out_of_distribution: np.ndarray  # (N,) bool


def held_out_images(bundle: Path, split: str, limit: int | None) -> pd.DataFrame:
    """The bundle's `split` images with their diagnoses (image_id, dx, path), in a fixed order; with `limit`, a
    sample that keeps both binary classes."""
    manifest = pd.read_csv(bundle / BundleFiles.SPLIT_MANIFEST, dtype={"image_id": str})
    ids = set(manifest.loc[manifest["split"] == split, "image_id"])
    table = load_dataset(HAM10000)
    table = table[table["image_id"].isin(ids)].sort_values("image_id").reset_index(drop=True)
    if limit is not None and limit < len(table):
        labels = table["dx"].map(binary_label)
        per_class = limit // 2
        table = pd.concat([table[labels == value].head(per_class) for value in (0, 1)]).reset_index(drop=True)
    return table


def score(shift: Shift, originals: list[bytes], engine: LiteRTEngine, check: InputCheck, size: int) -> Scored:
    probabilities, flagged, foreign = [], [], []
    for original in originals:
        prepared = prepare_image(shift.apply(original), size)
        forward = engine.predict(prepared.pixels[None].astype(np.float32))
        warnings = check.warnings(prepared.pixels, prepared.original_size, forward.features[0])
        probabilities.append(forward.probabilities[0])
        flagged.append(bool(warnings))
        foreign.append(any(w.code is WarningCode.OUT_OF_DISTRIBUTION for w in warnings))
    return Scored(np.stack(probabilities), np.array(flagged), np.array(foreign))


def shift_row(scored: Scored, baseline: Scored, table: pd.DataFrame, classes: list[str], threshold: float) -> dict:
    labels = table["dx"].map(binary_label).to_numpy()
    cancer = cancer_probability(scored.probabilities, classes)
    baseline_cancer = cancer_probability(baseline.probabilities, classes)
    summary = summary_metrics(labels, cancer, threshold)
    seven = differential_metrics(table["dx"].map(class_index).to_numpy(), scored.probabilities)
    moved = np.abs(cancer - baseline_cancer)
    return {
        **{key: round(float(summary[key]), 4) for key in ("roc_auc", "pr_auc", "ece", "sensitivity", "specificity")},
        "balanced_accuracy_7": round(float(seven["balanced_accuracy"]), 4),
        "probability_change_median": round(float(np.median(moved)), 4),
        "probability_change_p95": round(float(np.percentile(moved, 95)), 4),
        "verdicts_changed": round(float(np.mean((cancer >= threshold) != (baseline_cancer >= threshold))), 4),
        "flagged_any": round(float(scored.flagged.mean()), 4),
        "flagged_out_of_distribution": round(float(scored.out_of_distribution.mean()), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", type=Path)
    parser.add_argument("--split", choices=("test", "validation"), default="test")
    parser.add_argument("--limit", type=int, help="at most N images, half of each binary class")
    parser.add_argument("--quick", action="store_true", help=f"a smoke run on {QUICK_IMAGES} images")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    bundle = choose_bundle(args.model_dir)
    contract = read_contract(bundle.path)
    classes, size = list(contract.output.classes), contract.input.image_size
    threshold = decision_threshold(read_thresholds(bundle.path, contract))
    engine = LiteRTEngine(bundle.path / BundleFiles.LITERT_MODEL, contract, num_threads=2, pool_size=1)
    check = InputCheck(contract.input_check, FeatureStatistics.load(bundle.path / BundleFiles.INPUT_CHECK))
    table = held_out_images(bundle.path, args.split, QUICK_IMAGES if args.quick else args.limit)
    originals = [Path(path).read_bytes() for path in table["path"]]
    scored = {shift.name: score(shift, originals, engine, check, size) for shift in ACQUISITION_SHIFTS}
    baseline = scored["none"]
    rows = {shift.name: {"description": shift.description,
                         **shift_row(scored[shift.name], baseline, table, classes, threshold)}
            for shift in ACQUISITION_SHIFTS}
    print(f"{args.split} split, {len(table)} images, threshold {threshold:.3f}")
    print(f"{'shift':16} {'ROC':>6} {'PR':>6} {'ECE':>6} {'sens':>6} {'spec':>6} {'bacc7':>6} {'|dp|50':>7} "
          f"{'|dp|95':>7} {'flips':>6} {'warn':>6} {'ood':>6}")
    for name, row in rows.items():
        print(f"{name:16} {row['roc_auc']:6.3f} {row['pr_auc']:6.3f} {row['ece']:6.3f} {row['sensitivity']:6.3f} "
              f"{row['specificity']:6.3f} {row['balanced_accuracy_7']:6.3f} {row['probability_change_median']:7.3f} "
              f"{row['probability_change_p95']:7.3f} {row['verdicts_changed']:6.3f} {row['flagged_any']:6.3f} "
              f"{row['flagged_out_of_distribution']:6.3f}")
    report = {"machine": machine_info(), "bundle": bundle.describe(), "split": args.split, "images": len(table),
              "positives": int(table["dx"].map(binary_label).sum()), "threshold": threshold, "shifts": rows}
    write_json(results_path("acquisition_shift", args.quick, args.json), report)


if __name__ == "__main__":
    main()

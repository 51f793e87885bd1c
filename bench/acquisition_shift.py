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
shipped, `test` (the default) is the split to report. `--limit` and `--quick` score a sample with half of each
binary class, whose PR-AUC, calibration and shares are not the split's (the report says so).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bench.common import choose_bundle, ham_image, machine_info, results_path, split_rows, write_json
from bench.input_check import measure_set
from bench.shifts import ACQUISITION_SHIFTS, Shift
from contract.bundle import read_contract, read_thresholds
from contract.decision import decision_threshold, is_cancerous
from contract.diagnoses import CLASS_CODES, cancer_probability, class_index
from contract.input_check import FeatureStatistics
from contract.schema import BundleFiles
from service.inference.input_check import InputCheck, WarningCode
from service.inference.litert_engine import LiteRTEngine
from training.evaluation.metrics import differential_metrics, summary_metrics

QUICK_IMAGES = 60  # a sample of both binary classes: enough for the AUCs to exist
COLUMNS = ("roc_auc", "pr_auc", "ece", "sensitivity", "specificity", "balanced_accuracy_7",
           "probability_change_median", "probability_change_p95", "verdicts_changed", "flagged_any",
           "flagged_out_of_distribution")


@dataclass(frozen=True)
class Scored:
    """The split under one shift, as the service saw it."""

    probabilities: np.ndarray  # (N, K) the differential, in CLASS_CODES order
    flagged: np.ndarray  # (N,) bool: any input-check warning
    out_of_distribution: np.ndarray  # (N,) bool


def score(shift: Shift, originals: list[bytes], engine: LiteRTEngine, check: InputCheck, size: int,
          classes: list[str]) -> Scored:
    """Every image shifted, then decoded, classified and checked by the service's own code."""
    measured = measure_set({str(i): shift.apply(data) for i, data in enumerate(originals)}, engine, size)
    codes = [{w.code for w in check.warnings(m.pixels, m.original_size, m.features)} for m in measured]
    in_class_codes_order = [classes.index(code) for code in CLASS_CODES]  # what the metrics index by
    return Scored(np.stack([m.probabilities for m in measured])[:, in_class_codes_order],
                  np.array([bool(found) for found in codes]),
                  np.array([WarningCode.OUT_OF_DISTRIBUTION in found for found in codes]))


def shift_row(scored: Scored, baseline: Scored, rows: pd.DataFrame, threshold: float) -> dict:
    """One shift's metrics on `rows` (the manifest's dx and label), and how far it moved from the baseline."""
    labels = rows["label"].to_numpy()
    cancer, baseline_cancer = (cancer_probability(s.probabilities, CLASS_CODES) for s in (scored, baseline))
    summary = summary_metrics(labels, cancer, threshold)
    seven = differential_metrics(rows["dx"].map(class_index).to_numpy(), scored.probabilities)
    moved = np.abs(cancer - baseline_cancer)
    changed = is_cancerous(cancer, threshold) != is_cancerous(baseline_cancer, threshold)
    return {
        **{key: round(float(summary[key]), 4) for key in ("roc_auc", "pr_auc", "ece", "sensitivity", "specificity")},
        "balanced_accuracy_7": round(float(seven["balanced_accuracy"]), 4),
        "probability_change_median": round(float(np.median(moved)), 4),
        "probability_change_p95": round(float(np.percentile(moved, 95)), 4),
        "verdicts_changed": round(float(np.mean(changed)), 4),
        "flagged_any": round(float(scored.flagged.mean()), 4),
        "flagged_out_of_distribution": round(float(scored.out_of_distribution.mean()), 4),
    }


def print_table(rows: dict[str, dict]) -> None:
    short = ("ROC", "PR", "ECE", "sens", "spec", "bacc7", "|dp|50", "|dp|95", "flips", "warn", "ood")
    print(f"{'shift':16} " + " ".join(f"{name:>7}" for name in short))
    for name, row in rows.items():
        print(f"{name:16} " + " ".join(f"{row[column]:7.3f}" for column in COLUMNS))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", type=Path)
    parser.add_argument("--split", choices=("test", "validation"), default="test")
    parser.add_argument("--limit", type=int, help="a sample of N images (at least 2), half of each binary class")
    parser.add_argument("--quick", action="store_true", help=f"a smoke run on {QUICK_IMAGES} images")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.limit is not None and args.limit < 2:
        parser.error("--limit must be at least 2: one image of each binary class")
    limit = QUICK_IMAGES if args.quick else args.limit
    bundle = choose_bundle(args.model_dir)
    contract = read_contract(bundle.path)
    threshold = decision_threshold(read_thresholds(bundle.path, contract))
    engine = LiteRTEngine(bundle.path / BundleFiles.LITERT_MODEL, contract, num_threads=2, pool_size=1)
    check = InputCheck(contract.input_check, FeatureStatistics.load(bundle.path / BundleFiles.INPUT_CHECK))
    rows = split_rows(bundle.path, args.split, limit)
    originals = [ham_image(image_id) for image_id in rows["image_id"]]
    scored = {shift.name: score(shift, originals, engine, check, contract.input.image_size,
                                list(contract.output.classes)) for shift in ACQUISITION_SHIFTS}
    results = {shift.name: {"description": shift.description, **shift_row(scored[shift.name], scored["none"], rows,
                                                                          threshold)}
               for shift in ACQUISITION_SHIFTS}
    print(f"{args.split} split, {len(rows)} images{' (a sample)' if limit else ''}, threshold {threshold:.3f}")
    print_table(results)
    report = {"machine": machine_info(), "bundle": bundle.describe(), "quick": args.quick, "split": args.split,
              "sample_of": limit, "images": len(rows), "positives": int(rows["label"].sum()),
              "threshold": threshold, "shifts": results}
    write_json(results_path("acquisition_shift", args.quick, args.json), report)


if __name__ == "__main__":
    main()

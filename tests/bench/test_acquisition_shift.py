"""bench.acquisition_shift: the probabilities come back in CLASS_CODES order whatever the bundle's order, and a
shift's row scores it and measures what moved against the unshifted images."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from bench.acquisition_shift import Scored, score, shift_row
from bench.shifts import ACQUISITION_SHIFTS, jpeg
from contract.diagnoses import CLASS_CODES
from service.inference.input_check import InputWarning, WarningCode


def _scored(cancer_share: list[float], flagged: list[bool]) -> Scored:
    """One image per entry: `cancer_share` of its probability on mel, the rest on nv."""
    probabilities = np.zeros((len(cancer_share), len(CLASS_CODES)))
    probabilities[:, CLASS_CODES.index("mel")] = cancer_share
    probabilities[:, CLASS_CODES.index("nv")] = 1 - np.asarray(cancer_share)
    return Scored(probabilities, np.array(flagged), np.zeros(len(flagged), bool))


def test_a_row_scores_the_shift_and_counts_what_moved_against_the_baseline():
    rows = pd.DataFrame({"dx": ["mel", "mel", "nv", "nv"], "label": [1, 1, 0, 0]})
    baseline = _scored([0.9, 0.6, 0.2, 0.1], [False] * 4)
    shifted = _scored([0.8, 0.4, 0.45, 0.1], [True, False, False, False])
    row = shift_row(shifted, baseline, rows, threshold=0.5)
    assert row["verdicts_changed"] == 0.25  # the second melanoma fell below the threshold
    assert row["sensitivity"] == 0.5 and row["specificity"] == 1.0
    assert row["roc_auc"] == 0.75  # 0.4 ranks below 0.45
    assert row["probability_change_median"] == pytest.approx(0.15)  # of 0.1, 0.2, 0.25, 0
    assert row["flagged_any"] == 0.25 and row["flagged_out_of_distribution"] == 0.0
    assert row["balanced_accuracy_7"] == pytest.approx(0.75)  # mel 1/2, nv 2/2


def test_the_baseline_against_itself_changes_nothing():
    rows = pd.DataFrame({"dx": ["mel", "nv"], "label": [1, 0]})
    baseline = _scored([0.7, 0.2], [False, False])
    row = shift_row(baseline, baseline, rows, threshold=0.5)
    assert row["verdicts_changed"] == row["probability_change_p95"] == 0.0 and row["roc_auc"] == 1.0


def test_scores_are_reordered_from_the_bundles_class_order_and_warnings_counted():
    bundle_order = list(reversed(CLASS_CODES))
    answer = np.arange(1, len(CLASS_CODES) + 1, dtype=np.float32) / 28  # distinct per class, sums to 1

    class Engine:
        def predict(self, images):
            return SimpleNamespace(probabilities=np.tile(answer, (len(images), 1)),
                                   features=np.zeros((len(images), 4), np.float32))

    class Check:
        def warnings(self, pixels, original_size, features):
            return [InputWarning(WarningCode.OUT_OF_DISTRIBUTION, "far")]

    image = jpeg(Image.new("RGB", (40, 30), (180, 120, 100)))
    scored = score(ACQUISITION_SHIFTS[0], [image, image], Engine(), Check(), 32, bundle_order)
    for code in CLASS_CODES:
        assert scored.probabilities[0, CLASS_CODES.index(code)] == answer[bundle_order.index(code)]
    assert scored.flagged.all() and scored.out_of_distribution.all()

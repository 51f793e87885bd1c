"""bench.acquisition_shift's per-shift row: metrics of the shifted scores, and change against the unshifted ones."""

import numpy as np
import pandas as pd
import pytest

from bench.acquisition_shift import Scored, shift_row
from contract.diagnoses import CLASS_CODES


def _scored(cancer_share: list[float], flagged: list[bool]) -> Scored:
    """One image per entry: `cancer_share` of its probability on mel, the rest on nv."""
    probabilities = np.zeros((len(cancer_share), len(CLASS_CODES)))
    probabilities[:, CLASS_CODES.index("mel")] = cancer_share
    probabilities[:, CLASS_CODES.index("nv")] = 1 - np.asarray(cancer_share)
    return Scored(probabilities, np.array(flagged), np.zeros(len(flagged), bool))


def test_a_row_scores_the_shift_and_counts_what_moved_against_the_baseline():
    table = pd.DataFrame({"dx": ["mel", "mel", "nv", "nv"]})
    baseline = _scored([0.9, 0.6, 0.2, 0.1], [False] * 4)
    shifted = _scored([0.8, 0.4, 0.45, 0.1], [True, False, False, False])
    row = shift_row(shifted, baseline, table, list(CLASS_CODES), threshold=0.5)
    assert row["verdicts_changed"] == 0.25  # the second melanoma fell below the threshold
    assert row["sensitivity"] == 0.5 and row["specificity"] == 1.0
    assert row["roc_auc"] == 0.75  # 0.4 ranks below 0.45
    assert row["probability_change_median"] == pytest.approx(0.15)  # of 0.1, 0.2, 0.25, 0
    assert row["flagged_any"] == 0.25 and row["flagged_out_of_distribution"] == 0.0
    assert row["balanced_accuracy_7"] == pytest.approx(0.75)  # mel 1/2, nv 2/2


def test_the_baseline_against_itself_changes_nothing():
    table = pd.DataFrame({"dx": ["mel", "nv"]})
    baseline = _scored([0.7, 0.2], [False, False])
    row = shift_row(baseline, baseline, table, list(CLASS_CODES), threshold=0.5)
    assert row["verdicts_changed"] == row["probability_change_p95"] == 0.0 and row["roc_auc"] == 1.0

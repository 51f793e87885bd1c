import numpy as np
import pandas as pd
import pytest

from training.errors import TrainingError
from training.evaluation.metrics import (
    bootstrap_intervals,
    expected_calibration_error,
    subgroup_metrics,
    summary_metrics,
)
from training.thresholds import high_sensitivity_threshold, tune_thresholds, youden_threshold

LABELS = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 1])
SCORES = np.array([0.05, 0.1, 0.2, 0.3, 0.45, 0.6, 0.4, 0.7, 0.8, 0.9])


def test_youden_picks_the_threshold_with_best_sensitivity_plus_specificity():
    # at 0.7: sens 3/4, spec 6/6 -> J 0.75; at 0.4: sens 1, spec 4/6 -> J 0.667
    assert youden_threshold(LABELS, SCORES) == pytest.approx(0.7)


def test_high_sensitivity_threshold_is_the_largest_reaching_the_target():
    assert high_sensitivity_threshold(LABELS, SCORES, target=0.75) == pytest.approx(0.7)
    assert high_sensitivity_threshold(LABELS, SCORES, target=0.9) == pytest.approx(0.4)


def test_threshold_report_records_what_it_achieved_on_validation():
    report = tune_thresholds(LABELS, SCORES, model_sha256="abc")
    assert report.split == "validation"
    assert (report.threshold, report.sensitivity, report.specificity, report.precision) == \
        pytest.approx((0.7, 0.75, 1.0, 1.0))
    assert report.high_sensitivity.sensitivity >= 0.9
    assert report.high_sensitivity.specificity == pytest.approx(4 / 6)
    assert report.model_sha256 == "abc"


def test_threshold_tuning_needs_both_classes():
    with pytest.raises(TrainingError, match="both classes"):
        tune_thresholds(np.zeros(5), np.linspace(0, 1, 5), "x")


def test_summary_metrics_at_threshold():
    metrics = summary_metrics(LABELS, SCORES, 0.5)
    # predicted positive: 0.6 (neg), 0.7, 0.8, 0.9 -> TP 3, FP 1, FN 1, TN 5
    assert metrics["sensitivity"] == pytest.approx(0.75)
    assert metrics["specificity"] == pytest.approx(5 / 6)
    assert metrics["precision"] == pytest.approx(0.75)
    assert metrics["accuracy"] == pytest.approx(0.8)
    assert metrics["roc_auc"] == pytest.approx(22 / 24)  # 0.4 outranks 4 negatives, the rest all 6
    assert metrics["brier"] == pytest.approx(np.mean((SCORES - LABELS) ** 2))


def test_expected_calibration_error_of_known_cases():
    labels = np.array([1, 0] * 50)
    assert expected_calibration_error(labels, np.full(100, 0.5)) == pytest.approx(0.0)
    assert expected_calibration_error(labels, np.full(100, 0.95)) == pytest.approx(0.45)


def test_bootstrap_interval_brackets_the_point_estimate():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 400)
    scores = np.clip(labels * 0.3 + rng.random(400) * 0.7, 0, 1)
    intervals = bootstrap_intervals(labels, scores, 0.5, rounds=200)
    point = summary_metrics(labels, scores, 0.5)
    for name, (low, high) in intervals.items():
        assert low <= point[name] <= high
        assert high - low < 0.2


def test_without_lesions_each_image_is_its_own_draw():
    rng = np.random.default_rng(1)
    labels, scores = rng.integers(0, 2, 200), rng.random(200)
    singletons = np.array([f"{i:04d}" for i in range(200)])  # one lesion per image, in image order
    assert bootstrap_intervals(labels, scores, 0.5, rounds=100) == bootstrap_intervals(
        labels, scores, 0.5, singletons, rounds=100)


def test_lesions_are_resampled_whole_so_repeated_views_widen_the_interval():
    # 60 lesions seen 5 times each: 300 images carry only 60 lesions' worth of evidence
    rng = np.random.default_rng(2)
    lesion_labels = rng.integers(0, 2, 60)
    lesion_scores = np.clip(lesion_labels * 0.25 + rng.random(60) * 0.75, 0, 1)
    labels, scores = np.repeat(lesion_labels, 5), np.repeat(lesion_scores, 5)
    lesions = np.repeat([f"HAM_{i}" for i in range(60)], 5)
    by_image = bootstrap_intervals(labels, scores, 0.5, rounds=300)["roc_auc"]
    by_lesion = bootstrap_intervals(labels, scores, 0.5, lesions, rounds=300)["roc_auc"]
    once = bootstrap_intervals(lesion_labels, lesion_scores, 0.5, rounds=300)["roc_auc"]
    width = lambda interval: interval[1] - interval[0]  # noqa: E731
    assert width(by_lesion) > 1.5 * width(by_image)
    assert width(by_lesion) == pytest.approx(width(once), rel=0.35)  # as wide as the 60 lesions seen once


def test_subgroups_cover_sex_age_localisation_and_diagnosis():
    table = pd.DataFrame({"label": LABELS.tolist() * 2, "sex": ["male", "female"] * 10, "age": [35, 70] * 10,
                          "localization": ["back"] * 20, "dx": ["nv"] * 12 + ["mel"] * 8})
    groups = subgroup_metrics(table, np.tile(SCORES, 2), 0.5)
    assert set(groups) == {"sex", "age_band", "localization", "dx"}
    assert groups["localization"]["back"]["n"] == 20
    assert set(groups["age_band"]) == {"[30, 45)", "[60, 75)"}


def test_differential_metrics_score_the_top_diagnosis_per_class():
    from training.evaluation.metrics import differential_metrics

    truth = np.array([4, 4, 5, 5, 5, 1])  # mel, mel, nv, nv, nv, bcc
    probabilities = np.full((6, 7), 0.01)
    for row, top in enumerate([4, 5, 5, 5, 5, 1]):  # one melanoma is called a nevus
        probabilities[row, top] = 0.94
    report = differential_metrics(truth, probabilities, train_prevalence=np.full(7, 1 / 7))
    assert report["per_class"]["mel"]["recall"] == 0.5 and report["per_class"]["nv"]["recall"] == 1.0
    assert report["per_class"]["nv"]["precision"] == 0.75
    assert report["balanced_accuracy"] == pytest.approx((0.5 + 1.0 + 1.0) / 3), "absent classes are left out"
    assert report["balanced_accuracy_prevalence_adjusted"] == pytest.approx(report["balanced_accuracy"])
    assert np.array(report["confusion_matrix"]).sum() == 6 and report["confusion_matrix"][4][5] == 1


def test_the_high_sensitivity_threshold_is_never_above_the_decision_threshold():
    labels = np.array([0] * 5 + [1] * 10)
    # perfectly separated: Youden takes the lowest positive (0.5); 90 % sensitivity alone would allow 0.55
    scores = np.concatenate([np.linspace(0.05, 0.4, 5), np.linspace(0.5, 0.95, 10)])
    assert high_sensitivity_threshold(labels, scores) > youden_threshold(labels, scores)
    report = tune_thresholds(labels, scores)
    assert report.high_sensitivity.threshold == report.threshold and "capped" in report.high_sensitivity.criterion
    assert report.high_sensitivity.sensitivity >= 0.9

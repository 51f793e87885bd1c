import numpy as np
import pytest

from tests.bundle_factory import randomise_head, synthetic_images
from training.calibration import fit_platt, fold_into_head, logit
from training.metrics import expected_calibration_error
from training.model.classifier import build_classifier


def test_platt_scaling_recovers_a_known_distortion():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(0, 2, 20_000)
    labels = (rng.random(20_000) < 1 / (1 + np.exp(-true_logits))).astype(int)
    overconfident = 1 / (1 + np.exp(-(3 * true_logits + 1)))  # what class weighting can do
    scale, shift = fit_platt(overconfident, labels)
    assert (scale, shift) == pytest.approx((1 / 3, -1 / 3), abs=0.03)
    calibrated = 1 / (1 + np.exp(-(scale * logit(overconfident) + shift)))
    assert expected_calibration_error(labels, calibrated) < 0.02 < expected_calibration_error(labels, overconfident)


def test_folding_into_the_head_equals_applying_platt_outside():
    model = build_classifier("efficientnet_lite0", 64, weights="none")
    randomise_head(model, seed=1)
    images = synthetic_images(6, 64).astype("float32")
    before = np.asarray(model(images)).reshape(-1)
    fold_into_head(model, 0.5, -0.2)
    after = np.asarray(model(images)).reshape(-1)
    expected = 1 / (1 + np.exp(-(0.5 * logit(before) - 0.2)))
    np.testing.assert_allclose(after, expected, atol=1e-5)


def test_a_backwards_ranking_is_refused():
    with pytest.raises(ValueError, match="not positive"):
        fit_platt(np.array([0.9, 0.8, 0.7, 0.2, 0.1, 0.3]), np.array([0, 0, 0, 1, 1, 1]))

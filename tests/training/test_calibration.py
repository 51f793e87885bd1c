"""Temperature and class-bias scaling: fitted on labels, folded into the logits layer exactly."""

import numpy as np
import pytest
from scipy.special import softmax

from tests.bundle_factory import randomise_head, synthetic_images
from training.calibration import Scaling, fit_scaling, fold_into_logits, logits_model
from training.evaluation.metrics import expected_calibration_error
from training.model.classifier import build_classifier


def test_scaling_recovers_a_known_distortion():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(0, 1.5, (20_000, 7))
    labels = np.array([rng.choice(7, p=p) for p in softmax(true_logits, axis=1)])
    prior_shift = np.array([0.0, 1.0, -0.5, 2.0, 0.0, -1.0, 0.5])
    distorted = 3.0 * true_logits + prior_shift  # overconfident, with the class weighting's prior shift
    scaling = fit_scaling(distorted, labels)
    assert scaling.temperature == pytest.approx(3.0, rel=0.05)
    expected_bias = -prior_shift / 3.0
    np.testing.assert_allclose(np.array(scaling.bias) - scaling.bias[0], expected_bias - expected_bias[0], atol=0.08)
    cancer = [0, 1, 4]
    is_cancer = np.isin(labels, cancer).astype(int)
    before = softmax(distorted, axis=1)[:, cancer].sum(axis=1)
    after = softmax(scaling.apply(distorted), axis=1)[:, cancer].sum(axis=1)
    assert expected_calibration_error(is_cancer, after) < 0.02 < expected_calibration_error(is_cancer, before)


def test_folding_into_the_logits_equals_scaling_outside():
    model = build_classifier("efficientnet_lite0", 64, weights="none")
    randomise_head(model, seed=1)
    images = synthetic_images(6, 64).astype("float32")
    before = np.asarray(logits_model(model)(images))
    scaling = Scaling(temperature=2.0, bias=(0.0, 0.3, -0.2, 0.1, 0.0, 0.5, -1.0))
    fold_into_logits(model, scaling)
    np.testing.assert_allclose(np.asarray(model(images)), softmax(scaling.apply(before), axis=1), atol=1e-5)

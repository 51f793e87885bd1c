"""Fitting the input check: the distance agrees with sklearn's shrunk Mahalanobis when every direction is kept,
and the threshold sits at the validation percentile."""

from __future__ import annotations

import numpy as np
from sklearn.covariance import LedoitWolf

from training.input_check import DISTANCE_PERCENTILE, choose_limits, fit_feature_statistics

RNG = np.random.default_rng(3)
TRAIN = RNG.normal(size=(400, 8)) * np.linspace(4.0, 0.5, 8) + 2.0


def test_keeping_every_direction_reproduces_the_ledoit_wolf_mahalanobis_distance():
    statistics = fit_feature_statistics(TRAIN, directions=8)
    probe = RNG.normal(size=(20, 8)) * 3
    expected = np.sqrt(LedoitWolf().fit(TRAIN).mahalanobis(probe))
    np.testing.assert_allclose(statistics.distance(probe), expected, rtol=1e-3)


def test_the_kept_directions_are_orthonormal_and_ordered_by_variance():
    statistics = fit_feature_statistics(TRAIN, directions=3)
    np.testing.assert_allclose(statistics.directions @ statistics.directions.T, np.eye(3), atol=1e-5)
    assert list(statistics.variances) == sorted(statistics.variances, reverse=True)
    assert statistics.residual_variance < statistics.variances[-1]
    assert abs(statistics.directions[0, 0]) > 0.9  # the widest axis of TRAIN is the first feature


def test_the_threshold_is_the_validation_percentile_and_the_rank_is_recorded():
    statistics = fit_feature_statistics(TRAIN, directions=3)
    validation = RNG.normal(size=(200, 8)) * np.linspace(4.0, 0.5, 8) + 2.0
    images = RNG.integers(0, 256, (10, 32, 32, 3), dtype=np.uint8)
    limits = choose_limits(statistics, validation, images, image_size=32)
    assert np.isclose(limits.distance_threshold,
                      np.percentile(statistics.distance(validation), DISTANCE_PERCENTILE))
    assert limits.principal_directions == 3 and limits.min_short_side == 16

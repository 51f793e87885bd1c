"""The reduced-rank Mahalanobis distance against its textbook definition, and its file round trip."""

from __future__ import annotations

import numpy as np
import pytest

from contract.input_check import FeatureStatistics

RNG = np.random.default_rng(7)
F, K = 6, 2
MEAN = RNG.normal(size=F).astype(np.float32)
BASIS, _ = np.linalg.qr(RNG.normal(size=(F, F)))
DIRECTIONS = BASIS[:, :K].T.astype(np.float32)
VARIANCES = np.array([9.0, 4.0], dtype=np.float32)
RESIDUAL = 0.5


def textbook(features: np.ndarray, covariance: np.ndarray) -> np.ndarray:
    centred = features - MEAN
    return np.sqrt(np.einsum("nf,fg,ng->n", centred, np.linalg.inv(covariance), centred))


def test_reduced_rank_distance_is_mahalanobis_under_the_probabilistic_pca_covariance():
    projector = DIRECTIONS.T @ DIRECTIONS
    covariance = DIRECTIONS.T @ np.diag(VARIANCES) @ DIRECTIONS + RESIDUAL * (np.eye(F) - projector)
    features = RNG.normal(size=(5, F)).astype(np.float32) * 3
    statistics = FeatureStatistics(MEAN, DIRECTIONS, VARIANCES, RESIDUAL)
    np.testing.assert_allclose(statistics.distance(features), textbook(features, covariance), rtol=1e-4)


def test_all_directions_kept_is_the_full_mahalanobis_distance():
    variances = np.arange(1, F + 1, dtype=np.float32)[::-1].copy()
    covariance = BASIS @ np.diag(variances) @ BASIS.T
    features = RNG.normal(size=(5, F)).astype(np.float32)
    statistics = FeatureStatistics(MEAN, BASIS.T.astype(np.float32), variances, 123.0)  # residual unused
    np.testing.assert_allclose(statistics.distance(features), textbook(features, covariance), rtol=1e-4)


def test_the_mean_is_at_distance_zero_and_a_residual_step_counts_by_its_variance():
    statistics = FeatureStatistics(MEAN, DIRECTIONS, VARIANCES, RESIDUAL)
    off_plane = BASIS[:, K]  # orthogonal to every kept direction
    distances = statistics.distance(np.stack([MEAN, MEAN + 2 * off_plane]))
    np.testing.assert_allclose(distances, [0.0, 2 / np.sqrt(RESIDUAL)], rtol=1e-4, atol=1e-5)


def test_save_and_load_round_trip(tmp_path):
    statistics = FeatureStatistics(MEAN, DIRECTIONS, VARIANCES, RESIDUAL)
    statistics.save(tmp_path / "check.npz")
    loaded = FeatureStatistics.load(tmp_path / "check.npz")
    features = RNG.normal(size=(3, F)).astype(np.float32)
    np.testing.assert_array_equal(loaded.distance(features), statistics.distance(features))


@pytest.mark.parametrize("directions, variances, residual", [
    (DIRECTIONS[:, :-1], VARIANCES, RESIDUAL),  # wrong feature count
    (DIRECTIONS, VARIANCES[:1], RESIDUAL),  # one variance short
    (DIRECTIONS, np.array([9.0, 0.0], dtype=np.float32), RESIDUAL),  # a zero variance
    (DIRECTIONS, VARIANCES, 0.0),
])
def test_inconsistent_statistics_are_refused(directions, variances, residual):
    with pytest.raises(ValueError):
        FeatureStatistics(MEAN, directions, variances, residual)


def test_a_file_of_the_older_full_matrix_format_is_refused(tmp_path):
    np.savez(tmp_path / "old.npz", mean=MEAN, whitening=np.eye(F, dtype=np.float32))
    with pytest.raises(ValueError, match="lack"):
        FeatureStatistics.load(tmp_path / "old.npz")

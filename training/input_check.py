"""Fitting the input check: feature statistics on the training split, limits from the HAM10000 distribution.

The out-of-distribution score is the Mahalanobis distance of an image's pooled backbone features to the
training split's (Ledoit-Wolf shrunk covariance: 1280 features from ~7,000 images need the shrinkage),
flagged above the validation split's DISTANCE_PERCENTILE. Late, pooled features are used on purpose:
statistics of early layers react to resolution and compression, and would flag dermoscopy from another
camera as foreign. The quality limits are the training split's QUALITY_PERCENTILES of sharpness and brightness.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import cholesky
from sklearn.covariance import LedoitWolf

from contract.image_quality import measure_all
from contract.input_check import FeatureStatistics
from contract.schema import InputCheckSpec

DISTANCE_PERCENTILE = 99.0  # of validation distances: ~1 % of in-distribution images are flagged
QUALITY_PERCENTILES = (0.5, 99.5)


def fit_feature_statistics(train_features: np.ndarray) -> FeatureStatistics:
    """Mean and whitening matrix W with W^T W = the inverse of the shrunk covariance."""
    features = np.asarray(train_features, dtype=np.float64)
    estimate = LedoitWolf().fit(features)
    lower = cholesky(estimate.precision_, lower=True)  # precision = L L^T, so distance = || L^T (x - mean) ||
    return FeatureStatistics(estimate.location_.astype(np.float32), lower.T.astype(np.float32))


def choose_limits(statistics: FeatureStatistics, validation_features: np.ndarray, train_images: np.ndarray,
                  image_size: int) -> InputCheckSpec:
    """The distance threshold from validation, the quality limits from the training images."""
    distances = statistics.distance(validation_features)
    sharpness, brightness = measure_all(train_images)
    low, high = QUALITY_PERCENTILES
    return InputCheckSpec(
        distance_threshold=float(np.percentile(distances, DISTANCE_PERCENTILE)),
        distance_percentile=DISTANCE_PERCENTILE,
        # below half the model's input side, what the model sees is mostly upsampling blur
        min_short_side=image_size // 2,
        min_sharpness=float(np.percentile(sharpness, low)),
        min_brightness=float(np.percentile(brightness, low)),
        max_brightness=float(np.percentile(brightness, high)),
        quality_percentiles=QUALITY_PERCENTILES,
    )

"""Platt scaling fitted on validation and folded into the model's last layer.

Class-weighted training shifts probabilities upwards; a positive scale and a shift of the
logit (fitted on validation, never test) restore calibration without changing the ranking,
and folding them into head_output's kernel and bias keeps the model one self-contained file.
Grad-CAM is unaffected up to the positive scale.
"""

from __future__ import annotations

import keras
import numpy as np
from sklearn.linear_model import LogisticRegression

EPSILON = 1e-6


def logit(probabilities: np.ndarray) -> np.ndarray:
    clipped = np.clip(probabilities.astype(np.float64), EPSILON, 1 - EPSILON)
    return np.log(clipped / (1 - clipped))


def fit_platt(probabilities: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(scale, shift) minimising log-loss of sigmoid(scale * logit + shift) on these labels."""
    regression = LogisticRegression(C=1e6, max_iter=1000)
    regression.fit(logit(probabilities).reshape(-1, 1), labels)
    scale, shift = float(regression.coef_[0, 0]), float(regression.intercept_[0])
    if scale <= 0:
        raise ValueError(f"Platt scale {scale:.3f} is not positive: the model ranks validation backwards")
    return scale, shift


def fold_into_head(model: keras.Model, scale: float, shift: float) -> None:
    """head_output computes sigmoid(h.w + b); make it sigmoid(scale * (h.w + b) + shift)."""
    layer = model.get_layer("head_output")
    kernel, bias = layer.get_weights()
    layer.set_weights([kernel * scale, bias * scale + shift])

"""Temperature and class-bias scaling, fitted on validation and folded into the logits layer.

Class-weighted training tells the model the rare diagnoses are more common than they are, so its raw
softmax overstates them. One temperature (sharpness) and one bias per diagnosis (prevalence), fitted by log-loss on
the validation split (never test), turn it into probabilities of the data's real mix: what the
differential shows and what the cancer probability sums. Folding them into the logits layer's kernel and
bias keeps the model one self-contained file. The temperature is positive, so the ranking of each class
is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
from scipy.optimize import minimize
from scipy.special import log_softmax

from contract.schema import ModelLayers
from training.errors import TrainingError


@dataclass(frozen=True)
class Scaling:
    temperature: float
    bias: tuple[float, ...]  # one per class; the first is 0 (softmax ignores a common shift)

    def apply(self, logits: np.ndarray) -> np.ndarray:
        return logits / self.temperature + np.asarray(self.bias)


def fit_scaling(logits: np.ndarray, class_indices: np.ndarray) -> Scaling:
    """The temperature and biases minimising the log-loss of softmax(logits / T + b) on these labels."""
    classes = logits.shape[1]

    def loss(params: np.ndarray) -> float:
        scaled = logits / np.exp(params[0]) + np.concatenate([[0.0], params[1:]])
        return float(-log_softmax(scaled, axis=1)[np.arange(len(logits)), class_indices].mean())

    result = minimize(loss, np.zeros(classes), method="L-BFGS-B")
    if not np.isfinite(result.fun):
        raise TrainingError(f"calibration did not converge: {result.message}")
    return Scaling(float(np.exp(result.x[0])), tuple(float(b) for b in np.concatenate([[0.0], result.x[1:]])))


def logits_model(model: keras.Model) -> keras.Model:
    return keras.Model(model.input, model.get_layer(ModelLayers.LOGITS).output)


def fold_into_logits(model: keras.Model, scaling: Scaling) -> None:
    """head_logits computes h.W + c; make it (h.W + c) / T + b."""
    layer = model.get_layer(ModelLayers.LOGITS)
    kernel, bias = layer.get_weights()
    layer.set_weights([kernel / scaling.temperature, bias / scaling.temperature + np.asarray(scaling.bias)])

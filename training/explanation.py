"""The explanation's display scale, chosen on validation so that every map is drawn on one absolute scale.

A map scaled by its own maximum paints noise full red when the model found nothing; instead the bundle
stores the validation split's 95th percentile of map peaks (drawn at full colour) and an "empty" level
below which the service says that no region stood out.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from contract.schema import ExplanationSpec
from contract.schema import LiteRTSignature as Sig
from training.model.explainer import LayerCam

DISPLAY_PERCENTILE = 95.0
EMPTY_FRACTION = 0.05  # of the display scale
# The explained score is a log-odds of order 1 (the shipped model's display scale is about 1.1), and float32
# kernels differ on it by about 1e-6. A model whose map peaks stay below 1e-4 log-odds (one barely trained, or
# blind to the image) has maps of rounding noise: they are shown as empty and compared as equal, not magnified.
SIGNAL_FLOOR = 1e-4
BATCH = 32


def explanation_maps(classifier: keras.Model, layer: str, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, h, w) raw LayerCAM maps of `images`: what speaks for "cancerous", and for "non-cancerous"."""
    explainer = LayerCam(classifier, layer)
    call = tf.function(lambda x: explainer(x), reduce_retracing=True)
    outputs = [call(tf.constant(images[i : i + BATCH], tf.float32)) for i in range(0, len(images), BATCH)]
    return (np.concatenate([np.asarray(out[Sig.CAM_CANCEROUS]) for out in outputs]),
            np.concatenate([np.asarray(out[Sig.CAM_NON_CANCEROUS]) for out in outputs]))


def predicted_maps(classifier: keras.Model, layer: str, images: np.ndarray, cancerous: np.ndarray) -> np.ndarray:
    """(N, h, w): each image's map of its predicted class (cancerous: (N,) bool verdicts)."""
    for_cancer, for_benign = explanation_maps(classifier, layer, images)
    return np.where(cancerous[:, None, None], for_cancer, for_benign)


def explanation_spec(classifier: keras.Model, layer: str, images: np.ndarray,
                     cancerous: np.ndarray) -> ExplanationSpec:
    """The display scale from the validation maps of each image's predicted class."""
    maps = predicted_maps(classifier, layer, images, cancerous)
    peaks = maps.reshape(len(maps), -1).max(axis=1)
    scale = float(np.percentile(peaks, DISPLAY_PERCENTILE))
    if not scale >= SIGNAL_FLOOR:
        print(f"warning: the validation maps peak at {scale:.2g} log-odds, below the {SIGNAL_FLOOR:g} signal floor: "
              "every map will show as empty (is the model trained?)")
        scale = 1.0  # maps with no signal: on a log-odds scale of 1 nothing is drawn, and the empty message shows
    return ExplanationSpec(layer=layer, grid=int(maps.shape[1]), display_scale=scale,
                           empty_below=EMPTY_FRACTION * scale)

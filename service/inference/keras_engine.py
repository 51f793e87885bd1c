"""The fallback: the bundle's Keras model with training's LayerCAM, for bundles without model.tflite.

TensorFlow and keras are imported here, lazily, and only when this engine is chosen, so the
LiteRT serving process never pays for them.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from contract.bundle import BundleError
from contract.schema import LiteRTSignature as Sig
from contract.schema import ModelContract
from service.inference.engine import Explained, Forward, OutputShape


class KerasEngine:
    """Runs the model and its explainer through traced tf.functions (never model.predict per request)."""

    name = "keras"

    def __init__(self, model_path: Path, contract: ModelContract, *, num_threads: int):
        try:
            import tensorflow as tf

            from training.model.classifier import load_classifier
            from training.model.explainer import LayerCam
        except ImportError as error:
            raise BundleError(
                f"the bundle needs the Keras fallback but it cannot be imported ({error}); "
                "install the [train] extra or export model.tflite"
            ) from error
        _limit_threads(tf, num_threads)
        classifier = load_classifier(model_path)
        explainer = LayerCam(classifier, contract.explanation.layer)
        size = contract.input.image_size
        images = tf.TensorSpec([None, size, size, 3], tf.float32)
        # One signature with a free batch dimension each: traced once, reused for every batch size.
        self._predict = tf.function(lambda x: explainer.forward(x, training=False), input_signature=[images],
                                    reduce_retracing=True)
        self._explain = tf.function(explainer, input_signature=[images], reduce_retracing=True)
        self._shape = OutputShape(len(contract.output.classes), contract.output.feature_dim,
                                  contract.explanation.grid)
        self._lock = threading.Lock()  # tracing is not safe to race; calls are cheap to serialise here

    def predict(self, images: np.ndarray) -> Forward:
        batch = np.ascontiguousarray(images, dtype=np.float32)
        with self._lock:
            out = self._predict(batch)
        return self._shape.forward(np.asarray(out[Sig.PROBABILITIES]), np.asarray(out[Sig.FEATURES]), len(batch))

    def explain(self, images: np.ndarray) -> Explained:
        batch = np.ascontiguousarray(images, dtype=np.float32)
        with self._lock:
            out = self._explain(batch)
        return self._shape.explained(np.asarray(out[Sig.PROBABILITIES]), np.asarray(out[Sig.FEATURES]),
                                     np.asarray(out[Sig.CAM_CANCEROUS]), np.asarray(out[Sig.CAM_NON_CANCEROUS]),
                                     len(batch))

    def close(self) -> None:
        pass  # the traced functions go with the engine; a request already holding it finishes normally


def _limit_threads(tf, num_threads: int) -> None:
    try:
        tf.config.threading.set_intra_op_parallelism_threads(num_threads)
        tf.config.threading.set_inter_op_parallelism_threads(num_threads)
    except RuntimeError:
        pass  # TF was already initialised by someone else in this process; keep its pools

"""The fallback: the bundle's Keras model wrapped by training's Grad-CAM explainer.

TensorFlow and keras are imported here, lazily, and only when this engine is chosen, so the
LiteRT serving process never pays for them.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from contract.bundle import BundleError
from contract.schema import ModelContract
from service.inference.engine import EngineOutput, checked_output


class KerasEngine:
    """Runs build_explainer(classifier) through one traced tf.function (never model.predict per request)."""

    name = "keras"

    def __init__(self, model_path: Path, contract: ModelContract, *, num_threads: int):
        try:
            import keras
            import tensorflow as tf

            from training.model.explainer import build_explainer
        except ImportError as error:
            raise BundleError(
                f"the bundle needs the Keras fallback but it cannot be imported ({error}); "
                "install the [train] extra or export model.tflite"
            ) from error
        _limit_threads(tf, num_threads)
        classifier = keras.models.load_model(model_path, compile=False)
        explainer = build_explainer(classifier, contract.gradcam_layer)
        size = contract.input.image_size
        # One signature with a free batch dimension: traced once, reused for every batch size.
        self._call = tf.function(
            lambda images: explainer(images, training=False),
            input_signature=[tf.TensorSpec([None, size, size, 3], tf.float32)],
            jit_compile=False,
            reduce_retracing=True,
        )
        self._cam_grid = contract.output.cam_grid
        self._lock = threading.Lock()  # tracing is not safe to race; calls are cheap to serialise here

    def infer(self, images: np.ndarray) -> EngineOutput:
        batch = np.ascontiguousarray(images, dtype=np.float32)
        with self._lock:
            outputs = self._call(batch)
        probability, cam = _unpack(outputs)
        return checked_output(np.asarray(probability), np.asarray(cam), len(batch), self._cam_grid)

    def close(self) -> None:
        self._call = None


def _unpack(outputs) -> tuple:
    """The explainer returns [probability, cam]; accept a {"probability", "cam"} dict as well."""
    if isinstance(outputs, dict):
        return outputs["probability"], outputs["cam"]
    probability, cam = outputs
    return probability, cam


def _limit_threads(tf, num_threads: int) -> None:
    try:
        tf.config.threading.set_intra_op_parallelism_threads(num_threads)
        tf.config.threading.set_inter_op_parallelism_threads(num_threads)
    except RuntimeError:
        pass  # TF was already initialised by someone else in this process; keep its pools

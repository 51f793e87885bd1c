"""The LiteRT model: a forward-only `predict` signature and an `explain` signature with the LayerCAM map.

Both are traced from the Keras model into one SavedModel (Keras's ExportArchive tracks the weights), then
converted with builtin operators only: an op that LiteRT's stock runtime lacks fails here, at export,
not in the service.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from contract.schema import LiteRTSignature as Sig
from contract.schema import ModelLayers
from training.errors import ExportMismatch
from training.explanation import SIGNAL_FLOOR
from training.model.explainer import LayerCam

VERIFY_IMAGES = 16  # validation images the export is checked on
TOLERANCE = 1e-3  # largest |probability difference| to the Keras model on the verification images
# The maps go through relu(gradient) x activation sums whose float32 accumulation order differs between
# XNNPACK and TensorFlow (0.55 % of the largest value for the shipped 2.2.0); 1 % of it, about 2.5 of
# the overlay's 256 colour levels, is where a difference would start to show.
MAP_TOLERANCE = 1e-2  # relative to the largest map value, or to SIGNAL_FLOOR for maps of rounding noise


def convert(classifier: keras.Model, explanation_layer: str) -> bytes:
    """The classifier and its explainer as one LiteRT flatbuffer with two signatures."""
    size = classifier.input_shape[1]
    images = tf.TensorSpec([None, size, size, 3], tf.float32, name=Sig.IMAGES)
    forward = keras.Model(classifier.input, {Sig.PROBABILITIES: classifier.output,
                                             Sig.FEATURES: classifier.get_layer(ModelLayers.POOLED).output})
    explainer = LayerCam(classifier, explanation_layer)
    archive = keras.export.ExportArchive()
    archive.track(forward)
    archive.track(explainer.forward)
    archive.add_endpoint(Sig.PREDICT, lambda images: forward(images, training=False), input_signature=[images])
    archive.add_endpoint(Sig.EXPLAIN, lambda images: _explain(explainer, images), input_signature=[images])
    with tempfile.TemporaryDirectory() as folder:
        with contextlib.redirect_stdout(io.StringIO()):
            archive.write_out(folder, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(folder, signature_keys=[Sig.PREDICT, Sig.EXPLAIN])
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        return converter.convert()


def _explain(explainer: LayerCam, images: tf.Tensor) -> dict[str, tf.Tensor]:
    return explainer(images)  # its outputs are named as the signature's


def verify(flatbuffer: bytes, classifier: keras.Model, explanation_layer: str, images: np.ndarray) -> dict:
    """Largest differences between LiteRT and Keras on `images`; raises ExportMismatch past the tolerance."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=flatbuffer)
    predict = interpreter.get_signature_runner(Sig.PREDICT)
    explain = interpreter.get_signature_runner(Sig.EXPLAIN)
    batch = images.astype(np.float32)
    litert = [predict(**{Sig.IMAGES: batch[i : i + 1]}) for i in range(len(batch))]
    maps = [explain(**{Sig.IMAGES: batch[i : i + 1]}) for i in range(len(batch))]
    reference = LayerCam(classifier, explanation_layer)(tf.constant(batch))
    gaps = {
        "probabilities": _gap([r[Sig.PROBABILITIES] for r in litert], reference["probabilities"]),
        "features_relative": _gap([r[Sig.FEATURES] for r in litert], reference["features"], floor=1e-12),
        "explain_probabilities": _gap([m[Sig.PROBABILITIES] for m in maps], reference["probabilities"]),
        "cam_cancerous_relative": _gap([m[Sig.CAM_CANCEROUS] for m in maps], reference["cam_cancerous"],
                                       floor=SIGNAL_FLOOR),
        "cam_non_cancerous_relative": _gap([m[Sig.CAM_NON_CANCEROUS] for m in maps], reference["cam_non_cancerous"],
                                           floor=SIGNAL_FLOOR),
    }
    limits = {name: MAP_TOLERANCE if name.startswith("cam_") else TOLERANCE for name in gaps}
    if not all(gap <= limits[name] for name, gap in gaps.items()):  # also refuses NaN
        raise ExportMismatch(f"the LiteRT model disagrees with Keras beyond {limits}: {gaps}")
    return gaps


def _gap(litert: list[np.ndarray], reference: tf.Tensor, *, floor: float | None = None) -> float:
    """The largest |difference|; with a floor, relative to the reference's largest value, or to the floor if that
    is larger (a difference within rounding noise of nothing is not a disagreement)."""
    found, expected = np.concatenate(litert), np.asarray(reference)
    gap = float(np.max(np.abs(found - expected)))
    return gap if floor is None else gap / max(float(np.max(np.abs(expected))), floor)


def write_to(path: Path, flatbuffer: bytes) -> Path:
    from contract.bundle import write_bytes_atomically

    return write_bytes_atomically(path, flatbuffer)

"""The LiteRT export: two signatures of builtin ops, checked against Keras, refused when they disagree."""

import keras
import numpy as np
import pytest

from contract.schema import LiteRTSignature as Sig
from tests.bundle_factory import randomise_head, synthetic_images
from training.errors import ExportMismatch
from training.explanation import SIGNAL_FLOOR
from training.export.litert import MAP_TOLERANCE, _gap, convert, verify
from training.model.classifier import build_classifier

LAYER = "block5c_add"


@pytest.fixture(scope="module")
def models() -> tuple[keras.Model, keras.Model]:
    first, second = (build_classifier("efficientnet_lite0", 64, weights="imagenet") for _ in range(2))
    randomise_head(first, seed=1)
    randomise_head(second, seed=2)
    return first, second


@pytest.fixture(scope="module")
def flatbuffer(models) -> bytes:
    return convert(models[0], LAYER)


def test_the_export_has_a_forward_only_and_an_explaining_signature(flatbuffer):
    from ai_edge_litert.interpreter import Interpreter

    signatures = Interpreter(model_content=flatbuffer).get_signature_list()
    assert set(signatures) == {Sig.PREDICT, Sig.EXPLAIN}
    assert set(signatures[Sig.PREDICT]["outputs"]) == {Sig.PROBABILITIES, Sig.FEATURES}
    assert set(signatures[Sig.EXPLAIN]["outputs"]) == {Sig.PROBABILITIES, Sig.FEATURES, Sig.CAM_CANCEROUS,
                                                       Sig.CAM_NON_CANCEROUS}


def test_the_gradient_masks_use_no_op_outside_the_xnnpack_delegate(flatbuffer):
    from ai_edge_litert.interpreter import Interpreter

    # the interpreter's op list (a private but stable helper): comparisons, logical ops and casts run outside
    # XNNPACK and split the explain signature into small CPU partitions (training.model.explainer.passes_through)
    ops = {op["op_name"] for op in Interpreter(model_content=flatbuffer)._get_ops_details()}
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "CEIL"} <= ops
    assert not ops & {"GREATER", "LESS", "GREATER_EQUAL", "LESS_EQUAL", "LOGICAL_AND", "CAST"}


def test_it_agrees_with_the_keras_model(models, flatbuffer):
    gaps = verify(flatbuffer, models[0], LAYER, synthetic_images(4, 64, seed=3).astype(np.float32))
    assert gaps["probabilities"] < 1e-4 and gaps["cam_cancerous_relative"] < 1e-4


def test_an_export_of_another_model_is_refused(models, flatbuffer):
    with pytest.raises(ExportMismatch, match="disagrees"):
        verify(flatbuffer, models[1], LAYER, synthetic_images(4, 64, seed=3).astype(np.float32))


def test_maps_are_compared_relative_to_their_peak_or_to_the_signal_floor():
    reference = np.full((2, 3, 3), 7e-13, dtype=np.float32)  # a barely trained model: maps of rounding noise
    noisy = [reference * 1.03]  # 3 % apart, as two float32 kernels can be on them
    assert _gap(noisy, reference, floor=SIGNAL_FLOOR) < MAP_TOLERANCE
    real = np.full((2, 3, 3), 1.1, dtype=np.float32)  # the shipped model's display scale
    assert _gap([real * 1.03], real, floor=SIGNAL_FLOOR) == pytest.approx(0.03, rel=1e-4)

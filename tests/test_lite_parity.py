"""Keras EfficientNet-Lite0 and -Lite1 match the PyTorch reference they were converted from; the conversion is strict.

Each variant's fixture (written by `python -m training.model.convert_lite --parity-fixture ...`) holds PyTorch logits
for two scikit-learn sample photos (CC BY 2.0; danielbuechele and vultilion on Flickr), one seeded noise
image and four HAM10000 images, plus the 1000-class top that the shipped no-top weights leave out. Torch
is not needed here.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from contract.preprocessing import preprocess_image
from training.model.convert_lite import (
    BN_PARAMS,
    HAM10000_DIR,
    WeightMappingError,
    map_state_dict,
    parity_fixture_path,
    pixel_digests,
)
from training.model.efficientnet_lite import (
    FEATURES_LAYER,
    LITE0,
    LITE1,
    VARIANTS,
    LiteVariant,
    build_efficientnet_lite,
    load_notop_weights,
)

LOGIT_TOLERANCE = 1e-4
IMAGE_SIZE = 224
# Every tensor of each checkpoint (BatchNorm statistics and the ImageNet top included), counted with torch at conversion
CHECKPOINT_PARAMETERS = {LITE0.name: 4_694_024, LITE1.name: 5_470_344}


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def variant(request: pytest.FixtureRequest) -> LiteVariant:
    return VARIANTS[request.param]


@pytest.fixture(scope="module")
def fixture(variant: LiteVariant) -> dict[str, np.ndarray]:
    with np.load(parity_fixture_path(variant)) as data:
        return dict(data)


@pytest.fixture(scope="module")
def imagenet_model(variant: LiteVariant, fixture: dict[str, np.ndarray]) -> keras.Model:
    model = build_efficientnet_lite(variant, include_top=True)
    load_notop_weights(model, variant.weights_path)
    model.get_layer("predictions").set_weights([fixture["fc_kernel"], fixture["fc_bias"]])
    return model


def assert_logits_match(model: keras.Model, images: np.ndarray, reference: np.ndarray) -> None:
    logits = model.predict(images.astype(np.float32), batch_size=len(images), verbose=0)
    max_diff = float(np.max(np.abs(logits - reference)))
    assert np.array_equal(logits.argmax(axis=1), reference.argmax(axis=1)), "top-1 class differs"
    assert max_diff <= LOGIT_TOLERANCE, f"max |logit diff| {max_diff:.2e} > {LOGIT_TOLERANCE:.0e}"


def test_stored_images_match_pytorch_logits(imagenet_model: keras.Model, fixture: dict) -> None:
    assert_logits_match(imagenet_model, fixture["images"], fixture["logits"])


def test_ham10000_images_match_pytorch_logits(imagenet_model: keras.Model, fixture: dict) -> None:
    image_dir = HAM10000_DIR / "images"
    if not image_dir.is_dir():
        pytest.skip(f"HAM10000 images not found at {image_dir}")
    paths = [image_dir / f"{image_id}.jpg" for image_id in fixture["ham_image_ids"]]
    images = [preprocess_image(path.read_bytes(), IMAGE_SIZE) for path in paths]
    # A different decoder/resampler would change the pixels, not the model: say which one broke.
    assert list(pixel_digests(images)) == list(fixture["ham_pixel_sha256"]), "preprocessing output changed"
    assert_logits_match(imagenet_model, np.stack(images), fixture["ham_logits"])


def test_notop_model_loads_shipped_weights_and_ends_at_the_features_layer(variant: LiteVariant) -> None:
    model = build_efficientnet_lite(variant, weights=variant.weights_path)
    assert model.get_layer(FEATURES_LAYER) is model.layers[-1]
    assert tuple(model.output.shape) == (None, 7, 7, 1280)
    # the checkpoint minus the ImageNet top
    assert model.count_params() == CHECKPOINT_PARAMETERS[variant.name] - 1280 * 1000 - 1000


def test_lite1_scales_the_inner_stages_depth_only() -> None:
    assert [spec.repeats for spec in LITE0.stages()] == [1, 2, 2, 3, 3, 4, 1]
    assert [spec.repeats for spec in LITE1.stages()] == [1, 3, 3, 4, 4, 5, 1]
    assert [spec.filters_out for spec in LITE1.stages()] == [spec.filters_out for spec in LITE0.stages()]


# --- the mapping refuses anything but a one-to-one correspondence ---


def tiny_model() -> keras.Model:
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, use_bias=False, name="stem_conv")(inputs)
    x = keras.layers.BatchNormalization(name="stem_bn")(x)
    x = keras.layers.DepthwiseConv2D(3, use_bias=False, name="block1a_dwconv")(x)
    return keras.Model(inputs, x)


def tiny_state_dict() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    state = {
        "_conv_stem.weight": rng.normal(size=(4, 3, 3, 3)),
        "_blocks.0._depthwise_conv.weight": rng.normal(size=(4, 1, 3, 3)),
        "_bn0.num_batches_tracked": np.array(7),
    }
    state |= {f"_bn0.{param}": rng.normal(size=4) for param in BN_PARAMS}
    return state


def test_mapping_converts_layouts() -> None:
    state = tiny_state_dict()
    mapped = map_state_dict(state, tiny_model())
    conv, depthwise = state["_conv_stem.weight"], state["_blocks.0._depthwise_conv.weight"]
    # Keras conv HWIO[h, w, i, o] is torch OIHW[o, i, h, w];
    # Keras depthwise (kh, kw, C, 1)[h, w, c, 0] is torch (C, 1, kh, kw)[c, 0, h, w].
    assert mapped["stem_conv"][0][2, 1, 0, 3] == np.float32(conv[3, 0, 2, 1])
    assert mapped["block1a_dwconv"][0][0, 2, 1, 0] == np.float32(depthwise[1, 0, 0, 2])
    # Keras BatchNormalization orders its weights gamma, beta, moving_mean, moving_variance.
    for keras_weight, param in zip(mapped["stem_bn"], BN_PARAMS, strict=True):
        np.testing.assert_allclose(keras_weight, state[f"_bn0.{param}"].astype(np.float32))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s.pop("_bn0.running_var"), "missing from the checkpoint"),
        (lambda s: s.update({"_blocks.3._se_reduce.weight": np.zeros((1, 1, 1, 1))}), "not mapped"),
        (lambda s: s.update({"_conv_stem.weight": np.zeros((4, 3, 5, 5))}), "shape mismatches"),
        (lambda s: s.update({"_blocks.0._depthwise_conv.weight": np.zeros((4, 3, 3))}), "shape mismatches"),
    ],
    ids=["missing-key", "extra-key", "wrong-kernel-size", "wrong-rank"],
)
def test_mapping_rejects_mismatched_state_dict(change, message: str) -> None:
    state = tiny_state_dict()
    change(state)
    with pytest.raises(WeightMappingError, match=message) as raised:
        map_state_dict(state, tiny_model())
    assert "; " not in str(raised.value), "one defect should be reported once, not as a cascade"


def test_mapping_rejects_keras_layer_without_source() -> None:
    model = tiny_model()
    extra = keras.layers.Dense(2, name="mystery_dense")(model.output)
    with pytest.raises(WeightMappingError, match="mystery_dense"):
        map_state_dict(tiny_state_dict(), keras.Model(model.inputs, extra))

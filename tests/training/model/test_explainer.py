"""LayerCAM written as forward ops must equal TensorFlow autodiff, and point at the evidence."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from contract.schema import ModelLayers
from tests.bundle_factory import randomise_head, synthetic_images
from training.model.classifier import build_classifier
from training.model.explainer import LayerCam, UnsupportedLayer, cam_by_autodiff, cancer_log_odds_seed

RTOL = 1e-4  # the parity bound


@pytest.fixture(scope="module")
def classifier() -> keras.Model:
    keras.utils.set_random_seed(3)
    model = build_classifier("efficientnet_lite0", 96, weights="imagenet")
    randomise_head(model, seed=3)
    # non-trivial head BatchNorm statistics, so the test exercises the BN scale in the gradient
    bn = model.get_layer(ModelLayers.HEAD_NORM)
    rng = np.random.default_rng(0)
    bn.set_weights([rng.uniform(0.5, 2, w.shape).astype("float32") if i in (0, 3) else
                    rng.normal(0, 0.1, w.shape).astype("float32") for i, w in enumerate(bn.get_weights())])
    return model


def _gradient(explainer: LayerCam, images: np.ndarray) -> np.ndarray:
    outputs = explainer.forward(images, training=False)
    values = {key: outputs[f"t{index}"] for index, key in enumerate(explainer._keys)}
    return explainer.gradient_at_target(values, cancer_log_odds_seed(outputs["logits"])).numpy()


# block5c_add: the 12x12 stage at 192 px (6x6 here), through two stride-2 depthwise convolutions' transposes
@pytest.mark.parametrize("layer", ["block5c_add", "block4c_add", "block6d_add", ModelLayers.FEATURES])
def test_gradient_and_maps_match_autodiff(classifier, layer):
    images = synthetic_images(3, 96, seed=5).astype("float32")
    explainer = LayerCam(classifier, layer)
    expected_gradient, expected_cancer = cam_by_autodiff(classifier, layer, images, np.ones(3))
    _, expected_benign = cam_by_autodiff(classifier, layer, images, -np.ones(3))
    gradient = _gradient(explainer, images)
    np.testing.assert_allclose(gradient, expected_gradient, rtol=RTOL, atol=RTOL * np.abs(expected_gradient).max())
    outputs = explainer(tf.constant(images))
    pairs = ((outputs["cam_cancerous"], expected_cancer), (outputs["cam_non_cancerous"], expected_benign))
    for found, expected in pairs:
        assert expected.max() > 0
        np.testing.assert_allclose(np.asarray(found), expected, rtol=RTOL, atol=RTOL * expected.max())
    np.testing.assert_allclose(np.asarray(outputs["probabilities"]), np.asarray(classifier(images)), atol=1e-6)


def test_odd_feature_sizes_transpose_the_same_padding():
    keras.utils.set_random_seed(4)
    model = build_classifier("efficientnet_lite0", 100, weights="none")  # 50, 25, 13, 7, 4: odd sides
    randomise_head(model, seed=4)
    images = synthetic_images(2, 100, seed=1).astype("float32")
    expected, _ = cam_by_autodiff(model, "block4c_add", images, np.ones(2))
    found = _gradient(LayerCam(model, "block4c_add"), images)
    np.testing.assert_allclose(found, expected, rtol=RTOL, atol=RTOL * np.abs(expected).max())


def test_a_layer_without_a_backward_rule_is_refused():
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", name="spread")(inputs)  # a 3x3 convolution: no rule here
    x = keras.layers.Conv2D(4, 1, name="top")(x)
    x = keras.layers.GlobalAveragePooling2D(name=ModelLayers.POOLED)(x)
    logits = keras.layers.Dense(7, name=ModelLayers.LOGITS)(x)
    model = keras.Model(inputs, keras.layers.Softmax(name=ModelLayers.PROBABILITIES)(logits))
    model_from_input = keras.Model(inputs, model.output)
    explainer = LayerCam(model_from_input, "spread")  # the path from 'spread' crosses only 'top': fine
    assert explainer(tf.zeros((1, 16, 16, 3)))["cam_cancerous"].shape == (1, 16, 16)
    inner = keras.Input((16, 16, 3))
    y = keras.layers.Conv2D(4, 3, padding="same", name="first")(inner)
    y = keras.layers.Conv2D(4, 3, padding="same", name="second")(y)
    y = keras.layers.GlobalAveragePooling2D(name=ModelLayers.POOLED)(y)
    logits = keras.layers.Dense(7, name=ModelLayers.LOGITS)(y)
    blocked = keras.Model(inner, keras.layers.Softmax(name=ModelLayers.PROBABILITIES)(logits))
    with pytest.raises(UnsupportedLayer, match="second"):
        LayerCam(blocked, "first")(tf.zeros((1, 16, 16, 3)))


def evidence_model() -> keras.Model:
    """A hand-built classifier whose melanoma evidence is red light and nevus evidence green light."""
    inputs = keras.Input((32, 32, 3))
    features = keras.layers.Conv2D(2, 4, strides=4, name="evidence")(inputs)  # (8, 8, 2): red, green
    x = keras.layers.ReLU(name="evidence_relu")(features)
    x = keras.layers.GlobalAveragePooling2D(name=ModelLayers.POOLED)(x)
    logits = keras.layers.Dense(7, name=ModelLayers.LOGITS)(x)
    model = keras.Model(inputs, keras.layers.Softmax(name=ModelLayers.PROBABILITIES)(logits))
    red, green = np.zeros((4, 4, 3, 1)), np.zeros((4, 4, 3, 1))
    red[:, :, 0], green[:, :, 1] = 1 / 16, 1 / 16
    model.get_layer("evidence").set_weights([np.concatenate([red, green], -1), np.zeros(2)])
    kernel = np.zeros((2, 7))
    kernel[0, 4], kernel[1, 5] = 0.05, 0.05  # red -> mel, green -> nv
    model.get_layer(ModelLayers.LOGITS).set_weights([kernel, np.zeros(7)])
    return model


def test_each_map_points_at_the_region_that_carries_its_evidence():
    image = np.zeros((1, 32, 32, 3), dtype="float32")
    image[0, :, :, 1] = 60  # green (nevus evidence) everywhere
    image[0, 4:12, 20:28] = [255, 0, 0]  # a red patch (melanoma evidence) top right
    outputs = LayerCam(evidence_model(), "evidence_relu")(tf.constant(image))
    cancer, benign = np.asarray(outputs["cam_cancerous"])[0], np.asarray(outputs["cam_non_cancerous"])[0]
    assert np.unravel_index(cancer.argmax(), cancer.shape) in {(1, 5), (1, 6), (2, 5), (2, 6)}
    outside = np.ones_like(cancer, dtype=bool)
    outside[1:3, 5:7] = False
    assert cancer[outside].max() == 0, "only the red patch speaks for cancer"
    assert benign[1:3, 5:7].max() == 0 and benign[outside].min() > 0, "green skin speaks for the nevus"


@pytest.mark.parametrize("max_value", [None, 6.0])
def test_the_arithmetic_mask_is_the_autodiff_mask_of_relu_and_relu6(max_value):
    from training.model.explainer import passes_through

    x = tf.constant([-3.0, -1e-6, 0.0, 1e-6, 0.5, 3.0, 5.999, 6.0, 6.001, 40.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.nn.relu(x) if max_value is None else tf.nn.relu6(x)
    np.testing.assert_array_equal(passes_through(x, max_value).numpy(), tape.gradient(y, x).numpy())

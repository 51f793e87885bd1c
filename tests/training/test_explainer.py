"""Grad-CAM must explain the classifier's cancer logit through the real head."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.bundle_factory import randomise_head, synthetic_images
from training.model.classifier import GRADCAM_LAYER, build_classifier
from training.model.explainer import build_explainer


def gradcam_by_autodiff(model: keras.Model, images: np.ndarray) -> np.ndarray:
    """The textbook computation: GradientTape of the logit w.r.t. the conv activation."""
    feature_model = keras.Model(model.input, model.get_layer(GRADCAM_LAYER).output)
    features = tf.convert_to_tensor(feature_model(images))
    with tf.GradientTape() as tape:
        tape.watch(features)
        x = model.get_layer("head_pool")(features)
        x = model.get_layer("head_bn")(x, training=False)
        x = model.get_layer("head_dense")(x)
        kernel, bias = model.get_layer("head_output").kernel, model.get_layer("head_output").bias
        logit = tf.matmul(x, kernel) + bias
    gradients = tape.gradient(logit, features)  # (B, H, W, C)
    alpha = tf.reduce_mean(gradients, axis=(1, 2))
    return tf.nn.relu(tf.einsum("bhwc,bc->bhw", features, alpha)).numpy()


@pytest.fixture(scope="module")
def classifier() -> keras.Model:
    keras.utils.set_random_seed(3)
    model = build_classifier("efficientnet_lite0", 96, weights="imagenet")
    randomise_head(model, seed=3)
    # non-trivial BatchNorm statistics, so the test exercises the BN scale in the gradient
    bn = model.get_layer("head_bn")
    rng = np.random.default_rng(0)
    bn.set_weights([rng.uniform(0.5, 2, w.shape).astype("float32") if i in (0, 3) else
                    rng.normal(0, 0.1, w.shape).astype("float32") for i, w in enumerate(bn.get_weights())])
    return model


def test_explainer_matches_gradient_tape(classifier):
    images = synthetic_images(4, 96, seed=5).astype("float32")
    probability, cam = build_explainer(classifier, GRADCAM_LAYER)(images)
    expected = gradcam_by_autodiff(classifier, images)
    assert np.asarray(cam).shape == (4, 3, 3)
    assert expected.max() > 0
    np.testing.assert_allclose(np.asarray(cam), expected, rtol=1e-4, atol=1e-6 * expected.max())
    np.testing.assert_allclose(np.asarray(probability), np.asarray(classifier(images)), atol=1e-6)


def evidence_model() -> keras.Model:
    """A hand-built classifier whose cancer evidence is red light: channel 0 of the features."""
    inputs = keras.Input((32, 32, 3))
    features = keras.layers.Conv2D(2, 4, strides=4, activation="relu", name="top_activation")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="head_pool")(features)
    x = keras.layers.BatchNormalization(name="head_bn")(x)
    x = keras.layers.Dense(2, activation="relu", name="head_dense")(x)
    x = keras.layers.Dropout(0.4, name="head_dropout")(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="head_output")(x)
    model = keras.Model(inputs, outputs)
    red, green = np.zeros((4, 4, 3, 1)), np.zeros((4, 4, 3, 1))
    red[:, :, 0], green[:, :, 1] = 1 / 16, 1 / 16
    model.get_layer("top_activation").set_weights([np.concatenate([red, green], -1), np.zeros(2)])
    model.get_layer("head_dense").set_weights([np.eye(2), np.zeros(2)])
    model.get_layer("head_output").set_weights([np.array([[1.0], [-1.0]]), np.zeros(1)])
    return model


def test_cam_points_at_the_region_that_carries_the_evidence():
    image = np.zeros((1, 32, 32, 3), dtype="float32")
    image[0, :, :, 1] = 60  # green (evidence against) everywhere
    image[0, 4:12, 20:28] = [255, 0, 0]  # a red patch (evidence for) top right
    _, cam = build_explainer(evidence_model(), "top_activation")(image)
    cam = np.asarray(cam)[0]  # (8, 8)
    assert cam[1:3, 5:7].min() > 0
    assert np.unravel_index(cam.argmax(), cam.shape) in {(1, 5), (1, 6), (2, 5), (2, 6)}
    outside = np.ones_like(cam, dtype=bool)
    outside[1:3, 5:7] = False
    assert cam[outside].max() == 0

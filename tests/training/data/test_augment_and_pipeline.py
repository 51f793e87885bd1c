"""Augmentation maths and the tf.data pipeline: train batches are augmented and weighted, others untouched."""

from __future__ import annotations

import math

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from training.data import pipeline  # noqa: E402 - only once TensorFlow is known to be there
from training.data.augment import RandomOrientationAndScale, affine_about_centre, build_augmenter, resample  # noqa: E402


def ramp_images(batch: int = 2, size: int = 16) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.uniform(0, 255, (batch, size, size, 3)).astype(np.float32)


def apply(images: np.ndarray, angle: float, scale_x: float, scale_y: float) -> np.ndarray:
    batch = images.shape[0]
    transforms = affine_about_centre(tf.fill([batch], angle), tf.fill([batch], scale_x), tf.fill([batch], scale_y),
                                     images.shape[1], images.shape[2])
    return resample(tf.constant(images), transforms).numpy()


def test_the_identity_map_leaves_pixels_unchanged():
    images = ramp_images()
    np.testing.assert_allclose(apply(images, 0.0, 1.0, 1.0), images, atol=1e-3)


@pytest.mark.parametrize(("scale_x", "scale_y", "axis"), [(-1.0, 1.0, 2), (1.0, -1.0, 1)])
def test_a_negative_scale_is_an_exact_flip(scale_x, scale_y, axis):
    images = ramp_images()
    np.testing.assert_allclose(apply(images, 0.0, scale_x, scale_y), np.flip(images, axis=axis), atol=1e-3)


def test_a_quarter_turn_is_a_lossless_rotation_about_the_centre():
    images = ramp_images()
    turned = apply(images, math.pi / 2, 1.0, 1.0)
    np.testing.assert_allclose(turned, np.rot90(images, k=1, axes=(1, 2)), atol=1e-2)


def test_zooming_in_keeps_the_centre_and_magnifies_around_it():
    images = np.zeros((1, 17, 17, 3), np.float32)
    images[0, 8, 8] = 255.0
    images[0, 8, 10] = 100.0  # two pixels right of the centre
    zoomed = apply(images, 0.0, 0.5, 0.5)
    assert zoomed[0, 8, 8, 0] == pytest.approx(255.0)
    assert zoomed[0, 8, 12, 0] == pytest.approx(100.0)  # twice as far from the centre


def test_the_augmenter_is_the_identity_outside_training_and_stays_in_range_inside():
    images = ramp_images(batch=8, size=32)
    augmenter = build_augmenter(seed=3)
    np.testing.assert_array_equal(augmenter(images, training=False), images)
    augmented = augmenter(tf.constant(images), training=True).numpy()
    assert augmented.shape == images.shape and augmented.dtype == np.float32
    assert augmented.min() >= 0.0 and augmented.max() <= 255.0
    assert not np.allclose(augmented, images, atol=1.0)


def test_each_image_in_a_batch_gets_its_own_transform():
    images = np.repeat(ramp_images(batch=1, size=24), 6, axis=0)
    out = RandomOrientationAndScale(seed=1)(tf.constant(images), training=True).numpy()
    assert len({out[i].tobytes() for i in range(6)}) == 6


def test_class_weights_make_every_present_diagnosis_weigh_the_same():
    classes = np.array([5] * 70 + [4] * 20 + [3] * 10)  # nv, mel, df; the other four absent
    weights = pipeline.class_weights(classes)
    assert weights[5] * 70 == pytest.approx(weights[4] * 20) == pytest.approx(weights[3] * 10) == pytest.approx(100 / 3)
    assert weights[0] == 1.0, "an absent diagnosis has nothing to weigh"


def test_class_weight_power_shrinks_the_spread_and_zero_leaves_the_loss_unweighted():
    classes = np.array([5] * 70 + [4] * 20 + [3] * 10)
    balanced, square_root = pipeline.class_weights(classes), pipeline.class_weights(classes, power=0.5)
    np.testing.assert_allclose(square_root[[3, 4, 5]], np.sqrt(balanced[[3, 4, 5]]), rtol=1e-6)
    assert square_root[3] / square_root[5] < balanced[3] / balanced[5]
    np.testing.assert_array_equal(pipeline.class_weights(classes, power=0.0), np.ones(7, np.float32))


def test_training_batches_are_augmented_and_weighted_and_evaluation_batches_are_untouched():
    images = (ramp_images(batch=10, size=16)).astype(np.uint8)
    labels = np.array([0, 1] * 5)
    weights = np.array([0.5, 2.0, 1, 1, 1, 1, 1], dtype=np.float32)
    x, y, w = next(iter(pipeline.make_dataset(images, labels, 10, training=True, seed=0, weights=weights)))
    assert x.dtype == tf.float32 and x.shape == (10, 16, 16, 3)
    np.testing.assert_array_equal(w.numpy(), np.where(y.numpy() == 1, 2.0, 0.5))
    assert not np.allclose(np.sort(x.numpy().ravel()), np.sort(images.astype(np.float32).ravel()), atol=1.0)

    x, y = next(iter(pipeline.make_dataset(images, labels, 10, training=False)))
    np.testing.assert_array_equal(x.numpy(), images.astype(np.float32))
    np.testing.assert_array_equal(y.numpy(), labels)


def test_augmented_batches_keep_a_static_image_shape():
    # An unknown spatial shape makes Keras trace the train step for any size: ~40 % slower on CPU.
    images = np.zeros((8, 32, 32, 3), np.uint8)
    dataset = pipeline.make_dataset(images, np.array([0, 1] * 4), 4, training=True, weights=np.ones(7, np.float32))
    assert dataset.element_spec[0].shape.as_list() == [None, 32, 32, 3]


def test_the_colour_cast_changes_colour_but_not_geometry_and_stays_in_range():
    from training.data.augment import RandomColourCast

    ramp = np.broadcast_to(np.linspace(10, 245, 16, dtype=np.float32)[None, None, :, None], (4, 16, 16, 3))
    images = tf.constant(ramp)
    cast = RandomColourCast(seed=3)(images, training=True).numpy()
    assert cast.min() >= 0.0 and cast.max() <= 255.0
    assert not np.allclose(cast, ramp, atol=2.0)
    # a per-image tone map keeps the order of brightness along the ramp, and the image's geometry
    assert np.all(np.diff(cast.mean(axis=-1), axis=2) >= -1e-3)
    np.testing.assert_array_equal(RandomColourCast(seed=3)(images, training=False).numpy(), images.numpy())


def test_sensor_noise_is_off_in_the_shipped_recipe_and_bounded_when_on():
    from training.data.augment import RandomSensorNoise

    assert not any(isinstance(layer, RandomSensorNoise) for layer in build_augmenter(seed=3).layers)
    flat = tf.constant(np.full((64, 16, 16, 3), 128.0, dtype=np.float32))
    noisy = RandomSensorNoise(10.0, seed=3)(flat, training=True).numpy()
    per_image_std = noisy.std(axis=(1, 2, 3))
    assert per_image_std.max() <= 10.0 * 1.3 and per_image_std.min() < 5.0 < per_image_std.max()  # drawn per image
    assert abs(noisy.mean() - 128.0) < 1.0
    np.testing.assert_array_equal(RandomSensorNoise(10.0, seed=3)(flat, training=False).numpy(), flat.numpy())
    layers = build_augmenter(seed=3, colour_gain=0.2, sensor_noise=10.0).layers
    assert isinstance(layers[-1], RandomSensorNoise) and layers[1].gain == 0.2

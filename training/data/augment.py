"""Train-time augmentation for dermoscopy, applied to whole batches inside tf.data.

Orientation carries no meaning in a dermoscopic image, and photos sent to the service come from other
dermatoscopes and cameras: larger, sharper or softer than the 200x150 training copies, with another
white balance, saturation and tone curve. So: every flip and rotation, a range of scales, a colour cast
(per-channel gain, saturation, gamma), brightness and contrast, and a random blur/sharpen. Flips,
rotation and scale are one affine map sampled per image and applied with a single resampling pass: on
two CPU cores the three separate Keras layers cost several times as much (bench/train_pipeline.py measures
it), and augmentation competes with the model for the cores. The white balance's range and the sensor noise
are recipe settings (training/config.py).
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from training.config import CHANNEL_GAIN, SENSOR_NOISE

ROTATION_RADIANS = math.pi  # any orientation
SCALE_RANGE = (0.75, 1.33)  # input/output size: below 1 zooms in, above 1 zooms out (reflected border)
SATURATION_RANGE = (0.7, 1.3)
GAMMA_RANGE = (0.75, 1.33)  # tone curve: x ** gamma on 0-1 values


class RandomOrientationAndScale(keras.layers.Layer):
    """Random horizontal/vertical flip, rotation and scale about the centre, in one bilinear pass."""

    def __init__(self, max_radians: float = ROTATION_RADIANS, scale_range: tuple[float, float] = SCALE_RANGE,
                 seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.max_radians, self.scale_range = max_radians, scale_range
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=True):
        if not training:
            return images
        batch = tf.shape(images)[0]
        angle = keras.random.uniform((batch,), -self.max_radians, self.max_radians, seed=self.seed_generator)
        scale = keras.random.uniform((batch,), *self.scale_range, seed=self.seed_generator)
        coin = keras.random.uniform((batch, 2), 0.0, 1.0, seed=self.seed_generator)
        flips = tf.where(coin < 0.5, -1.0, 1.0)  # never 0, which would collapse the image to one pixel
        transforms = affine_about_centre(angle, scale * flips[:, 0], scale * flips[:, 1],
                                         tf.shape(images)[1], tf.shape(images)[2])
        return resample(images, transforms)


def affine_about_centre(angle: tf.Tensor, scale_x: tf.Tensor, scale_y: tf.Tensor, height: tf.Tensor,
                        width: tf.Tensor) -> tf.Tensor:
    """(batch, 8) projective rows mapping each output pixel to its input pixel: R(angle) . diag(sx, sy)
    about the image centre, so a negative scale is an exact flip and no content drifts off-centre."""
    centre_x = (tf.cast(width, tf.float32) - 1.0) / 2.0
    centre_y = (tf.cast(height, tf.float32) - 1.0) / 2.0
    cos, sin = tf.cos(angle), tf.sin(angle)
    a0, a1 = cos * scale_x, -sin * scale_y
    b0, b1 = sin * scale_x, cos * scale_y
    a2 = centre_x - a0 * centre_x - a1 * centre_y
    b2 = centre_y - b0 * centre_x - b1 * centre_y
    zeros = tf.zeros_like(angle)
    return tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)


def resample(images: tf.Tensor, transforms: tf.Tensor) -> tf.Tensor:
    resampled = tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transforms, output_shape=tf.shape(images)[1:3],
        fill_value=0.0, interpolation="BILINEAR", fill_mode="REFLECT")
    # The op's static output shape is unknown; without it the model's train step is traced for any image
    # size and runs markedly slower on CPU (bench/train_pipeline.py).
    return tf.ensure_shape(resampled, images.shape)


class RandomSharpness(keras.layers.Layer):
    """Randomly blur or sharpen (unsharp mask), so the model tolerates photos sharper or softer
    than the 200x150 training copies."""

    def __init__(self, low: float = -0.8, high: float = 1.0, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.low, self.high, self.seed_generator = low, high, keras.random.SeedGenerator(seed)
        kernel_1d = np.array([1.0, 2.0, 1.0], dtype=np.float32) / 4.0
        self.kernel = np.tile(np.outer(kernel_1d, kernel_1d)[:, :, None, None], (1, 1, 3, 1))

    def call(self, images, training=True):
        if not training:
            return images
        blurred = tf.nn.depthwise_conv2d(images, self.kernel, strides=[1, 1, 1, 1], padding="SAME")
        amount = keras.random.uniform((tf.shape(images)[0], 1, 1, 1), self.low, self.high,
                                      seed=self.seed_generator)
        return tf.clip_by_value(images + amount * (images - blurred), 0.0, 255.0)


class RandomColourCast(keras.layers.Layer):
    """Another dermatoscope's colour rendering: per-channel gain, saturation and gamma, in one pass."""

    def __init__(self, gain: float = CHANNEL_GAIN, saturation: tuple[float, float] = SATURATION_RANGE,
                 gamma: tuple[float, float] = GAMMA_RANGE, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.gain, self.saturation, self.gamma = gain, saturation, gamma
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=True):
        if not training:
            return images
        batch = tf.shape(images)[0]
        gains = keras.random.uniform((batch, 1, 1, 3), 1.0 - self.gain, 1.0 + self.gain, seed=self.seed_generator)
        saturation = keras.random.uniform((batch, 1, 1, 1), *self.saturation, seed=self.seed_generator)
        # log-uniform gamma, so darkening and brightening curves are equally likely
        log_gamma = keras.random.uniform((batch, 1, 1, 1), math.log(self.gamma[0]), math.log(self.gamma[1]),
                                         seed=self.seed_generator)
        unit = tf.clip_by_value(images / 255.0 * gains, 0.0, 1.0)  # (B, H, W, 3)
        toned = tf.pow(unit + 1e-6, tf.exp(log_gamma))
        grey = tf.reduce_mean(toned, axis=-1, keepdims=True)  # (B, H, W, 1)
        return tf.clip_by_value((grey + saturation * (toned - grey)) * 255.0, 0.0, 255.0)


class RandomSensorNoise(keras.layers.Layer):
    """Another camera's sensor: Gaussian noise, its standard deviation drawn per image up to `max_std` grey
    levels."""

    def __init__(self, max_std: float, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.max_std, self.seed_generator = max_std, keras.random.SeedGenerator(seed)

    def call(self, images, training=True):
        if not training:
            return images
        std = keras.random.uniform((tf.shape(images)[0], 1, 1, 1), 0.0, self.max_std, seed=self.seed_generator)
        noise = keras.random.normal(tf.shape(images), seed=self.seed_generator)
        return tf.clip_by_value(images + std * noise, 0.0, 255.0)


def build_augmenter(seed: int, colour_gain: float = CHANNEL_GAIN,
                    sensor_noise: float = SENSOR_NOISE) -> keras.Sequential:
    layers = [
        RandomOrientationAndScale(seed=seed),
        RandomColourCast(gain=colour_gain, seed=seed + 2),
        keras.layers.RandomBrightness(0.2, value_range=(0.0, 255.0), seed=seed + 3),
        keras.layers.RandomContrast(0.2, seed=seed + 4),
        RandomSharpness(low=-1.0, seed=seed + 5),
    ]
    if sensor_noise > 0:  # after the blur/sharpen: noise is added by the sensor, not smoothed by the lens
        layers.append(RandomSensorNoise(sensor_noise, seed=seed + 6))
    return keras.Sequential(layers, name="augmentation")

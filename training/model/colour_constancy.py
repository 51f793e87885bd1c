"""Shades-of-grey colour constancy (Finlayson and Trezzi, 2004) as the model's first layer.

Another dermatoscope or camera mostly changes an image by a gain per channel: its light's colour, its white
balance, its exposure. This layer estimates each image's illuminant as the Minkowski p-mean of each channel and
divides it out, bringing every channel's p-mean to one grey level, so a gain of any colour and strength leaves
the model's input unchanged (up to the pixels the camera clipped). Being a layer, it runs after the training
augmentation, exactly as at serving, and it travels inside the LiteRT model: the contract's input stays RGB 0-255.
"""

from __future__ import annotations

import keras
from keras import ops

COLOUR_CONSTANCY_LAYER = "colour_constancy"
POWER = 6  # the Minkowski norm: 1 is grey-world, infinity is max-RGB; 6 is the usual choice for dermoscopy
# The grey level each channel's p-mean is brought to: about the median p-mean of HAM10000's channels (0.67 of
# full scale), so a typical image keeps its brightness and the ImageNet backbone sees familiar values.
TARGET_GREY = 170.0
FULL_SCALE = 255.0
DARKEST_ILLUMINANT = 1.0 / FULL_SCALE  # the gain's cap (x170): a black channel stays black, not divided by zero


@keras.saving.register_keras_serializable(package="skin_cancer")
class ShadesOfGrey(keras.layers.Layer):
    """(B, H, W, 3) RGB 0-255 -> the same with each channel's p-mean at TARGET_GREY. No weights."""

    def __init__(self, power: int = POWER, target: float = TARGET_GREY, **kwargs):
        # float32 even under mixed precision: float16 loses the p-th powers of dark pixels
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        if int(power) != power or power < 1:
            raise ValueError(f"the Minkowski power must be a whole number >= 1, not {power!r}")
        self.power, self.target = int(power), float(target)

    def call(self, images):
        unit = ops.clip(ops.cast(images, "float32") / FULL_SCALE, 0.0, 1.0)  # the power stays in range
        mean = ops.mean(integer_power(unit, self.power), axis=(1, 2), keepdims=True)  # (B, 1, 1, 3)
        illuminant = ops.power(mean, 1.0 / self.power)
        gain = (self.target / FULL_SCALE) / ops.maximum(illuminant, DARKEST_ILLUMINANT)
        return unit * gain * FULL_SCALE

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict[str, object]:
        return {**super().get_config(), "power": self.power, "target": self.target}


def integer_power(x, exponent: int):
    """x ** exponent by repeated squaring: multiplications, which LiteRT's XNNPACK delegate runs, where a POW op
    on the whole image would fall back to the slower built-in kernels (only the (B, 1, 1, 3) root stays a POW)."""
    result, square = None, x
    while exponent:
        if exponent & 1:
            result = square if result is None else result * square
        exponent >>= 1
        if exponent:
            square = square * square
    return result


# method name -> its layer; training.config.COLOUR_CONSTANCY lists "none" and these (a test holds them equal)
LAYERS: dict[str, type[keras.layers.Layer]] = {"shades_of_grey": ShadesOfGrey}


def corrected_colour(images: keras.KerasTensor, method: str) -> keras.KerasTensor:
    """`images` through the layer `method` names, first in a functional model; "none" leaves them as they are."""
    if method == "none":
        return images
    if method not in LAYERS:
        raise ValueError(f"unknown colour constancy {method!r}; choose one of {('none', *LAYERS)}")
    return LAYERS[method](name=COLOUR_CONSTANCY_LAYER)(images)

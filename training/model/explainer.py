"""Grad-CAM of the classifier's cancer logit, written as forward ops.

For the head  logit = w2 . relu(W1 . BN(GAP(A)) + b1) + b2  the gradient of the logit with
respect to the last conv activation A (B, H, W, C) is the same at every position:

    dlogit/dA[h, w, c] = (1 / HW) * s[c] * sum_m W1[c, m] * 1[pre_m > 0] * w2[m]

with s = gamma / sqrt(var + eps) the BatchNorm scale. Grad-CAM's channel weights are the
spatial mean of that gradient, so CAM = relu(sum_c alpha[c] * A[h, w, c]). Writing it this way
(a comparison for the ReLU mask, two matmuls) needs no autodiff op, so the whole explainer
converts to LiteRT and costs about one forward pass.
"""

from __future__ import annotations

import keras
from keras import ops


class HeadGradCam(keras.layers.Layer):
    """Computes (B, H, W) Grad-CAM maps from backbone features through the classifier's head."""

    def __init__(self, batch_norm, hidden, output_dense, **kwargs):
        super().__init__(**kwargs)
        self.batch_norm, self.hidden, self.output_dense = batch_norm, hidden, output_dense

    def call(self, features):
        features = ops.cast(features, "float32")
        height, width = features.shape[1], features.shape[2]
        bn = self.batch_norm
        scale = ops.cast(bn.gamma, "float32") * ops.rsqrt(ops.cast(bn.moving_variance, "float32") + bn.epsilon)
        normalized = (ops.mean(features, axis=(1, 2)) - bn.moving_mean) * scale + bn.beta  # (B, C)
        kernel = ops.cast(self.hidden.kernel, "float32")  # (C, 256)
        pre_activation = ops.matmul(normalized, kernel) + self.hidden.bias  # (B, 256)
        relu_mask = ops.cast(pre_activation > 0, "float32")
        output_weights = ops.cast(self.output_dense.kernel[:, 0], "float32")  # (256,)
        d_logit_d_pooled = ops.matmul(relu_mask * output_weights, ops.transpose(kernel)) * scale  # (B, C)
        alpha = d_logit_d_pooled / float(height * width)
        return ops.relu(ops.einsum("bhwc,bc->bhw", features, alpha))


def build_explainer(classifier: keras.Model, gradcam_layer: str) -> keras.Model:
    """images (B, S, S, 3) -> [probability (B, 1), cam (B, H, W)] sharing the classifier's weights."""
    features = classifier.get_layer(gradcam_layer).output
    cam = HeadGradCam(
        classifier.get_layer("head_bn"),
        classifier.get_layer("head_dense"),
        classifier.get_layer("head_output"),
        name="gradcam",
    )(features)
    return keras.Model(classifier.input, [classifier.output, cam], name="explainer")

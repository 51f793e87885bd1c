"""The classifier's head and the phase-2 unfreezing rule (BatchNorm stays frozen)."""

import keras
import numpy as np
import pytest

from contract.schema import ModelLayers
from training.errors import WeightsUnavailable
from training.model import efficientnet_lite
from training.model.classifier import backbone_layers, build_classifier, freeze_backbone, unfreeze_top_of_backbone
from training.model.efficientnet_lite import VARIANTS, build_efficientnet_lite


def _model() -> keras.Model:
    return build_classifier("efficientnet_lite0", 64, weights="none")


def test_the_head_ends_in_a_softmax_over_the_seven_diagnoses():
    model = _model()
    assert model.output.shape[-1] == 7 and model.get_layer(ModelLayers.PROBABILITIES).name == "head_probabilities"
    out = np.asarray(model(np.zeros((2, 64, 64, 3), np.float32)))
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-6)


def test_freezing_leaves_only_the_head_trainable():
    model = _model()
    freeze_backbone(model)
    assert not any(layer.trainable for layer in backbone_layers(model))
    assert all(layer.trainable for layer in model.layers if layer.name.startswith(ModelLayers.HEAD_PREFIX))


def test_unfreezing_the_top_n_keeps_batch_norm_frozen():
    model = _model()
    layers = backbone_layers(model)
    count = unfreeze_top_of_backbone(model, 20)
    top = layers[-20:]
    expected = [layer for layer in top if not isinstance(layer, keras.layers.BatchNormalization)]
    assert count == len(expected) and all(layer.trainable for layer in expected)
    assert not any(layer.trainable for layer in top if isinstance(layer, keras.layers.BatchNormalization))
    assert not any(layer.trainable for layer in layers[:-20])


def test_unfreezing_zero_means_the_whole_backbone_but_batch_norm():
    model = _model()
    count = unfreeze_top_of_backbone(model, 0)
    layers = backbone_layers(model)
    batch_norms = [layer for layer in layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert count == len(layers) - len(batch_norms) and batch_norms
    assert not any(layer.trainable for layer in batch_norms)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_each_lite_backbone_starts_from_its_shipped_imagenet_weights(variant: str):
    model = build_classifier(variant, 64, weights="imagenet")
    reference = build_efficientnet_lite(VARIANTS[variant], weights=VARIANTS[variant].weights_path)
    blocks = {layer.name.split("_")[0] for layer in backbone_layers(model) if layer.name.startswith("block")}
    assert sorted(blocks) == sorted(VARIANTS[variant].block_names())
    for name in ("stem_conv", "block2b_dwconv", "top_conv"):
        for ours, theirs in zip(model.get_layer(name).get_weights(), reference.get_layer(name).get_weights(),
                                strict=True):
            np.testing.assert_array_equal(ours, theirs)


def test_a_missing_weights_file_names_the_conversion_command(tmp_path, monkeypatch):
    monkeypatch.setattr(efficientnet_lite, "PRETRAINED_DIR", tmp_path)
    with pytest.raises(WeightsUnavailable, match="convert_lite --variant efficientnet_lite1"):
        build_classifier("efficientnet_lite1", 64, weights="imagenet")

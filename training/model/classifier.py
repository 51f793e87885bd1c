"""The classifier: an ImageNet backbone with the project's head, and the phase-2 unfreezing rule.

Input is RGB 0-255 (the contract); each backbone carries its own normalisation inside.
Head: GAP -> BatchNorm -> Dense(256, relu) -> Dropout(0.4) -> Dense(7) logits -> softmax over the seven
diagnoses (contract.diagnoses); the cancer probability is the sum of the cancerous ones.
"""

from __future__ import annotations

from pathlib import Path

import keras

from contract.diagnoses import CLASS_CODES
from contract.schema import ModelLayers
from training.config import BACKBONES
from training.errors import WeightsUnavailable
from training.model import efficientnet_lite
from training.model.colour_constancy import LAYERS, corrected_colour

HIDDEN_UNITS = 256
DROPOUT = 0.4
# the layers of ours a saved model may hold, by their registered names, for load_classifier
CUSTOM_LAYERS = {keras.saving.get_registered_name(layer): layer for layer in LAYERS.values()}


def build_classifier(backbone: str, image_size: int, weights: str = "imagenet",
                     colour_constancy: str = "none") -> keras.Model:
    """A flat functional model: the backbone's own layers, then head layers named head_*.

    Flat (no nested sub-model) so Grad-CAM reads `top_activation` directly and phase 2 can
    unfreeze by layer order. `colour_constancy` (training.config.COLOUR_CONSTANCY) corrects each
    image's colour before the backbone.
    """
    base = _build_backbone(backbone, image_size, weights, colour_constancy)
    features = base.output  # (B, S/32, S/32, 1280)
    x = keras.layers.GlobalAveragePooling2D(name=ModelLayers.POOLED)(features)  # (B, 1280)
    x = keras.layers.BatchNormalization(name=ModelLayers.HEAD_NORM)(x)
    x = keras.layers.Dense(HIDDEN_UNITS, activation="relu", name=ModelLayers.HEAD_HIDDEN)(x)
    x = keras.layers.Dropout(DROPOUT, name="head_dropout")(x)
    # float32 logits and softmax even under mixed precision: a float16 softmax saturates.
    logits = keras.layers.Dense(len(CLASS_CODES), dtype="float32", name=ModelLayers.LOGITS)(x)  # (B, 7)
    outputs = keras.layers.Softmax(dtype="float32", name=ModelLayers.PROBABILITIES)(logits)
    return keras.Model(base.input, outputs, name=f"skin_cancer_{backbone}")


def _build_backbone(backbone: str, image_size: int, weights: str, colour_constancy: str) -> keras.Model:
    shape = (image_size, image_size, 3)
    if backbone in efficientnet_lite.VARIANTS:
        return _lite(efficientnet_lite.VARIANTS[backbone], shape, weights, colour_constancy)
    if backbone == "efficientnetb0":
        return _b0(shape, weights, colour_constancy)
    raise ValueError(f"unknown backbone {backbone!r}; choose one of {BACKBONES}")


def _lite(variant: efficientnet_lite.LiteVariant, shape: tuple[int, int, int], weights: str,
          colour_constancy: str) -> keras.Model:
    path = variant.weights_path if weights == "imagenet" else _weights_path_or_none(weights)
    if path is not None and not path.is_file():
        raise WeightsUnavailable(f"{variant.name} ImageNet weights not found at {path}; regenerate them with "
                                 f"`python -m training.model.convert_lite --variant {variant.name}` "
                                 "(see models/pretrained/README.md)")
    return efficientnet_lite.build_efficientnet_lite(variant, input_shape=shape, include_top=False,
                                                     weights=str(path) if path else None,
                                                     colour_constancy=colour_constancy)


def _b0(shape: tuple[int, int, int], weights: str, colour_constancy: str) -> keras.Model:
    keras_weights = "imagenet" if weights == "imagenet" else _weights_path_or_none(weights)
    # built on the corrected image, so the layer sits between the input and B0's own layers, in one flat model
    corrected = corrected_colour(keras.Input(shape=shape, name="image"), colour_constancy)
    try:
        return keras.applications.EfficientNetB0(include_top=False, weights=keras_weights, input_tensor=corrected)
    except Exception as error:  # offline, keras raises URLError/OSError/Exception variants
        if keras_weights != "imagenet":
            raise
        raise WeightsUnavailable(
            "Keras could not download the ImageNet EfficientNetB0 weights (no internet?). Offline, use "
            "`--backbone efficientnet_lite0 --weights imagenet` (its weights ship with the project), pass "
            "`--weights PATH` to a local efficientnetb0_notop.h5, or `--weights none`."
        ) from error


def _weights_path_or_none(weights: str) -> Path | None:
    if weights == "none":
        return None
    path = Path(weights)
    if not path.is_file():
        raise WeightsUnavailable(f"--weights {weights!r}: no such file (use imagenet, none or a file path)")
    return path


def load_classifier(path: Path) -> keras.Model:
    """A saved classifier: every load goes through here, so its custom layers are always known to Keras."""
    return keras.models.load_model(path, compile=False, custom_objects=CUSTOM_LAYERS)


def backbone_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The backbone's layers in graph order (everything before the head, minus the input)."""
    return [layer for layer in model.layers[1:] if not layer.name.startswith(ModelLayers.HEAD_PREFIX)]


def freeze_backbone(model: keras.Model) -> None:
    for layer in backbone_layers(model):
        layer.trainable = False


def unfreeze_top_of_backbone(model: keras.Model, n_layers: int) -> int:
    """Unfreeze the last n backbone layers (0: all), keeping BatchNorm frozen; returns how many."""
    freeze_backbone(model)
    unfrozen = 0
    layers = backbone_layers(model)
    for layer in layers[-n_layers:] if n_layers > 0 else layers:
        if not isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = True
            unfrozen += 1
    return unfrozen

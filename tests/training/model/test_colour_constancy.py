"""The shades-of-grey layer: a gain per channel (another light, white balance, exposure) leaves its output as it was."""

import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from training.config import COLOUR_CONSTANCY
from training.model.classifier import build_classifier
from training.model.colour_constancy import (
    COLOUR_CONSTANCY_LAYER,
    LAYERS,
    POWER,
    TARGET_GREY,
    ShadesOfGrey,
    integer_power,
)

REPO = Path(__file__).resolve().parents[3]


def _images(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(20, 200, (3, 24, 32, 3)).astype(np.float32)  # below 255 / 1.25: no gain below clips


def _p_mean(images: np.ndarray) -> np.ndarray:
    return np.mean((images / 255.0) ** POWER, axis=(1, 2)) ** (1 / POWER) * 255.0


def test_each_channels_p_mean_is_brought_to_the_target_grey():
    corrected = np.asarray(ShadesOfGrey()(_images()))
    np.testing.assert_allclose(_p_mean(corrected), TARGET_GREY, rtol=1e-4)


@pytest.mark.parametrize("gains", [(1.12, 1.0, 0.88), (0.88, 1.0, 1.12), (0.75, 0.75, 0.75), (1.2, 0.8, 0.6)])
def test_a_gain_per_channel_leaves_the_output_unchanged(gains):
    layer, images = ShadesOfGrey(), _images(1)
    np.testing.assert_allclose(np.asarray(layer(images * np.float32(gains))), np.asarray(layer(images)),
                               rtol=1e-4, atol=1e-3)


def test_an_image_keeps_its_pattern_only_its_channels_are_scaled():
    images = _images(2)
    corrected = np.asarray(ShadesOfGrey()(images))
    ratio = corrected / images
    np.testing.assert_allclose(ratio, np.broadcast_to(ratio[:, :1, :1, :], ratio.shape), rtol=1e-4)  # one gain each


def test_a_black_image_stays_black_and_finite():
    corrected = np.asarray(ShadesOfGrey()(np.zeros((1, 8, 8, 3), np.float32)))
    assert np.all(np.isfinite(corrected)) and np.all(corrected == 0)


def test_the_classifier_puts_it_first_and_survives_a_save_and_load(tmp_path):
    model = build_classifier("efficientnet_lite0", 64, weights="none", colour_constancy="shades_of_grey")
    assert model.layers[1].name == COLOUR_CONSTANCY_LAYER
    images = _images(3)[:, :24, :24]
    images = np.asarray(keras.ops.image.resize(images, (64, 64)))
    np.testing.assert_allclose(model(images * np.float32([1.1, 1.0, 0.9])), model(images), atol=1e-5)
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras", compile=False)
    np.testing.assert_allclose(loaded(images), model(images), atol=1e-6)


def test_without_it_the_classifier_sees_the_gain():
    model = build_classifier("efficientnet_lite0", 64, weights="imagenet")
    images = np.asarray(keras.ops.image.resize(_images(4), (64, 64)))
    assert COLOUR_CONSTANCY_LAYER not in [layer.name for layer in model.layers]
    assert np.max(np.abs(model(images * np.float32([1.2, 1.0, 0.8])) - model(images))) > 1e-3


@pytest.mark.parametrize("exponent", [1, 2, 3, 6, 7])
def test_the_integer_power_is_the_power(exponent):
    x = np.linspace(0, 1, 11, dtype=np.float32)
    np.testing.assert_allclose(np.asarray(integer_power(keras.ops.convert_to_tensor(x), exponent)), x**exponent,
                               rtol=1e-6, atol=1e-7)


def test_a_power_that_is_not_a_whole_number_is_refused():
    with pytest.raises(ValueError, match="whole number"):
        ShadesOfGrey(power=2.5)


def test_the_recipe_offers_exactly_the_layers_there_are():
    assert set(COLOUR_CONSTANCY) == {"none", *LAYERS}


def test_a_saved_model_with_it_loads_in_a_fresh_process_through_load_classifier(tmp_path):
    """A new process has registered nothing: the path every loader takes must make the layer known to Keras."""
    model = build_classifier("efficientnet_lite0", 64, weights="none", colour_constancy="shades_of_grey")
    model.save(tmp_path / "model.keras")
    script = ("import sys; from training.model.classifier import load_classifier; "
              "model = load_classifier(sys.argv[1]); print(model.layers[1].name)")
    loaded = subprocess.run([sys.executable, "-c", script, str(tmp_path / "model.keras")], cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    assert loaded.stdout.strip().splitlines()[-1] == COLOUR_CONSTANCY_LAYER


def test_every_saved_model_is_loaded_through_load_classifier():
    callers = [path.relative_to(REPO).as_posix() for folder in ("training", "service", "bench", "contract")
               for path in (REPO / folder).rglob("*.py") if "keras.models.load_model(" in path.read_text()]
    assert callers == ["training/model/classifier.py"]


def test_an_unknown_method_is_refused():
    with pytest.raises(ValueError, match="unknown colour constancy"):
        build_classifier("efficientnet_lite0", 64, weights="none", colour_constancy="grey_world")


def test_the_keras_applications_backbone_gets_it_first_too():
    model = build_classifier("efficientnetb0", 64, weights="none", colour_constancy="shades_of_grey")
    assert model.layers[1].name == COLOUR_CONSTANCY_LAYER
    images = np.asarray(keras.ops.image.resize(_images(5), (64, 64)))
    np.testing.assert_allclose(model(images * np.float32([0.9, 1.0, 1.1])), model(images), atol=1e-5)

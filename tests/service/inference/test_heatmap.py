"""Drawing the explanation honestly: one absolute scale, opacity with strength, the image's own aspect."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, JpegImagePlugin

from contract.schema import ExplanationSpec
from service.inference.heatmap import MAX_OPACITY, OverlayFormat, draw_overlay, jet, levels, overlay, summarise
from tests.conftest import REPO_ROOT

SAMPLES = REPO_ROOT / "samples"
SPEC = ExplanationSpec(layer="block5c_add", grid=2, display_scale=4.0, empty_below=0.2)


def test_levels_use_the_absolute_scale_not_the_maps_own_maximum():
    weak = np.array([[0.0, 0.4], [0.0, 0.4]], dtype=np.float32)
    drawn = levels(weak, 8, 8, SPEC.display_scale)
    assert drawn.max() <= 0.1 + 1e-6, "a weak map must stay weak, not be stretched to full colour"
    strong = levels(weak * 20, 8, 8, SPEC.display_scale)
    assert strong.max() == 1.0, "beyond the scale the level saturates"


def test_levels_follow_the_requested_aspect_ratio():
    grid = np.array([[0.0, 4.0], [0.0, 4.0]], dtype=np.float32)  # hot on the right
    drawn = levels(grid, 40, 30, SPEC.display_scale)
    assert drawn.shape == (30, 40)
    assert drawn[:, :5].mean() < drawn[:, 20].mean() < drawn[:, -5:].mean()


def test_summary_says_empty_below_the_bundles_level():
    assert summarise(np.zeros((2, 2)), SPEC).empty
    assert summarise(np.full((2, 2), 0.19), SPEC).empty
    found = summarise(np.array([[0.0, 2.0], [0.0, 0.0]]), SPEC)
    assert not found.empty and found.peak == 2.0 and found.strength == 0.5


def test_an_empty_map_leaves_the_image_untouched():
    image = np.random.default_rng(0).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    assert np.array_equal(overlay(image, np.zeros((2, 2)), SPEC.display_scale), image)


def test_a_map_below_the_empty_level_is_not_drawn():
    image = np.full((30, 40, 3), 200, dtype=np.uint8)
    just_under = np.full((2, 2), SPEC.empty_below * 0.99)
    assert np.array_equal(overlay(image, just_under, SPEC.display_scale, SPEC.empty_below), image)
    assert not np.array_equal(overlay(image, just_under * 3, SPEC.display_scale, SPEC.empty_below), image)


def test_a_full_map_tints_at_most_to_the_maximum_opacity():
    image = np.zeros((8, 8, 3), dtype=np.uint8)
    drawn = overlay(image, np.full((2, 2), 100.0), SPEC.display_scale).astype(float)
    red = jet(np.array([1.0]))[0].astype(float)
    assert np.allclose(drawn[4, 4], MAX_OPACITY * red, atol=1.0)


def test_jet_runs_from_blue_to_red():
    cold, hot = jet(np.array([0.0])), jet(np.array([1.0]))
    assert cold[0, 2] > 100 and cold[0, 0] == 0
    assert hot[0, 0] > 100 and hot[0, 2] == 0


@pytest.mark.parametrize("image_format", list(OverlayFormat))
def test_the_drawn_overlay_is_an_image_of_the_display_size_in_the_asked_format(image_format):
    encoded = draw_overlay(np.zeros((30, 40, 3), dtype=np.uint8), np.ones((2, 2)), SPEC, image_format)
    decoded = Image.open(io.BytesIO(encoded))
    assert decoded.format == image_format.name and decoded.size == (40, 30) and decoded.mode == "RGB"
    assert Image.MIME[decoded.format] == image_format.media_type


def _smooth_photo(height: int = 96, width: int = 128) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 255 // width, y * 255 // height, (x + y) * 255 // (width + height)], -1).astype(np.uint8)


def test_the_png_overlay_is_lossless():
    photo = np.random.default_rng(1).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    raw_map = np.array([[0.0, 1.0], [3.0, 4.0]])
    png = draw_overlay(photo, raw_map, SPEC, OverlayFormat.PNG)
    drawn = overlay(photo, raw_map, SPEC.display_scale, SPEC.empty_below)
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(png))), drawn)


@pytest.mark.parametrize("photo", ["synthetic", *sorted(SAMPLES.glob("*.jpg"))], ids=lambda p: getattr(p, "name", p))
def test_the_jpeg_overlay_stays_close_to_the_exact_drawing(photo):
    photo = _smooth_photo() if photo == "synthetic" else np.asarray(Image.open(photo).convert("RGB"))
    raw_map = np.array([[0.0, 1.0], [3.0, 4.0]])  # from no colour to full red across the image
    jpeg = draw_overlay(photo, raw_map, SPEC, OverlayFormat.JPEG)
    assert JpegImagePlugin.get_sampling(Image.open(io.BytesIO(jpeg))) == 0, "4:4:4: colour edges kept sharp"
    drawn = overlay(photo, raw_map, SPEC.display_scale, SPEC.empty_below).astype(float)
    error = np.abs(np.asarray(Image.open(io.BytesIO(jpeg))).astype(float) - drawn)
    assert error.mean() < 1.5 and np.percentile(error, 99) < 8, "no visible loss"


def test_the_blend_is_the_opacity_weighted_mix_of_photo_and_colour():
    from service.inference.heatmap import JET_TABLE, OPACITY_TABLE

    photo = np.random.default_rng(2).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    raw_map = np.array([[0.5, 1.0], [2.0, 4.0]])  # levels 1/8 .. 1 on SPEC's scale
    level = levels(raw_map, 16, 16, SPEC.display_scale)
    index = np.rint(level * 255.0).astype(int)
    opacity = OPACITY_TABLE[index][..., None]
    expected = (1.0 - opacity) * photo + opacity * JET_TABLE[index]
    np.testing.assert_allclose(overlay(photo, raw_map, SPEC.display_scale).astype(float), expected, atol=0.51)

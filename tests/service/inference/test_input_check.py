"""The input check raises each warning at its limit, and only there."""

from __future__ import annotations

import numpy as np

from contract.input_check import FeatureStatistics
from service.inference.input_check import InputCheck, WarningCode
from tests.service.fakes import fake_input_check_spec

STATISTICS = FeatureStatistics(np.zeros(2, dtype=np.float32), np.eye(2, dtype=np.float32), np.ones(2, dtype=np.float32),
                               1.0)
CHECK = InputCheck(fake_input_check_spec(distance_threshold=5.0, min_sharpness=50.0, min_brightness=60.0,
                                         max_brightness=200.0, min_short_side=96), STATISTICS)
RNG = np.random.default_rng(0)
TEXTURED = RNG.integers(90, 170, (64, 64, 3), dtype=np.uint8)  # mid-grey noise: sharp, well exposed
NEAR = np.array([1.0, 1.0], dtype=np.float32)  # distance 1.4 from the training mean


def codes(pixels=TEXTURED, size=(600, 450), features=NEAR) -> list[WarningCode]:
    return [warning.code for warning in CHECK.warnings(pixels, size, features)]


def test_a_good_image_gets_no_warning():
    assert codes() == []


def test_far_features_are_out_of_distribution():
    assert codes(features=np.array([4.0, 4.0], dtype=np.float32)) == [WarningCode.OUT_OF_DISTRIBUTION]


def test_a_flat_image_is_blurry():
    assert WarningCode.BLURRY in codes(pixels=np.full((64, 64, 3), 128, dtype=np.uint8))


def test_dark_and_bright_images_are_under_and_overexposed():
    assert WarningCode.UNDEREXPOSED in codes(pixels=(TEXTURED // 4).astype(np.uint8))
    assert WarningCode.OVEREXPOSED in codes(pixels=np.clip(TEXTURED.astype(int) + 110, 0, 255).astype(np.uint8))


def test_a_grainy_image_is_noisy_and_a_clean_one_is_not():
    check = InputCheck(fake_input_check_spec(max_noise=3.0), STATISTICS)
    y, x = np.mgrid[0:64, 0:64]
    shaded = (80 + x + y).astype(np.float64)  # smooth: sharp enough, no noise
    grainy = shaded + np.random.default_rng(2).normal(0, 8, shaded.shape)

    def found(luma):
        pixels = np.repeat(np.clip(luma, 0, 255)[..., None], 3, axis=2).astype(np.uint8)
        return {warning.code: warning.detail for warning in check.warnings(pixels, (600, 450), NEAR)}

    assert WarningCode.NOISY not in found(shaded)
    assert "> 3.00 grey levels" in found(grainy)[WarningCode.NOISY]


def test_a_small_image_is_low_resolution():
    assert codes(size=(120, 90)) == [WarningCode.LOW_RESOLUTION]
    assert codes(size=(96, 96)) == []


def test_details_name_the_measured_value_and_the_limit():
    [warning] = CHECK.warnings(TEXTURED, (120, 90), NEAR)
    assert "120x90" in warning.detail and "96" in warning.detail


def test_a_bundle_from_before_the_noise_check_is_not_checked_for_noise():
    older = InputCheck(fake_input_check_spec(max_noise=None), STATISTICS)
    grainy = np.random.default_rng(3).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    assert WarningCode.NOISY not in [warning.code for warning in older.warnings(grainy, (600, 450), NEAR)]

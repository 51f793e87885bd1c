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


def test_a_small_image_is_low_resolution():
    assert codes(size=(120, 90)) == [WarningCode.LOW_RESOLUTION]
    assert codes(size=(96, 96)) == []


def test_details_name_the_measured_value_and_the_limit():
    [warning] = CHECK.warnings(TEXTURED, (120, 90), NEAR)
    assert "120x90" in warning.detail and "96" in warning.detail

"""The image-quality measures: each one answers its own fault and not the others."""

import numpy as np
import pytest

from contract.image_quality import measure, measure_all, noise_level

SIDE = 192


def _smooth() -> np.ndarray:
    """A lesion-like image with no noise: a dark blob on skin, smooth shading, 0-255 luma."""
    y, x = np.mgrid[0:SIDE, 0:SIDE].astype(np.float32)
    blob = np.exp(-((x - 96) ** 2 + (y - 90) ** 2) / (2 * 30.0**2))
    return 200.0 - 120.0 * blob + 0.1 * x


def _rgb(luma: np.ndarray) -> np.ndarray:
    return np.repeat(np.clip(np.round(luma), 0, 255)[..., None], 3, axis=2).astype(np.uint8)


@pytest.mark.parametrize("sigma", [2.0, 5.0, 10.0])
def test_the_noise_estimate_recovers_the_standard_deviation_of_gaussian_noise(sigma):
    noisy = _smooth() + np.random.default_rng(0).normal(0, sigma, (SIDE, SIDE))
    assert noise_level(noisy) == pytest.approx(sigma, rel=0.1)


def test_a_smooth_image_has_next_to_no_noise():
    assert noise_level(_smooth()) < 0.1


def test_hairs_and_edges_do_not_read_as_noise():
    """Diagonal hairs: the kernel is separable, so lines along the rows or columns would give no response at all,
    and the mean of the absolute response reads them as heavy noise where the median does not."""
    hairy = _smooth()
    y, x = np.mgrid[0:SIDE, 0:SIDE]
    hairy[((x + y) % 24) < 2] -= 90.0  # dark hairs, 2 px wide, every 24 px along the diagonal
    assert noise_level(hairy) < 0.1
    assert measure(_rgb(hairy)).sharpness > 10 * measure(_rgb(_smooth())).sharpness  # while sharpness sees them


def test_noise_raises_the_noise_estimate_and_blur_lowers_the_sharpness():
    rng = np.random.default_rng(1)
    textured = _smooth() + rng.normal(0, 6, (SIDE, SIDE))
    noisy, clean = _rgb(textured), _rgb(_smooth())
    assert measure(noisy).noise > 5 * max(measure(clean).noise, 0.2)
    assert measure(clean).brightness == pytest.approx(measure(noisy).brightness, abs=1.0)
    blurred = (textured + np.roll(textured, 1, 0) + np.roll(textured, 1, 1) + np.roll(textured, (1, 1), (0, 1))) / 4
    assert measure(_rgb(blurred)).sharpness < measure(noisy).sharpness / 3


def test_measure_all_names_every_measure():
    images = np.stack([_rgb(_smooth()), _rgb(_smooth() * 0.5)])
    measured = measure_all(images)
    assert set(measured) == {"sharpness", "brightness", "noise"}
    assert measured["brightness"][1] == pytest.approx(measured["brightness"][0] / 2, rel=0.02)

"""Test-time flips average a prediction over mirror images of each image."""

import numpy as np
import pytest

from training.evaluation.flips import FLIP_VIEWS, averaged_over_flips

IMAGES = np.random.default_rng(0).integers(0, 256, (3, 4, 6, 3)).astype(np.float32)  # (N, H, W, C)


def left_half_mean(batch: np.ndarray) -> np.ndarray:
    return batch[:, :, :3].mean(axis=(1, 2, 3))[:, None]


def top_left_mean(batch: np.ndarray) -> np.ndarray:
    return batch[:, :2, :3].mean(axis=(1, 2, 3))[:, None]


def test_no_flips_is_one_plain_pass():
    calls = []
    result = averaged_over_flips(lambda batch: calls.append(batch) or left_half_mean(batch), IMAGES, "none")
    assert len(calls) == 1 and np.array_equal(calls[0], IMAGES)
    np.testing.assert_allclose(result, left_half_mean(IMAGES))


def test_the_horizontal_mirror_swaps_left_and_right():
    # the left half of the mirror is the right half of the image: their average is the whole image's mean
    result = averaged_over_flips(left_half_mean, IMAGES, "horizontal")
    np.testing.assert_allclose(result, IMAGES.mean(axis=(1, 2, 3))[:, None], rtol=1e-6)
    assert not np.allclose(result, left_half_mean(IMAGES))


def test_both_flips_visit_every_quadrant():
    result = averaged_over_flips(top_left_mean, IMAGES, "both")
    np.testing.assert_allclose(result, IMAGES.mean(axis=(1, 2, 3))[:, None], rtol=1e-6)


@pytest.mark.parametrize("flips", sorted(FLIP_VIEWS))
def test_every_view_keeps_the_batch_shape_and_the_first_is_the_image_itself(flips):
    views = []
    averaged_over_flips(lambda batch: views.append(batch) or left_half_mean(batch), IMAGES, flips)
    assert np.array_equal(views[0], IMAGES) and all(view.shape == IMAGES.shape for view in views)
    assert len({view.tobytes() for view in views}) == len(views), "no view repeats another"

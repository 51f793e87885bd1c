"""bench.shifts: each shift re-photographs an image deterministically, and only `none` keeps the file as it is."""

import io

import numpy as np
import pytest
from PIL import Image

from bench.shifts import ACQUISITION_SHIFTS, jpeg


@pytest.fixture(scope="module")
def lesion() -> bytes:
    y, x = np.mgrid[0:150, 0:200]
    disc = ((x - 100) ** 2 + (y - 75) ** 2 < 40**2)[..., None]
    pixels = np.where(disc, [120, 70, 50], [225, 180, 160]).astype(np.uint8)
    return jpeg(Image.fromarray(pixels))


def _pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.float32)


def test_names_are_unique_and_none_is_the_unshifted_baseline(lesion):
    names = [shift.name for shift in ACQUISITION_SHIFTS]
    assert len(set(names)) == len(names) and names[0] == "none"
    assert ACQUISITION_SHIFTS[0].apply(lesion) is lesion


@pytest.mark.parametrize("shift", ACQUISITION_SHIFTS[1:], ids=lambda shift: shift.name)
def test_every_other_shift_changes_the_image_the_same_way_each_time(shift, lesion):
    shifted = shift.apply(lesion)
    assert shifted == shift.apply(lesion)
    original, after = _pixels(lesion), _pixels(shifted)
    if shift.name == "jpeg_again":  # the control: re-encoded, nothing more
        assert shifted != lesion and np.abs(after - original).mean() < 2.0
    elif after.shape == original.shape:
        assert np.abs(after - original).mean() > 0.5
    else:
        assert after.shape[:2] in ((75, 100), (450, 600))  # half_resolution, other_camera


def test_colour_and_exposure_shifts_move_the_colours_the_way_their_names_say(lesion):
    by_name = {shift.name: shift for shift in ACQUISITION_SHIFTS}
    original = _pixels(lesion).mean(axis=(0, 1))
    cool, warm = (_pixels(by_name[name].apply(lesion)).mean(axis=(0, 1)) for name in ("cool_light", "warm_light"))
    assert cool[0] < original[0] < warm[0] and cool[2] > original[2] > warm[2]
    assert _pixels(by_name["dimmer"].apply(lesion)).mean() < original.mean() < \
        _pixels(by_name["brighter"].apply(lesion)).mean()

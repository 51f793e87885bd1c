"""Test-time flips: an image's probabilities averaged with those of its mirror images.

For evaluation only, to measure what flips would bring: the service runs one pass per image (README, "The
bundled model", says what they measured and why).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

# For each choice, the views averaged: the axes of an (N, H, W, C) batch that each view mirrors.
FLIP_VIEWS: dict[str, tuple[tuple[int, ...], ...]] = {
    "none": ((),),
    "horizontal": ((), (2,)),
    "both": ((), (2,), (1,), (1, 2)),
}


def averaged_over_flips(predict: Callable[[np.ndarray], np.ndarray], images: np.ndarray, flips: str) -> np.ndarray:
    """The mean of predict(view) over the views FLIP_VIEWS[flips] of images (N, H, W, C)."""
    return np.mean([predict(np.flip(images, axes)) for axes in FLIP_VIEWS[flips]], axis=0)

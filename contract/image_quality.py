"""Image-quality measures, in numpy only, computed on exactly the pixels the model sees.

Training measures them over the training split and stores the thresholds in the bundle (the 0.5th and
99.5th percentiles, `InputCheckSpec`); the service measures each request the same way and warns outside them.
Sharpness and noise both read fine detail but answer different faults: the Laplacian's variance falls when an
image is blurred, and the noise estimate, a median, rises only when the detail is everywhere, as a sensor's
noise is, and not along a few edges or hairs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# ITU-R BT.601 luma weights: the grey level a viewer perceives from R, G and B.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
# Immerkaer's noise kernel, the outer product of two second differences [1, -2, 1]: it cancels a locally linear
# image, so what it leaves is mostly noise; under Gaussian noise of standard deviation s its response has standard
# deviation 6 s (the root of the kernel's squared sum, 36).
_NOISE_KERNEL_GAIN = 6.0
# The median absolute response, over its value for a standard normal (0.6745): edges and hairs answer strongly
# but cover few pixels, so the median sees the noise and not them.
_NORMAL_MEDIAN_ABSOLUTE = 0.6745


@dataclass(frozen=True)
class QualityMeasures:
    sharpness: float  # variance of the 4-neighbour Laplacian of the luma (0-255 scale): low = blurred
    brightness: float  # mean luma, 0-255: low = underexposed, high = overexposed
    noise: float  # estimated standard deviation of pixel noise in the luma, grey levels: high = noisy


def measure(pixels: np.ndarray) -> QualityMeasures:
    """pixels: (S, S, 3) uint8 RGB, the model input."""
    luma = pixels.astype(np.float32) @ _LUMA  # (S, S)
    laplacian = (luma[1:-1, :-2] + luma[1:-1, 2:] + luma[:-2, 1:-1] + luma[2:, 1:-1] - 4.0 * luma[1:-1, 1:-1])
    return QualityMeasures(sharpness=float(laplacian.var()), brightness=float(luma.mean()), noise=noise_level(luma))


def noise_level(luma: np.ndarray) -> float:
    """Robust noise estimate (after Immerkaer 1996): the second difference across rows, then across columns.

    The median is taken over every other response in each direction: a quarter of them (~9,000 at 192 px) pins
    it down as well, and a median over all of them would cost ten times what the rest of the check does.
    """
    rows = luma[:-2] - 2.0 * luma[1:-1] + luma[2:]
    response = rows[:, :-2] - 2.0 * rows[:, 1:-1] + rows[:, 2:]
    return float(np.median(np.abs(response[::2, ::2])) / (_NORMAL_MEDIAN_ABSOLUTE * _NOISE_KERNEL_GAIN))


def measure_all(images: np.ndarray) -> dict[str, np.ndarray]:
    """(N, S, S, 3) uint8 -> each measure's name -> its (N,) values."""
    measures = [measure(image) for image in images]
    return {name: np.array([getattr(m, name) for m in measures]) for name in QualityMeasures.__dataclass_fields__}

"""Image-quality measures, in numpy only, computed on exactly the pixels the model sees.

Training measures them over the training split and stores the thresholds in the bundle (the 0.5th and
99.5th percentiles, `InputCheckSpec`); the service measures each request the same way and warns outside them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# ITU-R BT.601 luma weights: the grey level a viewer perceives from R, G and B.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


@dataclass(frozen=True)
class QualityMeasures:
    sharpness: float  # variance of the 4-neighbour Laplacian of the luma (0-255 scale): low = blurred
    brightness: float  # mean luma, 0-255: low = underexposed, high = overexposed


def measure(pixels: np.ndarray) -> QualityMeasures:
    """pixels: (S, S, 3) uint8 RGB, the model input."""
    luma = pixels.astype(np.float32) @ _LUMA  # (S, S)
    laplacian = (luma[1:-1, :-2] + luma[1:-1, 2:] + luma[:-2, 1:-1] + luma[2:, 1:-1] - 4.0 * luma[1:-1, 1:-1])
    return QualityMeasures(sharpness=float(laplacian.var()), brightness=float(luma.mean()))


def measure_all(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, S, S, 3) uint8 -> (sharpness (N,), brightness (N,))."""
    measures = [measure(image) for image in images]
    return (np.array([m.sharpness for m in measures]), np.array([m.brightness for m in measures]))

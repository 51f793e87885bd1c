"""The input check: warnings when an image is unlike the dermoscopy the model knows, or of poor quality.

Limits come from the bundle (chosen on HAM10000 at export, `InputCheckSpec`); the out-of-distribution
distance uses the engine's pooled features, so the check costs a matrix-vector product and a few numpy
reductions on the 192x192 input.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

from contract.image_quality import measure
from contract.input_check import FeatureStatistics
from contract.schema import InputCheckSpec


class WarningCode(enum.StrEnum):
    OUT_OF_DISTRIBUTION = "out_of_distribution"
    BLURRY = "blurry"
    UNDEREXPOSED = "underexposed"
    OVEREXPOSED = "overexposed"
    NOISY = "noisy"
    LOW_RESOLUTION = "low_resolution"


@dataclass(frozen=True)
class InputWarning:
    code: WarningCode
    detail: str


class InputCheck:
    def __init__(self, spec: InputCheckSpec, statistics: FeatureStatistics):
        self.spec, self.statistics = spec, statistics

    def distance(self, features: np.ndarray) -> float:
        return float(self.statistics.distance(features.reshape(1, -1))[0])

    def warnings(self, pixels: np.ndarray, original_size: tuple[int, int], features: np.ndarray) -> list[InputWarning]:
        """Every warning that applies to one image, most serious first."""
        spec, found = self.spec, []
        distance = self.distance(features)
        if distance > spec.distance_threshold:
            found.append(InputWarning(WarningCode.OUT_OF_DISTRIBUTION, (
                f"the image is unlike the dermoscopy images the model was trained on (feature distance "
                f"{distance:.1f} > {spec.distance_threshold:.1f}); the result may mean nothing")))
        quality = measure(pixels)
        if quality.sharpness < spec.min_sharpness:
            found.append(InputWarning(WarningCode.BLURRY, (
                f"the image is blurred (sharpness {quality.sharpness:.1f} < {spec.min_sharpness:.1f})")))
        if quality.brightness < spec.min_brightness:
            found.append(InputWarning(WarningCode.UNDEREXPOSED, (
                f"the image is too dark (mean brightness {quality.brightness:.0f} < {spec.min_brightness:.0f})")))
        if quality.brightness > spec.max_brightness:
            found.append(InputWarning(WarningCode.OVEREXPOSED, (
                f"the image is too bright (mean brightness {quality.brightness:.0f} > {spec.max_brightness:.0f})")))
        if spec.max_noise is not None and quality.noise > spec.max_noise:
            found.append(InputWarning(WarningCode.NOISY, (
                f"the image is grainy (noise {quality.noise:.2f} > {spec.max_noise:.2f} grey levels); sensor noise "
                "lowers the model's sensitivity")))
        if min(original_size) < spec.min_short_side:
            found.append(InputWarning(WarningCode.LOW_RESOLUTION, (
                f"the image is {original_size[0]}x{original_size[1]} pixels; below {spec.min_short_side} on the "
                "shorter side the model sees too little detail")))
        return found

"""Dermoscopy images re-photographed in software: what another clinic's dermatoscope, camera or upload path
changes, applied to HAM10000 images that keep their labels. Other clinics' images are not available here;
these stand in for them in bench.acquisition_shift (the model) and bench.input_check (the input check).

Each shift is an image transform plus the JPEG quality it is saved at, so the service's own decoding and
resizing run on it as on an upload. Several lie outside the training augmentation of the shipped recipe
(training/data/augment.py): JPEG artefacts, sensor noise, a lower resolution, a larger and softer sensor; the
colour and exposure shifts lie at or beyond its edges.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter


@dataclass(frozen=True)
class Shift:
    name: str
    description: str
    transform: Callable[[Image.Image], Image.Image] | None  # None: the original file, not re-encoded
    quality: int = 90

    def apply(self, original: bytes) -> bytes:
        if self.transform is None:
            return original
        return jpeg(self.transform(Image.open(io.BytesIO(original)).convert("RGB")), self.quality)


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def _gains(red: float, blue: float) -> Callable[[Image.Image], Image.Image]:
    def cast(image: Image.Image) -> Image.Image:
        r, g, b = image.split()
        return Image.merge("RGB", (r.point(lambda v: min(255, round(v * red))), g,
                                   b.point(lambda v: min(255, round(v * blue)))))
    return cast


def _scaled_values(factor: float) -> Callable[[Image.Image], Image.Image]:
    # on the stored (gamma-encoded) values: x0.75 is about 0.9 stops darker in linear light, x1.25 about 0.7
    # stops brighter, with highlights clipped
    return lambda image: ImageEnhance.Brightness(image).enhance(factor)


def _larger_warmer_softer(image: Image.Image) -> Image.Image:
    larger = image.resize((image.width * 3, image.height * 3), Image.Resampling.BICUBIC)
    return ImageEnhance.Color(_gains(1.06, 0.94)(larger)).enhance(1.15).filter(ImageFilter.GaussianBlur(1.0))


def _half_resolution(image: Image.Image) -> Image.Image:
    return image.resize((image.width // 2, image.height // 2), Image.Resampling.LANCZOS)


def _sensor_noise(sigma: float) -> Callable[[Image.Image], Image.Image]:
    def noisy(image: Image.Image) -> Image.Image:
        """Gaussian noise of standard deviation `sigma` grey levels, drawn from the image's own bytes: the same
        noise for the same image on any machine."""
        pixels = np.asarray(image, dtype=np.float32)
        rng = np.random.default_rng(zlib.crc32(image.tobytes()))
        grainy = np.clip(pixels + rng.normal(0.0, sigma, pixels.shape), 0, 255)
        return Image.fromarray(np.rint(grainy).astype(np.uint8))
    return noisy


OTHER_CAMERA = Shift("other_camera", "3x larger, warmer (red x1.06, blue x0.94), saturation x1.15, a 1 px blur, "
                                     "JPEG quality 70", _larger_warmer_softer, quality=70)

# What bench.acquisition_shift scores the model under. Some also draw the input check's quality warnings (it
# measures how often): the softer focus is often below its sharpness limit, and half of HAM10000's 200x150 is
# below its resolution limit.
ACQUISITION_SHIFTS = (
    Shift("none", "the original HAM10000 file", None),
    Shift("jpeg_again", "saved again as JPEG quality 90: the re-encoding alone, which every shift below also "
                        "does (at 90 unless stated)",
          lambda image: image),
    OTHER_CAMERA,
    Shift("cool_light", "a bluer light: red x0.88, blue x1.12", _gains(0.88, 1.12)),
    Shift("warm_light", "a yellower light: red x1.12, blue x0.88", _gains(1.12, 0.88)),
    Shift("dimmer", "pixel values x0.75", _scaled_values(0.75)),
    Shift("brighter", "pixel values x1.25", _scaled_values(1.25)),
    Shift("softer_focus", "a Gaussian blur of 1.5 px", lambda image: image.filter(ImageFilter.GaussianBlur(1.5))),
    Shift("sensor_noise", "Gaussian noise, standard deviation 8 grey levels", _sensor_noise(8.0)),
    Shift("heavy_jpeg", "JPEG quality 30", lambda image: image, quality=30),
    Shift("half_resolution", "half the width and height (100x75 for HAM10000)", _half_resolution),
)

# Degraded copies the input check exists to flag (bench.input_check): blurry, underexposed, overexposed, noisy.
BLURRED = Shift("blurred", "a Gaussian blur of 4 px", lambda image: image.filter(ImageFilter.GaussianBlur(4)))
DARK = Shift("dark", "pixel values x0.3", _scaled_values(0.3))
BRIGHT = Shift("bright", "pixel values x1.9", _scaled_values(1.9))
NOISY = Shift("noisy", "Gaussian noise, standard deviation 16 grey levels", _sensor_noise(16.0))

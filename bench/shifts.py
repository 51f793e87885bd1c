"""Dermoscopy images re-photographed in software: what another clinic's dermatoscope, camera or upload path
changes, applied to HAM10000 images that keep their labels. Other clinics' images are not available here;
these stand in for them in bench.acquisition_shift (the model) and bench.input_check (the input check).

Each shift is an image transform plus the JPEG quality it is saved at, so the service's own decoding and
resizing run on it as on an upload. Several lie outside the training augmentation (data/augment.py): JPEG
artefacts, sensor noise, a lower resolution and a larger, softer sensor; the colour and exposure shifts lie at
or beyond its edges.
"""

from __future__ import annotations

import io
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
        return Image.merge("RGB", (r.point(lambda v: min(255, int(v * red))), g,
                                   b.point(lambda v: min(255, int(v * blue)))))
    return cast


def other_camera(image: Image.Image) -> Image.Image:
    """Another dermatoscope and camera: 3x larger, warmer and a little more saturated, a softer lens."""
    larger = image.resize((image.width * 3, image.height * 3), Image.Resampling.BICUBIC)
    return ImageEnhance.Color(_gains(1.06, 0.94)(larger)).enhance(1.15).filter(ImageFilter.GaussianBlur(1.0))


def half_resolution(image: Image.Image) -> Image.Image:
    return image.resize((image.width // 2, image.height // 2), Image.Resampling.LANCZOS)


def sensor_noise(image: Image.Image) -> Image.Image:
    """Gaussian noise of standard deviation 8 grey levels (a small sensor in dim light), the same for a given
    image each run."""
    pixels = np.asarray(image, dtype=np.float32)
    rng = np.random.default_rng(int(pixels.sum()) % 2**32)
    return Image.fromarray(np.clip(pixels + rng.normal(0.0, 8.0, pixels.shape), 0, 255).astype(np.uint8))


def blurred(image: Image.Image) -> Image.Image:
    return image.filter(ImageFilter.GaussianBlur(4))


def dark(image: Image.Image) -> Image.Image:
    return ImageEnhance.Brightness(image).enhance(0.3)


def bright(image: Image.Image) -> Image.Image:
    return ImageEnhance.Brightness(image).enhance(1.9)


# The shifts bench.acquisition_shift scores the model under: plausible captures of a usable image, not the
# degraded ones the input check exists to flag (blurred, dark, bright above).
ACQUISITION_SHIFTS = (
    Shift("none", "the original HAM10000 file", None),
    Shift("other_camera", "3x larger, warmer (red x1.06, blue x0.94), saturation x1.15, a 1 px blur, JPEG "
                          "quality 70", other_camera, quality=70),
    Shift("cool_light", "a bluer light: red x0.88, blue x1.12", _gains(0.88, 1.12)),
    Shift("warm_light", "a yellower light: red x1.12, blue x0.88", _gains(1.12, 0.88)),
    Shift("dimmer", "exposure x0.75", lambda image: ImageEnhance.Brightness(image).enhance(0.75)),
    Shift("brighter", "exposure x1.25", lambda image: ImageEnhance.Brightness(image).enhance(1.25)),
    Shift("softer_focus", "a Gaussian blur of 1.5 px", lambda image: image.filter(ImageFilter.GaussianBlur(1.5))),
    Shift("sensor_noise", "Gaussian noise, standard deviation 8 grey levels", sensor_noise),
    Shift("heavy_jpeg", "JPEG quality 30", lambda image: image, quality=30),
    Shift("half_resolution", "half the width and height (100x75 for HAM10000)", half_resolution),
)

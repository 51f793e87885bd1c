"""The explanation map drawn honestly, in numpy and Pillow only (no matplotlib/OpenCV at serving time).

Every map is put on the bundle's one absolute scale (`ExplanationSpec.display_scale`), not on its own
maximum, so a weak map looks weak; colour and opacity grow with the level, so weak regions leave the lesion
visible; and the map is stretched back over the original image's aspect ratio, since the model saw the
whole field of view squashed to a square.
"""

from __future__ import annotations

import enum
import io
import zlib
from dataclasses import dataclass

import numpy as np
from PIL import Image

from contract.schema import ExplanationSpec

MAX_OPACITY = 0.65  # at full level; the lesion stays visible under the strongest colours
# The overlay is a photograph: JPEG at this quality, without chroma subsampling (which would smear the colour
# map's edges), shows no visible loss at the display size and encodes several times faster and smaller than
# PNG (bench/inference.py times both side by side).
JPEG_QUALITY = 90


class OverlayFormat(enum.StrEnum):
    JPEG = "jpeg"
    PNG = "png"  # lossless, for archiving or pixel-exact comparison

    @property
    def media_type(self) -> str:
        return f"image/{self.value}"


@dataclass(frozen=True)
class MapSummary:
    peak: float  # the raw map's maximum
    strength: float  # peak / display_scale: 1 is a typical strong map on validation
    empty: bool  # peak below the bundle's empty level: "no region stood out"


def summarise(raw_map: np.ndarray, spec: ExplanationSpec) -> MapSummary:
    peak = float(np.max(raw_map, initial=0.0))
    return MapSummary(peak, peak / spec.display_scale, peak < spec.empty_below)


def levels(raw_map: np.ndarray, width: int, height: int, scale: float) -> np.ndarray:
    """(g, g) raw map -> (height, width) levels in [0, 1] on the absolute scale, bilinearly upsampled."""
    grid = Image.fromarray(np.ascontiguousarray(raw_map, dtype=np.float32))  # mode F
    upsampled = np.asarray(grid.resize((width, height), Image.Resampling.BILINEAR), dtype=np.float32)
    return np.clip(upsampled / scale, 0.0, 1.0)


def jet(values: np.ndarray) -> np.ndarray:
    """[0, 1] -> (..., 3) uint8 RGB along a jet-like ramp: blue -> cyan -> yellow -> red."""
    v = np.clip(values, 0.0, 1.0)[..., None]
    centres = np.array([0.75, 0.5, 0.25], dtype=np.float32)  # where red, green, blue peak
    rgb = np.clip(1.5 - np.abs(4.0 * (v - centres)), 0.0, 1.0)
    return np.rint(rgb * 255.0).astype(np.uint8)


# Colour and opacity sampled at 256 levels: drawing becomes table lookups per pixel (it is on /gradcam's path).
# Opacity grows with the square root of the level: a typical map stays visible, a weak one stays faint, and an
# empty one leaves the photo untouched.
_LEVELS = np.linspace(0.0, 1.0, 256, dtype=np.float32)
JET_TABLE = jet(_LEVELS)
OPACITY_TABLE = (MAX_OPACITY * np.sqrt(_LEVELS)).astype(np.float32)
# The blended value for every (channel, level, photo value): (1 - opacity) * photo + opacity * colour, rounded.
# 192 KB, and the blend becomes one lookup per pixel and channel.
_BLEND_TABLE = np.rint(
    (1.0 - OPACITY_TABLE)[None, :, None] * np.arange(256, dtype=np.float32)[None, None, :]
    + (OPACITY_TABLE[:, None] * JET_TABLE.astype(np.float32)).T[:, :, None]
).clip(0, 255).astype(np.uint8).reshape(3, -1)  # (3, 256 levels x 256 values)


def overlay(display: np.ndarray, raw_map: np.ndarray, scale: float, empty_below: float = 0.0) -> np.ndarray:
    """Blend the coloured map over display (h, w, 3) uint8, opacity growing with the level.

    Values below `empty_below` (the bundle's "no region stood out" level) are not drawn at all, so an empty
    map leaves the photo exactly as it was."""
    height, width = display.shape[:2]
    level = levels(raw_map, width, height, scale)
    level[level < empty_below / scale] = 0.0
    row = np.rint(level * 255.0).astype(np.intp) * 256  # (h, w): where this pixel's level starts in the table
    blended = np.empty_like(display, dtype=np.uint8)
    for channel in range(3):
        blended[..., channel] = _BLEND_TABLE[channel][row + display[..., channel]]
    return blended


def encode(rgb: np.ndarray, image_format: OverlayFormat) -> bytes:
    image, buffer = Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8)), io.BytesIO()
    if image_format is OverlayFormat.JPEG:
        image.save(buffer, format="JPEG", quality=JPEG_QUALITY, subsampling=0)  # 0: 4:4:4
    else:
        # Huffman coding alone, no LZ77 string matching: on a photo overlay the matching costs more time than
        # it saves bytes (after PNG's row filters, Huffman-only came out both faster and smaller than level 1)
        image.save(buffer, format="PNG", compress_level=1, compress_type=zlib.Z_HUFFMAN_ONLY)
    return buffer.getvalue()


def draw_overlay(display: np.ndarray, raw_map: np.ndarray, spec: ExplanationSpec,
                 image_format: OverlayFormat) -> bytes:
    """The map over the display copy, on the bundle's scale, encoded as `image_format`."""
    return encode(overlay(display, raw_map, spec.display_scale, spec.empty_below), image_format)

"""The one image preprocessing function shared by training and serving.

bytes -> decoded, EXIF-oriented RGB -> squashed to (size, size) with antialiased bilinear
resampling -> uint8 array in 0-255. A JPEG at least twice the model's size in both sides is decoded
at 1/2, 1/4 or 1/8 scale by libjpeg itself (never below the model's size), which makes a large phone
photo cheap to decode; the HAM10000 training copies (200x150) are too small for it to apply. The model
itself owns any further normalisation, so a training batch and a served request go through exactly
these steps.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

from contract.errors import ImageTooLarge, InvalidImage, UnsupportedImageFormat

ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF", "MPO"})
DEFAULT_MAX_PIXELS = 40_000_000  # ~ a 7300 x 5500 photo; far above any dermatoscope
MIN_SIDE = 8
RESAMPLING = Image.Resampling.BILINEAR  # PIL's bilinear filter antialiases when downscaling
_ALPHA_BACKGROUND = (255, 255, 255)
# max_pixels is sized for 8-bit images. Decoding costs more per pixel when to_rgb composites alpha over a full-size
# background (about 4x) or rescales 16/32-bit data through float64 arrays (about 6x): such images get fewer pixels.
_DECODE_COST = {mode: 4 for mode in ("RGBA", "LA", "PA", "RGBa", "La")} | {
    mode: 6 for mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")}
# A display copy that decodes at most this much larger than asked for is kept as it is: resampling it would
# cost more than drawing and encoding its extra pixels (a 600x450 JPEG decodes at 300x225 for a 192 px model).
DISPLAY_SLACK = 1.25
# A progressive JPEG is decoded in one full pass over the coefficients per scan (SOS marker), and a scan can cost as
# little as a dozen bytes: a 1 MB file of repeated scans takes minutes. Real encoders write about 10 per image.
MAX_JPEG_SCANS = 256

# Our own limit (max_pixels) is what refuses bombs, with a message naming it; Pillow's warning for images
# between its two limits is noise. Pillow's globals are never changed: decoding runs in several threads.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


def decode_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS, min_size: int | None = None) -> Image.Image:
    """Decode bytes into an upright PIL image, refusing bombs, odd formats and broken files.

    With `min_size`, a JPEG may be decoded at a reduced scale that keeps both sides >= min_size.
    """
    return _decode(data, max_pixels, min_size)[0]


def _decode(data: bytes, max_pixels: int, min_size: int | None) -> tuple[Image.Image, tuple[int, int]]:
    """The upright image, and the (width, height) it was sent at, upright (a JPEG may decode smaller)."""
    if not data:
        raise InvalidImage("the image is empty (0 bytes)")
    image, declared = _open_checked(data, max_pixels, min_size)
    try:
        upright = ImageOps.exif_transpose(image)
    except Exception as error:  # hostile EXIF blocks raise struct/KeyError/TypeError variants, not OSError
        raise InvalidImage("the image's EXIF metadata is corrupt") from error
    if upright.size != image.size:  # the orientation turned it a quarter: so does the declared size
        declared = (declared[1], declared[0])
    return upright, declared


def _open_checked(data: bytes, max_pixels: int,
                  min_size: int | None) -> tuple[Image.Image, tuple[int, int]]:
    try:
        image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as error:  # Pillow's own hard limit (2x Image.MAX_IMAGE_PIXELS)
        raise ImageTooLarge(f"the image is too large to decode ({error})") from error
    except (OSError, SyntaxError, ValueError) as error:
        raise InvalidImage("the data is not a recognisable image") from error
    if image.format not in ACCEPTED_FORMATS:
        raise UnsupportedImageFormat(
            f"image format {image.format!r} is not accepted; send one of {sorted(ACCEPTED_FORMATS)}"
        )
    width, height = image.size
    cost = 4 if image.mode == "P" and "transparency" in image.info else _DECODE_COST.get(image.mode, 1)
    if width * height * cost > max_pixels:
        scaled = f" for a {image.mode} image (1/{cost} of the limit for 8-bit images)" if cost > 1 else ""
        raise ImageTooLarge(f"image is {width}x{height} = {width * height} pixels; the limit is "
                            f"{max_pixels // cost}{scaled}")
    if min(width, height) < MIN_SIDE:
        raise InvalidImage(f"image is {width}x{height}; each side must be at least {MIN_SIDE} pixels")
    if min_size is not None and image.format in ("JPEG", "MPO"):  # phones often save MPO (JPEG + depth)
        image.draft(image.mode, (min_size, min_size))  # the bomb check above saw the full size
    if image.format in ("JPEG", "MPO") and (scans := data.count(b"\xff\xda")) > MAX_JPEG_SCANS:
        raise InvalidImage(f"the JPEG has {scans} scans; at most {MAX_JPEG_SCANS} are decoded")
    try:
        image.load()  # decode now, so truncation surfaces here and not mid-inference
    except Image.DecompressionBombError as error:
        raise ImageTooLarge(f"the image is too large to decode ({error})") from error
    except (OSError, SyntaxError, ValueError) as error:
        raise InvalidImage(f"the {image.format} data is truncated or corrupt") from error
    return image, (width, height)


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB without clipping high-bit-depth data."""
    if image.mode == "RGB":
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        return Image.fromarray(_rescale_to_uint8(np.asarray(image))).convert("RGB")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*_ALPHA_BACKGROUND, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def _rescale_to_uint8(pixels: np.ndarray) -> np.ndarray:
    # 16-bit PNG/TIFF data arrive as I;16 or I; a plain convert("L") would clip them to 255.
    is_float = pixels.dtype.kind == "f"
    pixels = pixels.astype(np.float64)
    if is_float and pixels.max(initial=0.0) <= 1.0 and pixels.min(initial=0.0) >= 0.0:
        full_scale = 1.0
    elif pixels.max(initial=0.0) > 255:
        full_scale = 65535.0
    else:
        full_scale = 255.0
    return np.clip(np.rint(pixels * (255.0 / full_scale)), 0, 255).astype(np.uint8)


def resize_for_model(image: Image.Image, image_size: int) -> np.ndarray:
    """Squash the whole field of view to (image_size, image_size, 3) uint8."""
    resized = to_rgb(image).resize((image_size, image_size), RESAMPLING)
    return np.asarray(resized, dtype=np.uint8)


def preprocess_image(data: bytes, image_size: int, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """bytes -> (image_size, image_size, 3) uint8 RGB, the model's input before batching."""
    return resize_for_model(decode_image(data, max_pixels, min_size=image_size), image_size)


@dataclass(frozen=True)
class PreparedImage:
    pixels: np.ndarray  # (S, S, 3) uint8: the model input, exactly as preprocess_image makes it
    original_size: tuple[int, int]  # (width, height) as sent, after EXIF orientation
    display: np.ndarray | None  # (h, w, 3) uint8 in the original aspect ratio, for drawing on; None unless asked


def prepare_image(data: bytes, image_size: int, max_pixels: int = DEFAULT_MAX_PIXELS,
                  display_side: int | None = None) -> PreparedImage:
    """preprocess_image, plus the size the image was sent at and, with display_side, an upright copy whose
    longer side is at most display_side pixels, or up to DISPLAY_SLACK times that when it decoded so (the
    explanation overlay is drawn on it)."""
    # decoded exactly as preprocess_image decodes, so /gradcam's model input equals /predict's; the display
    # copy comes from the same decode, which a JPEG draft never shrinks below the model's size (a smaller image
    # stays as sent, so the copy can be small: it is drawn at the image's own resolution)
    image, original_size = _decode(data, max_pixels, min_size=image_size)
    rgb = to_rgb(image)
    pixels = resize_for_model(rgb, image_size)
    display = None
    if display_side is not None:
        if max(rgb.size) > display_side * DISPLAY_SLACK:
            # thumbnail() shrinks rgb in place (no second full-size copy of a large upload), so it must come
            # after the model input above is made from it: /gradcam's model input is /predict's
            rgb.thumbnail((display_side, display_side), RESAMPLING)
        display = np.asarray(rgb, dtype=np.uint8)
    return PreparedImage(pixels, original_size, display)


def prepare_pixels(pixels: np.ndarray, image_size: int) -> PreparedImage:
    """An already decoded (H, W, 3) uint8 RGB array through the same resize (for tensor inputs)."""
    array = np.ascontiguousarray(pixels, dtype=np.uint8)
    if array.ndim != 3 or array.shape[2] != 3 or min(array.shape[:2]) < MIN_SIDE:
        raise InvalidImage(f"an image tensor must be (H, W, 3) with sides of at least {MIN_SIDE}; got {array.shape}")
    height, width = array.shape[:2]
    return PreparedImage(resize_for_model(Image.fromarray(array), image_size), (width, height), None)

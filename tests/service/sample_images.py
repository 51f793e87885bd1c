"""Image bytes for tests: good ones in every accepted mode, and each kind of bad one."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image, PngImagePlugin


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def gradient(width: int = 96, height: int = 80, mode: str = "RGB") -> Image.Image:
    """A smooth colour ramp: decodes identically everywhere, different from a flat image."""
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :].repeat(height, 0)
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None].repeat(width, 1)
    rgb = np.stack([x, y, 255 - x], axis=-1).astype(np.uint8)
    return Image.fromarray(rgb).convert(mode)


def jpeg(width: int = 96, height: int = 80) -> bytes:
    return encode(gradient(width, height), "JPEG", quality=90)


def png(width: int = 96, height: int = 80, mode: str = "RGB", **options) -> bytes:
    return encode(gradient(width, height, mode), "PNG", **options)


def png_with_text(marker: str) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", marker)
    return png(pnginfo=info)


def png_16bit() -> bytes:
    ramp = np.linspace(0, 65535, 64 * 64, dtype=np.uint16).reshape(64, 64)
    return encode(Image.fromarray(ramp), "PNG")  # mode I;16


def cmyk_jpeg() -> bytes:
    return encode(gradient().convert("CMYK"), "JPEG")


def palette_png_with_transparency() -> bytes:
    image = gradient().convert("P")
    return encode(image, "PNG", transparency=0)


def half_black_half_white_jpeg(orientation: int | None) -> bytes:
    """Left half black, right half white (as stored); an EXIF orientation may rotate it."""
    pixels = np.zeros((64, 64, 3), dtype=np.uint8)
    pixels[:, 32:] = 255
    image = Image.fromarray(pixels)
    if orientation is None:
        return encode(image, "JPEG", quality=95)
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(image, "JPEG", quality=95, exif=exif.tobytes())


def truncated_jpeg() -> bytes:
    data = jpeg(256, 256)
    return data[: len(data) // 2]


def ico() -> bytes:
    return encode(gradient(48, 48), "ICO")


def pcx() -> bytes:
    return encode(gradient(), "PCX")


def declared_bomb_png(width: int = 100_000, height: int = 100_000, bit_depth: int = 8, colour_type: int = 2) -> bytes:
    """A tiny PNG whose header declares width x height pixels (a decompression bomb's calling card); colour type
    2 is RGB, 0 greyscale (with bit depth 16: a 16-bit image)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


def repeated_scans_jpeg(repeats: int = 300) -> bytes:
    """A progressive JPEG whose last scan is repeated: every scan is another full decoding pass."""
    data = encode(gradient(256, 256), "JPEG", progressive=True)
    last_scan = data.rindex(b"\xff\xda")
    return data[:-2] + data[last_scan:-2] * repeats + data[-2:]  # the repeats go before the end-of-image marker


def sliver_png() -> bytes:
    """Absurd aspect: 4000 x 2 pixels, thinner than any model could use."""
    return encode(gradient(4000, 2), "PNG")

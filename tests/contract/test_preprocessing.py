import io

import numpy as np
import pytest
from PIL import Image

from contract.errors import ImageTooLarge, InvalidImage, UnsupportedImageFormat
from contract.preprocessing import decode_image, prepare_image, preprocess_image, to_rgb


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def test_output_is_square_uint8_rgb_in_0_255():
    pixels = preprocess_image(encode(Image.new("RGB", (200, 150), (250, 10, 128)), "PNG"), 64)
    assert pixels.shape == (64, 64, 3)
    assert pixels.dtype == np.uint8
    assert tuple(pixels[32, 32]) == (250, 10, 128)


def test_exif_orientation_is_applied():
    image = Image.new("RGB", (40, 20), (0, 0, 0))
    image.paste((255, 0, 0), (0, 0, 20, 20))  # red on the left half
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display": left half ends up on top
    upright = decode_image(encode(image, "JPEG", exif=exif, quality=95))
    assert upright.size == (20, 40)
    top, bottom = np.asarray(upright)[5, 10], np.asarray(upright)[35, 10]
    assert top[0] > 200 > bottom[0]


def test_sixteen_bit_grey_is_rescaled_not_clipped():
    grey = Image.fromarray(np.full((16, 16), 32768, dtype=np.uint16))
    pixels = preprocess_image(encode(grey, "PNG"), 16)
    assert pixels[0, 0].tolist() == [128, 128, 128]


def test_transparent_pixels_become_white_background():
    rgba = Image.new("RGBA", (16, 16), (255, 0, 0, 0))
    assert preprocess_image(encode(rgba, "PNG"), 16)[0, 0].tolist() == [255, 255, 255]
    assert to_rgb(Image.new("LA", (4, 4), (0, 255))).getpixel((0, 0)) == (0, 0, 0)


@pytest.mark.parametrize("mode", ["L", "P", "CMYK", "1", "I"])
def test_every_common_mode_becomes_rgb(mode):
    fmt = "JPEG" if mode == "CMYK" else "TIFF"
    pixels = preprocess_image(encode(Image.new(mode, (30, 20)), fmt), 24)
    assert pixels.shape == (24, 24, 3)


def test_empty_and_garbage_bytes_are_invalid():
    with pytest.raises(InvalidImage, match="empty"):
        preprocess_image(b"", 32)
    with pytest.raises(InvalidImage, match="not a recognisable image"):
        preprocess_image(b"hello, this is text", 32)


def test_truncated_jpeg_is_invalid():
    data = encode(Image.effect_noise((300, 300), 50).convert("RGB"), "JPEG")
    with pytest.raises(InvalidImage, match="truncated or corrupt"):
        preprocess_image(data[: len(data) // 2], 32)


def test_a_jpeg_of_repeated_scans_is_refused_before_decoding():
    """Each progressive scan is a full pass over the coefficients: 20 000 repeats of a 14-byte scan took 8 s."""
    data = encode(Image.new("RGB", (512, 512), (180, 120, 100)), "JPEG", progressive=True)
    start = data.rindex(b"\xff\xda")  # the last scan, repeated before EOI
    bomb = data[:-2] + data[start:-2] * 300 + data[-2:]
    with pytest.raises(InvalidImage, match="scans"):
        preprocess_image(bomb, 32)
    preprocess_image(data, 32)  # an ordinary progressive JPEG (about 10 scans) still decodes


def test_unsupported_format_is_named():
    with pytest.raises(UnsupportedImageFormat, match="'ICO'"):
        preprocess_image(encode(Image.new("RGB", (32, 32)), "ICO"), 32)


def test_decompression_bomb_is_refused_before_decoding():
    data = encode(Image.new("1", (10_000, 10_000)), "PNG")  # tiny file, 1e8 pixels
    with pytest.raises(ImageTooLarge, match="100000000 pixels"):
        preprocess_image(data, 32, max_pixels=40_000_000)


def test_pillows_own_hard_limit_is_a_too_large_image_and_its_globals_are_left_alone(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000)  # Pillow refuses above 2x this, inside open()
    data = encode(Image.new("RGB", (100, 100)), "PNG")
    with pytest.raises(ImageTooLarge, match="too large to decode"):
        preprocess_image(data, 32, max_pixels=40_000_000)
    assert Image.MAX_IMAGE_PIXELS == 1_000  # decoding runs in threads: no process-wide state is touched


def test_tiny_images_are_refused():
    with pytest.raises(InvalidImage, match="at least 8 pixels"):
        preprocess_image(encode(Image.new("RGB", (4, 100)), "PNG"), 32)


def photo_like(width: int, height: int) -> Image.Image:
    """Smooth gradients with a dark blob: JPEG-friendly, like a dermoscopy photo, unlike noise."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    blob = np.exp(-(((x - width / 2) / (width / 5)) ** 2 + ((y - height / 2) / (height / 5)) ** 2))
    red = 200 - 120 * blob + 30 * x / width
    green = 150 - 100 * blob + 20 * y / height
    blue = 120 - 60 * blob
    return Image.fromarray(np.stack([red, green, blue], axis=-1).clip(0, 255).astype(np.uint8))


def full_decode_then_resize(data: bytes, size: int) -> np.ndarray:
    return np.asarray(to_rgb(decode_image(data)).resize((size, size), Image.Resampling.BILINEAR))


@pytest.mark.parametrize("fmt", ["JPEG", "MPO"])  # MPO: what many phones save (JPEG + a second frame)
def test_a_large_jpeg_is_decoded_at_a_reduced_scale_never_below_the_model_size(fmt):
    photo = photo_like(1600, 1200)
    options = {"save_all": True, "append_images": [photo]} if fmt == "MPO" else {}
    data = encode(photo, fmt, quality=92, **options)
    assert Image.open(io.BytesIO(data)).format == fmt
    assert decode_image(data).size == (1600, 1200)
    assert decode_image(data, min_size=192).size == (400, 300)  # 1/4: 1/8 would leave 150 < 192 rows
    assert decode_image(data, min_size=700).size == (1600, 1200)  # 1/2 would leave 600 < 700 rows


def test_reduced_scale_decoding_matches_a_full_decode_to_within_jpeg_noise():
    data = encode(photo_like(1600, 1200), "JPEG", quality=92)
    fast = preprocess_image(data, 192).astype(int)
    full = full_decode_then_resize(data, 192).astype(int)
    assert np.abs(fast - full).mean() < 1.0
    assert np.abs(fast - full).max() <= 8


def test_training_sized_images_and_other_formats_are_decoded_in_full():
    assert decode_image(encode(photo_like(200, 150), "JPEG"), min_size=192).size == (200, 150)
    assert decode_image(encode(photo_like(1600, 1200), "PNG"), min_size=192).size == (1600, 1200)
    data = encode(photo_like(200, 150), "JPEG")
    np.testing.assert_array_equal(preprocess_image(data, 192), full_decode_then_resize(data, 192))


@pytest.mark.parametrize(("orientation", "expected"), [(None, (900, 600)), (1, (900, 600)), (6, (600, 900)),
                                                        (8, (600, 900)), (3, (900, 600))])
def test_prepared_image_reports_the_sent_size_upright_even_when_decoded_smaller(orientation, expected):
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    buffer = io.BytesIO()
    Image.new("RGB", (900, 600), (120, 80, 60)).save(buffer, format="JPEG", exif=exif.tobytes())
    prepared = prepare_image(buffer.getvalue(), 64, display_side=256)  # 900x600 decodes at 1/8 scale here
    assert prepared.original_size == expected
    assert max(prepared.display.shape[:2]) <= 256 and prepared.pixels.shape == (64, 64, 3)


@pytest.mark.parametrize(("size", "image_format"), [((900, 600), "JPEG"), ((400, 300), "PNG"), ((300, 400), "PNG")])
def test_the_display_copy_never_changes_the_model_input(size, image_format):
    # /gradcam's model input must be /predict's: shrinking the display copy must not touch the decoded image
    pixels = np.random.default_rng(3).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    data = encode(Image.fromarray(pixels), image_format)
    prepared = prepare_image(data, 192, display_side=256)
    assert max(prepared.display.shape[:2]) == 256, "the display copy was shrunk"
    np.testing.assert_array_equal(prepared.pixels, preprocess_image(data, 192))


@pytest.mark.parametrize(("size", "expected"), [((320, 240), (240, 320, 3)), ((321, 240), (191, 256, 3)),
                                                ((200, 150), (150, 200, 3))])
def test_a_display_copy_close_to_the_asked_size_is_kept_as_decoded(size, expected):
    # within DISPLAY_SLACK (1.25 x 256 = 320) of the asked side, no resampling: beyond it, shrunk to the side
    pixels = np.random.default_rng(4).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    prepared = prepare_image(encode(Image.fromarray(pixels), "PNG"), 192, display_side=256)
    assert prepared.display.shape == expected
    if prepared.display.shape[:2] == pixels.shape[:2]:
        np.testing.assert_array_equal(prepared.display, pixels)


def test_a_jpeg_that_decodes_within_the_slack_is_drawn_on_as_decoded():
    # a 640x480 JPEG decodes at 1/2 scale for a 192 px model: 320x240 is within 1.25 x 256, so it is kept so
    data = encode(Image.new("RGB", (640, 480), (120, 80, 60)), "JPEG")
    assert prepare_image(data, 192, display_side=256).display.shape == (240, 320, 3)
    assert prepare_image(data, 192, display_side=200).display.shape == (150, 200, 3), "beyond the slack: shrunk"


@pytest.mark.parametrize("image", [Image.new("I;16", (3000, 3000), 40000), Image.new("RGBA", (4000, 4000))])
def test_costlier_modes_get_fewer_pixels(image):
    """A 90 KB 16-bit PNG of 6300x6300 took ~830 MiB to decode (float64 rescale); RGBA ~600 MiB (compositing)."""
    with pytest.raises(ImageTooLarge, match=f"for a {image.mode} image"):
        preprocess_image(encode(image, "PNG"), 32, max_pixels=40_000_000)

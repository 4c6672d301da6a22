"""process_image on real images made here with Pillow."""

from __future__ import annotations

import hashlib
import io
import random
import struct
import warnings
import zlib

import pytest
from PIL import Image, ImageFile

from scrapers.images import IMAGE_REASONS, ImageConfig, process_image

CFG = ImageConfig()


def gradient(w: int, h: int, mode: str = "RGB") -> Image.Image:
    im = Image.linear_gradient("L").resize((w, h))
    if mode == "L":
        return im
    rgb = Image.merge("RGB", (im, im.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
                              Image.new("L", (w, h), 90)))
    return rgb if mode == "RGB" else rgb.convert(mode)


def encode(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def decoded(res) -> Image.Image:
    assert res.ok, (res.reason, res.detail)
    im = Image.open(io.BytesIO(res.jpeg))
    assert im.format == "JPEG" and im.mode == "RGB"
    assert im.size == (res.width, res.height)
    return im


def png_declaring(side: int) -> bytes:
    """A PNG of a few hundred bytes whose header claims side x side pixels."""
    def chunk(tag: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(tag + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * (side + 1) * 4, 9)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat)
            + chunk(b"IEND", b""))


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF"])
def test_formats_ok_and_downscaled(fmt: str) -> None:
    data = encode(gradient(1200, 800), fmt)
    res = process_image(data, CFG)
    im = decoded(res)
    assert res.reason is None and res.format == fmt
    assert (res.orig_width, res.orig_height) == (1200, 800)
    assert max(im.size) <= CFG.max_side and im.size == (512, 341)
    assert res.sha256 == hashlib.sha256(data).hexdigest()


def test_small_enough_image_keeps_its_size() -> None:
    res = process_image(encode(gradient(300, 200), "PNG"), CFG)
    assert decoded(res).size == (300, 200)


def test_empty_and_too_many_bytes() -> None:
    assert process_image(b"", CFG).reason == "empty"
    data = encode(gradient(300, 200), "PNG")
    res = process_image(data, ImageConfig(max_bytes=len(data) - 1))
    assert res.reason == "too_large_bytes" and res.value == len(data)


def test_too_small_reports_short_side() -> None:
    res = process_image(encode(gradient(200, 40), "PNG"), CFG)
    assert not res.ok and res.reason == "too_small" and res.value == 40


def test_extreme_aspect_ratio() -> None:
    res = process_image(encode(gradient(1000, 100), "JPEG"), CFG)
    assert res.reason == "aspect_ratio" and res.value == pytest.approx(10.0)
    assert process_image(encode(gradient(100, 310), "PNG"), CFG).reason == "aspect_ratio"
    assert process_image(encode(gradient(300, 100), "PNG"), CFG).ok  # exactly 3 passes


def test_truncated_jpeg_is_undecodable() -> None:
    data = encode(gradient(400, 300), "JPEG")
    res = process_image(data[: len(data) // 2], CFG)
    assert res.reason == "undecodable" and res.format == "JPEG"


def test_random_bytes_are_undecodable() -> None:
    data = b"\x13\x37" + random.Random(7).randbytes(5000)
    res = process_image(data, CFG)
    assert res.reason == "undecodable" and res.jpeg is None


def test_corrupt_png_crc_is_undecodable() -> None:
    data = bytearray(encode(gradient(200, 200), "PNG"))
    data[len(data) // 2] ^= 0xFF
    assert process_image(bytes(data), CFG).reason == "undecodable"


def test_decompression_bomb_over_pillow_limit() -> None:
    data = png_declaring(30000)
    assert len(data) < 2000
    res = process_image(data, CFG)
    assert res.reason == "decompression_bomb" and res.value == 30000 * 30000


def test_decompression_bomb_under_our_own_limit() -> None:
    data = encode(gradient(400, 300), "PNG")
    res = process_image(data, ImageConfig(max_pixels=100_000))
    assert res.reason == "decompression_bomb" and res.value == 120_000
    assert process_image(data, ImageConfig(max_pixels=120_000)).ok


def test_bomb_between_limits_checked_before_decoding() -> None:
    # 10000^2 is over Pillow's warning limit but under its error limit: our check decides.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        res = process_image(png_declaring(10000), CFG)
    assert res.reason == "decompression_bomb" and res.value == 10000 * 10000


def test_pillow_global_limits_untouched() -> None:
    before = (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES)
    process_image(png_declaring(30000), ImageConfig(max_pixels=10))
    after = (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES)
    assert before == after


@pytest.mark.parametrize("data", [
    b'<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100"></svg>',
    b'\xef\xbb\xbf<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>',
])
def test_svg_is_unsupported(data: bytes) -> None:
    assert process_image(data, CFG).reason == "unsupported_format"


def test_formats_outside_allowed_set() -> None:
    tga = encode(gradient(200, 200), "TGA")
    assert process_image(tga, CFG).reason == "unsupported_format"
    png = encode(gradient(200, 200), "PNG")
    res = process_image(png, ImageConfig(formats=("JPEG",)))
    assert res.reason == "unsupported_format"


def test_rgba_composited_over_white() -> None:
    im = Image.new("RGBA", (200, 100), (255, 0, 0, 255))
    im.paste((0, 0, 255, 0), (100, 0, 200, 100))  # right half fully transparent
    out = decoded(process_image(encode(im, "PNG"), CFG)).convert("RGB")
    r, g, b = out.getpixel((40, 50))
    assert r > 230 and g < 30 and b < 30
    assert min(out.getpixel((160, 50))) > 240  # transparent -> white, not blue or black


def test_palette_with_transparency() -> None:
    im = Image.new("P", (120, 120), 0)
    im.putpalette([0, 0, 0, 0, 255, 0] + [0] * 762)
    im.paste(1, (0, 0, 60, 120))
    out = decoded(process_image(encode(im, "GIF", transparency=0), CFG))
    assert min(out.getpixel((100, 60))) > 240
    assert out.getpixel((20, 60))[1] > 200


def test_exif_rotation_applied() -> None:
    im = gradient(400, 200)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    res = process_image(encode(im, "JPEG", exif=exif.tobytes()), CFG)
    out = decoded(res)
    assert out.size == (200, 400)
    assert (res.orig_width, res.orig_height) == (200, 400)


def test_exif_rotation_counts_for_size_checks() -> None:
    exif = Image.Exif()
    exif[0x0112] = 8
    res = process_image(encode(gradient(300, 50), "JPEG", exif=exif.tobytes()), CFG)
    assert res.reason == "too_small" and res.value == 50


def test_animated_gif_first_frame() -> None:
    frames = [Image.new("RGB", (100, 100), c) for c in ((255, 0, 0), (0, 0, 255))]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    out = decoded(process_image(data, CFG))
    r, g, b = out.getpixel((50, 50))
    assert r > 200 and b < 60


def test_large_jpeg_uses_draft_and_grey_and_cmyk() -> None:
    res = process_image(encode(gradient(3000, 2000), "JPEG"), CFG)
    assert decoded(res).size == (512, 341)
    assert decoded(process_image(encode(gradient(300, 300, "L"), "JPEG"), CFG)).size == (300, 300)
    cmyk = encode(gradient(300, 200, "CMYK"), "JPEG")
    assert decoded(process_image(cmyk, CFG)).size == (300, 200)


def test_never_raises_on_mangled_inputs() -> None:
    good = encode(gradient(300, 200), "PNG")
    rng = random.Random(3)
    for _ in range(60):
        data = bytearray(good)
        for _ in range(rng.randint(1, 20)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        res = process_image(bytes(data[: rng.randint(1, len(data))]), CFG)
        assert res.ok or res.reason in IMAGE_REASONS

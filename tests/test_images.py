"""process_image on real images made here with Pillow."""

from __future__ import annotations

import hashlib
import io
import random
import struct
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image, ImageFile, ImageOps

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


# --- one decode, one resize, one encode ------------------------------------------------------

def quadrants(w: int = 400, h: int = 300) -> Image.Image:
    """Red, green, blue and yellow quarters: any flip, turn or channel swap shows."""
    im = Image.new("RGB", (w, h), (255, 255, 0))
    im.paste((255, 0, 0), (0, 0, w // 2, h // 2))
    im.paste((0, 255, 0), (w // 2, 0, w, h // 2))
    im.paste((0, 0, 255), (0, h // 2, w // 2, h))
    return im


def pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.float64)


def mean_abs(a: np.ndarray, b: np.ndarray) -> float:
    assert a.shape == b.shape
    return float(np.mean(np.abs(a - b)))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_matches_pillow(orientation: int) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(quadrants(), "JPEG", quality=95, exif=exif.tobytes())
    res = process_image(data, CFG)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))), np.float64)
    decoded(res)
    assert mean_abs(pixels(res.jpeg), expected) < 2
    turned = orientation >= 5
    assert (res.orig_width, res.orig_height) == ((300, 400) if turned else (400, 300))


def test_png_exif_orientation_read_once_decoded() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    res = process_image(encode(quadrants(), "PNG", exif=exif.tobytes()), CFG)
    assert (res.width, res.height) == (300, 400) == (res.orig_width, res.orig_height)
    out = pixels(res.jpeg)
    assert out[20, 280, 0] > 230 and out[20, 280, 1] < 30  # red now top right


def test_reduced_decode_keeps_verdicts_on_edges() -> None:
    # The output side 64 lets a 640-wide JPEG decode at 1/4 scale (160 x 16): the size
    # checks still see the header's 640 x 64.
    cfg = ImageConfig(max_side=64, max_aspect=10.0)
    res = process_image(encode(gradient(640, 64), "JPEG"), cfg)
    assert res.ok and (res.orig_width, res.orig_height) == (640, 64)
    assert (res.width, res.height) == (64, 6)
    res = process_image(encode(gradient(640, 63), "JPEG"), cfg)
    assert res.reason == "too_small" and res.value == 63
    res = process_image(encode(gradient(641, 64), "JPEG"), cfg)
    assert res.reason == "aspect_ratio" and res.value == pytest.approx(641 / 64, abs=1e-3)
    res = process_image(encode(gradient(3072, 1024), "JPEG"), CFG)  # aspect exactly 3, 1/4
    assert res.ok and (res.width, res.height) == (512, 171)
    assert process_image(encode(gradient(3075, 1024), "JPEG"), CFG).reason == "aspect_ratio"
    exif = Image.Exif()
    exif[0x0112] = 6
    res = process_image(encode(gradient(2048, 64), "JPEG", exif=exif.tobytes()),
                        ImageConfig(max_side=64, max_aspect=40.0))
    assert res.ok and (res.width, res.height) == (2, 64) and res.orig_height == 2048


def test_reduced_decode_close_to_a_full_decode() -> None:
    rng = np.random.default_rng(5)
    field = Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)).resize(
        (2400, 1800), Image.Resampling.BICUBIC)
    data = encode(field, "JPEG", quality=95)
    res = process_image(data, CFG)
    assert (res.width, res.height) == (512, 384)
    full = Image.open(io.BytesIO(data)).convert("RGB")
    reference = np.asarray(full.resize((512, 384), Image.Resampling.LANCZOS), np.float64)
    assert mean_abs(pixels(res.jpeg), reference) < 2.5


def test_truncated_and_corrupt_png_jpeg() -> None:
    png = encode(gradient(300, 200), "PNG")
    res = process_image(png[: len(png) * 2 // 3], CFG)
    assert res.reason == "undecodable" and res.format == "PNG"
    jpeg = encode(gradient(900, 700), "JPEG")
    assert process_image(jpeg[: len(jpeg) - 400], CFG).reason == "undecodable"
    sof = jpeg.index(b"\xff\xc0")
    broken = jpeg[: sof + 20] + random.Random(1).randbytes(3000)
    assert process_image(broken, CFG).reason == "undecodable"
    rng = random.Random(4)
    for _ in range(40):  # flipped bytes in the scan: kept or rejected, never raised
        data = bytearray(jpeg)
        for _ in range(rng.randint(1, 10)):
            data[rng.randrange(sof, len(data))] = rng.randrange(256)
        res = process_image(bytes(data), CFG)
        assert res.ok or res.reason in IMAGE_REASONS


def jpeg_declaring(w: int, h: int) -> bytes:
    """A small real JPEG whose frame header is rewritten to claim w x h pixels."""
    data = bytearray(encode(gradient(64, 64), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5: sof + 9] = struct.pack(">HH", h, w)
    return bytes(data)


def test_jpeg_header_bomb_rejected_before_decoding() -> None:
    res = process_image(jpeg_declaring(60000, 60000), CFG)
    assert res.reason == "decompression_bomb" and res.value == 60000 * 60000
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        res = process_image(jpeg_declaring(10000, 9000), CFG)
    assert res.reason == "decompression_bomb" and res.value == 90_000_000


def test_cmyk_jpeg_colours() -> None:
    data = encode(quadrants().convert("CMYK"), "JPEG", quality=95)
    res = process_image(data, CFG)
    expected = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), np.float64)
    assert mean_abs(pixels(res.jpeg), expected) < 3


def test_sixteen_bit_and_grey_png() -> None:
    grey8 = np.asarray(gradient(300, 200, "L"), dtype=np.uint16)
    data = encode(Image.fromarray(grey8 * 257), "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I;16")
    res = process_image(data, CFG)
    assert mean_abs(pixels(res.jpeg)[..., 0], grey8.astype(np.float64)) < 2
    res = process_image(encode(gradient(300, 200, "L"), "PNG"), CFG)
    assert mean_abs(pixels(res.jpeg)[..., 1], grey8.astype(np.float64)) < 2


def test_hash_and_statistics_describe_the_stored_image() -> None:
    from filters.image_rules import pixel_stats
    from filters.phash import hamming, phash

    rng = np.random.default_rng(2)
    field = Image.fromarray(rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)).resize(
        (1400, 1000), Image.Resampling.BICUBIC)
    res = process_image(encode(field, "JPEG", quality=95), CFG)
    stored = Image.open(io.BytesIO(res.jpeg))
    assert hamming(res.phash, phash(stored)) <= 2
    assert hamming(res.phash, phash(field)) <= 4
    std, colors = pixel_stats(stored)
    assert abs(res.gray_std - std) < 1 and abs(res.colors - colors) <= colors // 10 + 2
    blank = process_image(encode(Image.new("RGB", (300, 200), (30, 90, 200)), "PNG"), CFG)
    assert (blank.gray_std, blank.colors, blank.phash) == (0.0, 1, 0)


def test_pillow_alone_without_opencv() -> None:
    import filters.thumbnail as thumbnail_module

    saved = thumbnail_module._cv2_module
    thumbnail_module._cv2_module = False  # as on a machine without OpenCV
    try:
        res = process_image(encode(gradient(3000, 2000), "JPEG"), CFG)
        assert decoded(res).size == (512, 341) and res.phash is not None
        exif = Image.Exif()
        exif[0x0112] = 8
        res = process_image(encode(quadrants(), "JPEG", quality=95, exif=exif.tobytes()), CFG)
        assert decoded(res).size == (300, 400)
        data = encode(gradient(400, 300), "JPEG")
        assert process_image(data[: len(data) // 2], CFG).reason == "undecodable"
    finally:
        thumbnail_module._cv2_module = saved


@pytest.mark.parametrize("mode", ["fast", "area", "lanczos"])
@pytest.mark.parametrize("fmt, size", [("JPEG", (620, 480)), ("JPEG", (830, 600)),
                                       ("PNG", (1800, 1300)), ("JPEG", (2300, 1500))])
def test_resize_modes_keep_size_and_content(monkeypatch, mode: str, fmt: str,
                                            size: tuple[int, int]) -> None:
    import scrapers.images as images

    monkeypatch.setattr(images, "RESIZE", mode)
    rng = np.random.default_rng(size[0])
    field = Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)).resize(
        size, Image.Resampling.BICUBIC)
    res = process_image(encode(field, fmt), CFG)
    scale = 512 / max(size)
    expected_size = (round(size[0] * scale), round(size[1] * scale))
    assert (res.width, res.height) == expected_size
    reference = np.asarray(field.resize(expected_size, Image.Resampling.LANCZOS), np.float64)
    assert mean_abs(pixels(res.jpeg), reference) < 2.5


@pytest.mark.parametrize("mode, most", [("fast", 10.0), ("area", 10.0), ("lanczos", 10.0),
                                        ("linear", None)])
def test_finest_stripes_average_out(monkeypatch, mode: str, most: float | None) -> None:
    """One-pixel stripes are finer than the stored grid can hold: an averaging resize turns
    them grey; a bilinear one (the control) samples them into bold moire."""
    import scrapers.images as images

    monkeypatch.setattr(images, "RESIZE", mode)
    stripes = np.tile((np.arange(1000) % 2 * 255).astype(np.uint8), (750, 1))
    res = process_image(encode(Image.fromarray(stripes), "PNG"), CFG)
    spread = float(pixels(res.jpeg).std())
    assert spread < most if most is not None else spread > 50

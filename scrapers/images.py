"""Image bytes -> checked, normalised JPEG (Flamingo-style size and aspect filters).

Order of checks: cheap ones first, from the header only (byte size, format, pixel count,
sides, aspect), then a full decode. Pillow's global settings (MAX_IMAGE_PIXELS,
LOAD_TRUNCATED_IMAGES) are left alone: truncated files fail the decode, and the pixel
count is checked against our own limit before any pixel is decoded.
`process_image` never raises.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
from dataclasses import dataclass

from PIL import Image, ImageOps

IMAGE_REASONS = (
    "empty", "too_large_bytes", "undecodable", "decompression_bomb", "too_small",
    "aspect_ratio", "unsupported_format",
)

# MPO is how Pillow names multi-picture JPEGs from phone cameras; it decodes as JPEG.
DEFAULT_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "MPO")
_JPEG_LIKE = {"JPEG", "MPO"}
_ORIENTATION = 0x0112
_SWAPS_SIDES = {5, 6, 7, 8}  # EXIF orientations that rotate by 90 degrees
_BOMB_PIXELS = re.compile(r"\((\d+) pixels\)")
_SVG_MARKERS = (b"<svg", b"<!doctype svg")


@dataclass
class ImageConfig:
    min_side: int = 64  # either side below this -> too_small
    max_aspect: float = 3.0  # max(w/h, h/w) above this -> aspect_ratio
    max_side: int = 512  # longer side of the stored JPEG
    jpeg_quality: int = 90
    max_pixels: int = 89_478_485  # width x height from the header, before decoding
    max_bytes: int = 20_000_000  # encoded size; 0 = no limit
    formats: tuple[str, ...] = DEFAULT_FORMATS  # Pillow format names accepted


@dataclass
class ImageResult:
    ok: bool
    reason: str | None = None  # one of IMAGE_REASONS when not ok
    value: float | None = None  # the measured value that failed (short side, aspect, ...)
    jpeg: bytes | None = None
    width: int | None = None  # stored JPEG
    height: int | None = None
    orig_width: int | None = None  # as displayed, i.e. after EXIF orientation
    orig_height: int | None = None
    format: str | None = None  # Pillow format name of the input
    sha256: str | None = None  # of the original bytes
    phash: int | None = None  # 64-bit perceptual hash of the stored image (dedup, decontam)
    gray_std: float | None = None  # pixel statistics for the blank-image filter
    colors: int | None = None
    detail: str = ""


class _Reject(Exception):
    def __init__(self, reason: str, value: float | None = None, detail: str = "") -> None:
        super().__init__(reason)
        self.reason, self.value, self.detail = reason, value, detail


def _looks_like_svg(data: bytes) -> bool:
    head = data[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith(b"<?xml") and b"<svg" in head or head.startswith(_SVG_MARKERS)


def _open(data: bytes, formats: list[str] | None) -> Image.Image:
    try:
        return Image.open(io.BytesIO(data), formats=formats)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # The warning only arrives as an exception when warnings are set to errors.
        m = _BOMB_PIXELS.search(str(exc))
        raise _Reject("decompression_bomb", float(m.group(1)) if m else None, str(exc)) from None


def _identify(data: bytes, formats: list[str]) -> Image.Image:
    """Open with the allowed decoders only, so other plugins never parse untrusted bytes
    further than their header."""
    try:
        return _open(data, formats)
    except _Reject:
        raise
    except Exception as exc:
        allowed_error = f"{type(exc).__name__}: {exc}"
    try:
        with _open(data, None) as other:
            fmt = other.format
    except _Reject:
        raise
    except Exception:
        raise _Reject("undecodable", None, allowed_error) from None
    raise _Reject("unsupported_format", None, f"format {fmt}")


def _orientation(im: Image.Image) -> int:
    try:
        value = im.getexif().get(_ORIENTATION, 1)
        return int(value) if isinstance(value, int) else 1
    except Exception:  # broken EXIF is common; the pixels may still be fine
        return 1


def _to_rgb(im: Image.Image) -> Image.Image:
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info:
        rgba = im.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        im = im.point(lambda v: v / 256).convert("L")  # 16-bit grey -> 8-bit
    if im.mode == "RGB":
        return im
    try:
        return im.convert("RGB")
    except ValueError:  # modes without a direct RGB conversion (F, LAB, ...)
        return im.convert("L").convert("RGB")


def _decode(data: bytes, fmt: str, target: tuple[int, int]) -> Image.Image:
    """Full decode of the first frame; `target` (pre-orientation) lets JPEG decode at a
    reduced scale via draft()."""
    try:
        opener = ["JPEG"] if fmt in _JPEG_LIKE else [fmt]
        with _open(data, opener) as probe:
            probe.verify()  # structure and checksums (PNG CRCs, ...)
        im = _open(data, opener)
        if fmt in _JPEG_LIKE:
            im.draft("RGB", target)
        im.load()  # raises on truncated data: LOAD_TRUNCATED_IMAGES stays off
        return im
    except _Reject:
        raise
    except Exception as exc:
        raise _Reject("undecodable", None, f"{type(exc).__name__}: {exc}") from None


def _check(data: bytes, config: ImageConfig, res: ImageResult) -> Image.Image:
    if config.max_bytes and len(data) > config.max_bytes:
        raise _Reject("too_large_bytes", float(len(data)))
    if _looks_like_svg(data):
        raise _Reject("unsupported_format", None, "SVG")
    allowed = {f.upper() for f in config.formats}
    Image.init()
    openers = sorted(f for f in allowed | ({"JPEG"} if "MPO" in allowed else set())
                     if f in Image.OPEN)  # MPO files come out of the JPEG opener
    with _identify(data, openers) as im:
        fmt = str(im.format)
        raw_w, raw_h = im.size
        orientation = _orientation(im)
    res.format = fmt
    if fmt not in allowed:
        raise _Reject("unsupported_format", None, f"format {fmt}")
    if raw_w <= 0 or raw_h <= 0:
        raise _Reject("undecodable", None, f"size {raw_w}x{raw_h}")
    if raw_w * raw_h > config.max_pixels:
        raise _Reject("decompression_bomb", float(raw_w * raw_h), f"{raw_w}x{raw_h}")
    w, h = (raw_h, raw_w) if orientation in _SWAPS_SIDES else (raw_w, raw_h)
    res.orig_width, res.orig_height = w, h
    if min(w, h) < config.min_side:
        raise _Reject("too_small", float(min(w, h)), f"{w}x{h}")
    aspect = max(w / h, h / w)
    if aspect > config.max_aspect:
        raise _Reject("aspect_ratio", round(aspect, 4), f"{w}x{h}")
    scale = min(1.0, config.max_side / max(w, h))
    target = (max(1, math.ceil(raw_w * scale)), max(1, math.ceil(raw_h * scale)))
    return _decode(data, fmt, target)


def _normalise(im: Image.Image, config: ImageConfig) -> Image.Image:
    try:
        im = ImageOps.exif_transpose(im) or im
    except Exception:  # unreadable orientation: keep the pixels as stored
        pass
    im = _to_rgb(im)
    w, h = im.size
    if max(w, h) > config.max_side:
        s = config.max_side / max(w, h)
        size = (max(1, round(w * s)), max(1, round(h * s)))
        im = im.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    return im


def _describe(im: Image.Image, res: ImageResult) -> None:
    """Hashes and pixel statistics, taken on the normalised image so every copy of a picture
    (re-encoded, resized) is described alike."""
    from filters.image_rules import pixel_stats
    from filters.phash import phash

    res.phash = phash(im)
    res.gray_std, res.colors = pixel_stats(im)


def process_image(data: bytes, config: ImageConfig | None = None) -> ImageResult:
    """Check and re-encode one image. Never raises; failures set `reason` and `value`."""
    config = config or ImageConfig()
    if not data:
        return ImageResult(False, "empty", 0.0)
    try:
        data = bytes(data)
    except Exception as exc:
        return ImageResult(False, "undecodable", None, detail=f"not bytes: {exc}")
    res = ImageResult(False, sha256=hashlib.sha256(data).hexdigest())
    try:
        im = _check(data, config, res)
        try:
            out = _normalise(im, config)
            _describe(out, res)
            buf = io.BytesIO()
            out.save(buf, "JPEG", quality=int(config.jpeg_quality))
        finally:
            im.close()
    except _Reject as rej:
        res.reason, res.value, res.detail = rej.reason, rej.value, rej.detail
        return res
    except (Exception, MemoryError) as exc:  # any decoder failure is a bad image, not a crash
        res.reason, res.detail = "undecodable", f"{type(exc).__name__}: {exc}"
        return res
    res.ok, res.jpeg = True, buf.getvalue()
    res.width, res.height = out.size
    return res

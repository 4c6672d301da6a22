"""Image bytes -> checked, normalised JPEG (Flamingo-style size and aspect filters).

Order of checks: cheap ones first, from the header only (byte size, format, pixel count,
sides, aspect; always on the original size), then one decode. Pillow's global settings
(MAX_IMAGE_PIXELS, LOAD_TRUNCATED_IMAGES) are left alone: truncated files fail the decode,
and the pixel count is checked against our own limit before any pixel is decoded.

The pixels go through once: a JPEG is decoded by OpenCV (libjpeg-turbo) at the largest DCT
reduction (1/2, 1/4, 1/8) that still covers the stored size; other formats, and JPEGs
OpenCV refuses, by Pillow (first frame, any mode, transparency over white). Then one resize
(``RESIZE``: a Lanczos-3 low-pass and cubic sampling by default), the EXIF orientation
(only when the tag asks for one), one 64 x 64 thumbnail for the pHash and the pixel
statistics, one JPEG encode. OpenCV is optional:
without it Pillow does every step.
`process_image` never raises.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image

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


def _orientation(im: Image.Image, loaded: bool = False) -> int:
    """EXIF orientation (1-8). Reads only what the header parse already holds: JPEG and WebP
    keep their EXIF there; a PNG's eXIf chunk is known only after decoding, so a PNG is asked
    once its pixels are loaded (Pillow's getexif would otherwise decode it a second time)."""
    if im.format == "PNG" and "exif" not in im.info and not loaded:
        return 1
    try:
        value = im.getexif().get(_ORIENTATION, 1)
        return int(value) if isinstance(value, int) and 1 <= value <= 8 else 1
    except Exception:  # broken EXIF is common; the pixels may still be fine
        return 1


@lru_cache(maxsize=16)
def _openers(formats: tuple[str, ...]) -> tuple[frozenset[str], tuple[str, ...]]:
    """(allowed format names, Pillow openers to try): MPO files come out of the JPEG one."""
    allowed = frozenset(f.upper() for f in formats)
    Image.init()
    openers = sorted(f for f in allowed | ({"JPEG"} if "MPO" in allowed else set())
                     if f in Image.OPEN)
    return allowed, tuple(openers)


@dataclass
class _Header:
    fmt: str
    raw_w: int  # as stored, before EXIF orientation
    raw_h: int
    orientation: int
    out_w: int  # stored JPEG size, before EXIF orientation
    out_h: int


def _check(data: bytes, config: ImageConfig, res: ImageResult) -> _Header:
    """Every check that the header answers: bytes, format, pixel count, sides, aspect."""
    if config.max_bytes and len(data) > config.max_bytes:
        raise _Reject("too_large_bytes", float(len(data)))
    if _looks_like_svg(data):
        raise _Reject("unsupported_format", None, "SVG")
    allowed, openers = _openers(tuple(config.formats))
    with _identify(data, list(openers)) as im:
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
    # Sides and aspect do not depend on the orientation (a quarter turn swaps them).
    short, long = min(raw_w, raw_h), max(raw_w, raw_h)
    w, h = (raw_h, raw_w) if orientation in _SWAPS_SIDES else (raw_w, raw_h)
    res.orig_width, res.orig_height = w, h
    if short < config.min_side:
        raise _Reject("too_small", float(short), f"{w}x{h}")
    aspect = long / short
    if aspect > config.max_aspect:
        raise _Reject("aspect_ratio", round(aspect, 4), f"{w}x{h}")
    out_w, out_h = raw_w, raw_h
    if long > config.max_side:
        s = config.max_side / long
        out_w, out_h = max(1, round(raw_w * s)), max(1, round(raw_h * s))
    return _Header(fmt, raw_w, raw_h, orientation, out_w, out_h)


def _cv2():  # noqa: ANN202 - the cv2 module or None
    from filters.thumbnail import opencv

    return opencv()


def _reduction(hdr: _Header) -> int:
    """Largest JPEG DCT scaling (1, 2, 4, 8) whose result still covers the output size, so
    the decoder skips the detail the resize would throw away."""
    long, out_long = max(hdr.raw_w, hdr.raw_h), max(hdr.out_w, hdr.out_h)
    k = 1
    while k < 8 and long >= out_long * k * 2:
        k *= 2
    return k


_CV_REDUCED = {1: 1, 2: 17, 4: 33, 8: 65}  # IMREAD_COLOR, IMREAD_REDUCED_COLOR_2/4/8
_CV_IGNORE_ORIENTATION = 128  # we apply EXIF orientation ourselves, after resizing


def _decode_jpeg(data: bytes, hdr: _Header) -> np.ndarray | None:
    """BGR pixels at a reduced scale through OpenCV (libjpeg-turbo); None when OpenCV is
    missing or refuses the file (truncated, unusual coding), for Pillow to decide."""
    cv2 = _cv2()
    if cv2 is None:
        return None
    flags = _CV_REDUCED[_reduction(hdr)] | _CV_IGNORE_ORIENTATION
    try:
        arr = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    except Exception:
        return None
    if arr is None or arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
        return None
    return arr


def _decode_pillow(data: bytes, hdr: _Header) -> tuple[np.ndarray, int]:
    """First frame through Pillow: BGR pixels (alpha over white, any mode) and the EXIF
    orientation as known once loaded."""
    from filters.thumbnail import to_rgb

    fmt = hdr.fmt
    opener = ["JPEG"] if fmt in _JPEG_LIKE else [fmt]
    try:
        if fmt == "PNG":
            with _open(data, opener) as probe:
                probe.verify()  # chunk CRCs: the decoder alone skips some of them
        with _open(data, opener) as im:
            if fmt in _JPEG_LIKE:
                k = _reduction(hdr)
                im.draft("RGB", (-(-hdr.raw_w // k), -(-hdr.raw_h // k)))
            im.load()  # raises on truncated data: LOAD_TRUNCATED_IMAGES stays off
            orientation = _orientation(im, True) if fmt == "PNG" else hdr.orientation
            rgb = to_rgb(im)
            k = min(rgb.width // hdr.out_w, rgb.height // hdr.out_h)
            if k >= 2:  # a whole-number box reduction first: less to copy and to resize
                rgb = rgb.reduce(k)
            arr = np.frombuffer(rgb.tobytes("raw", "BGR"), np.uint8)
            return arr.reshape(rgb.height, rgb.width, 3), orientation
    except _Reject:
        raise
    except Exception as exc:
        raise _Reject("undecodable", None, f"{type(exc).__name__}: {exc}") from None


# How the decoded pixels reach the stored size (bench/image_bench.py compares them):
# - "fast": box averaging. OpenCV's exact area filter is slow for factors that are
#   not whole numbers, so a linear resample to k times the output (k = the factor rounded, a
#   change of size under 1.43x either way) comes first, then the fast whole-number area
#   reduction by k. Under a factor of LINEAR_BELOW one bilinear resample, which still reads
#   every pixel, gives photographs the same result at a third of the cost.
# - "area": OpenCV's exact area filter; the same pictures, slower.
# - "lanczos" (default): a Lanczos-3 low-pass, then cubic sampling. Box averaging lets fine
#   periodic detail (fabric, small text, halftones) through as moire (24.6 dB against 32.4 dB
#   on such pictures in the bench); a model learns from what is stored, so the default pays
#   about 20% fewer images per second than "fast" to keep Pillow-like quality.
# - "linear": bilinear at any factor under 2; aliases, for comparison only.
RESIZE = "lanczos"
LINEAR_BELOW = 1.4


def _resize(arr: np.ndarray, w: int, h: int) -> np.ndarray:
    if arr.shape[1] == w and arr.shape[0] == h:
        return arr
    cv2 = _cv2()
    if cv2 is None:
        rgb = Image.frombuffer("RGB", (arr.shape[1], arr.shape[0]), arr, "raw", "BGR", 0, 1)
        out = rgb.resize((w, h), Image.Resampling.BOX)
        return np.frombuffer(out.tobytes("raw", "BGR"), np.uint8).reshape(h, w, 3)
    factor = max(arr.shape[1] / w, arr.shape[0] / h)
    if RESIZE == "area" or factor < 1:
        return cv2.resize(arr, (w, h), interpolation=cv2.INTER_AREA)
    if RESIZE == "lanczos":
        return _lanczos(cv2, arr, w, h)
    if factor < (2 if RESIZE == "linear" else LINEAR_BELOW):
        return cv2.resize(arr, (w, h), interpolation=cv2.INTER_LINEAR)
    k = max(2, round(factor))
    if arr.shape[1] != k * w or arr.shape[0] != k * h:
        arr = cv2.resize(arr, (k * w, k * h), interpolation=cv2.INTER_LINEAR)
    return cv2.resize(arr, (w, h), interpolation=cv2.INTER_AREA)


@lru_cache(maxsize=1024)
def _lanczos_taps(factor: float) -> np.ndarray:
    """Lanczos-3 kernel stretched by ``factor``: the low-pass that leaves only what the
    output grid can hold. Kept per factor (read-only): web images come in few sizes, and
    making the kernel costs about as much as a pHash."""
    n = int(np.ceil(3 * factor))
    x = np.arange(-n, n + 1) / factor
    taps = np.sinc(x) * np.sinc(x / 3)
    taps[np.abs(x) >= 3] = 0
    out = (taps / taps.sum()).astype(np.float32)
    out.flags.writeable = False
    return out


def _lanczos(cv2, arr: np.ndarray, w: int, h: int) -> np.ndarray:  # noqa: ANN001
    m = int(min(arr.shape[1] / w, arr.shape[0] / h))
    if m >= 2:  # large factors (no reduced decode): a whole-number box reduction first, on
        # the pixels cut to a multiple of m (under m rows and columns are left out)
        arr = arr[: arr.shape[0] - arr.shape[0] % m, : arr.shape[1] - arr.shape[1] % m]
        arr = cv2.resize(arr, (arr.shape[1] // m, arr.shape[0] // m),
                         interpolation=cv2.INTER_AREA)
    fx, fy = arr.shape[1] / w, arr.shape[0] / h
    if fx > 1 or fy > 1:
        arr = cv2.sepFilter2D(arr, -1, _lanczos_taps(max(fx, 1.0)),
                              _lanczos_taps(max(fy, 1.0)), borderType=cv2.BORDER_REFLECT)
    return cv2.resize(arr, (w, h), interpolation=cv2.INTER_CUBIC)


def _orient(arr: np.ndarray, orientation: int) -> np.ndarray:
    """EXIF orientation applied to HxWxC pixels (views; copied only when one applies)."""
    if orientation <= 1:
        return arr
    t = arr.swapaxes(0, 1)
    out = {2: arr[:, ::-1], 3: arr[::-1, ::-1], 4: arr[::-1], 5: t, 6: t[:, ::-1],
           7: t[::-1, ::-1], 8: t[::-1]}.get(orientation, arr)
    return np.ascontiguousarray(out)


def _encode(arr: np.ndarray, quality: int) -> bytes:
    cv2 = _cv2()
    if cv2 is not None:
        ok, buf = cv2.imencode(".jpg", arr, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok:
            return buf.tobytes()
    rgb = Image.frombuffer("RGB", (arr.shape[1], arr.shape[0]), arr, "raw", "BGR", 0, 1)
    out = io.BytesIO()
    rgb.save(out, "JPEG", quality=quality)
    return out.getvalue()


def _describe(arr: np.ndarray, res: ImageResult) -> None:
    """Hashes and pixel statistics, from one thumbnail of the stored pixels, so every copy
    of a picture (re-encoded, resized) is described alike."""
    from filters.image_rules import thumb_stats
    from filters.phash import phash_thumb
    from filters.thumbnail import gray, shrink

    thumb = shrink(arr)  # BGR, as decoded: the grey levels are read in that order
    grey = gray(thumb, "BGR")
    res.phash = phash_thumb(thumb, grey)
    res.gray_std, res.colors = thumb_stats(thumb, grey)


def process_image(data: bytes, config: ImageConfig | None = None) -> ImageResult:
    """Check and re-encode one image. Never raises; failures set `reason` and `value`.

    Decoded once (a JPEG at the largest DCT reduction that still covers the output),
    resized once (area averaging), oriented after the resize (only when the EXIF tag asks),
    encoded once; the hash and statistics come from one 64 x 64 thumbnail."""
    config = config or ImageConfig()
    if not data:
        return ImageResult(False, "empty", 0.0)
    try:
        data = bytes(data)
    except Exception as exc:
        return ImageResult(False, "undecodable", None, detail=f"not bytes: {exc}")
    res = ImageResult(False, sha256=hashlib.sha256(data).hexdigest())
    try:
        hdr = _check(data, config, res)
        arr = _decode_jpeg(data, hdr) if hdr.fmt in _JPEG_LIKE else None
        orientation = hdr.orientation
        if arr is None:
            arr, orientation = _decode_pillow(data, hdr)
        if orientation in _SWAPS_SIDES:
            res.orig_width, res.orig_height = hdr.raw_h, hdr.raw_w
        out = _orient(_resize(arr, hdr.out_w, hdr.out_h), orientation)
        _describe(out, res)
        jpeg = _encode(out, int(config.jpeg_quality))
    except _Reject as rej:
        res.reason, res.value, res.detail = rej.reason, rej.value, rej.detail
        return res
    except (Exception, MemoryError) as exc:  # any decoder failure is a bad image, not a crash
        res.reason, res.detail = "undecodable", f"{type(exc).__name__}: {exc}"
        return res
    res.ok, res.jpeg = True, jpeg
    res.height, res.width = out.shape[:2]
    return res

"""One small thumbnail per image, shared by the perceptual hash and the pixel statistics.

``to_rgb`` reads any Pillow mode the way the build stores images: transparency composited
on white (what a page shows), 16-bit grey scaled to 8 bits, everything else through RGB.
``shrink`` box-averages pixels to ``SIDE`` x ``SIDE``, so the hash and the statistics both
come from one cheap 64 x 64 array whatever the input size. The build shrinks the pixels it
stores, and ``filters.phash.phash`` any picture, the same way, so their hashes agree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from PIL import Image

SIDE = 64
_HIGH_DEPTH = ("I", "I;16", "I;16B", "I;16L", "I;16N", "F")
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
# ITU-R 601 luma, as Pillow's convert("L") weighs the channels
_LUMA = np.array([0.299, 0.587, 0.114])


def to_rgb(img: Image.Image) -> Image.Image:
    """RGB view of any mode; the image itself when it already is RGB (no copy)."""
    from PIL import Image

    if img.mode == "RGB" and "transparency" not in img.info:
        return img
    if img.mode in _HIGH_DEPTH:
        arr = np.asarray(img, dtype=np.float64)
        top = float(arr.max()) if arr.size else 0.0
        if img.mode.startswith("I;16") or top > 255:  # 16-bit samples (or wider)
            arr = arr * (255.0 / (65535.0 if top <= 65535 else top))
        grey = Image.fromarray(np.clip(arr + 0.5, 0, 255).astype(np.uint8), "L")
        return grey.convert("RGB")
    if img.mode in _ALPHA_MODES or "transparency" in img.info:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    try:
        return img.convert("RGB")  # L, 1, P, CMYK, YCbCr, LAB, HSV
    except ValueError:  # modes without a direct RGB conversion
        return img.convert("L").convert("RGB")


_cv2_module = None


def opencv():  # noqa: ANN201 - the cv2 module, or None where OpenCV is not installed
    """OpenCV, imported on first use and single-threaded: a build already runs one image
    per worker thread, and OpenCV's own pool would only oversubscribe the cores."""
    global _cv2_module
    if _cv2_module is None:
        try:
            import cv2

            cv2.setNumThreads(1)
            _cv2_module = cv2
        except ImportError:
            _cv2_module = False
    return _cv2_module or None


def shrink(arr: np.ndarray, side: int = SIDE) -> np.ndarray:
    """``side`` x ``side`` box average of H x W x C uint8 pixels (channel order kept).

    Halving is OpenCV's fastest area case (vectorised 2 x 2 means), so the pixels are halved
    while both sides stay at least ``side`` (an odd last row or column is left out), and the
    general area filter, slow per pixel, then works on a thumbnail of under twice ``side``.
    Each step is a box average, so the result is one too, up to the few edge pixels left
    out."""
    cv2 = opencv()
    h, w = arr.shape[:2]
    if cv2 is None:
        from PIL import Image

        return np.asarray(Image.fromarray(arr).resize((side, side), Image.Resampling.BOX))
    while h >= 2 * side and w >= 2 * side:
        arr = cv2.resize(arr[: h - h % 2, : w - w % 2], (w // 2, h // 2),
                         interpolation=cv2.INTER_AREA)
        h, w = arr.shape[:2]
    if (h, w) != (side, side):
        arr = cv2.resize(arr, (side, side), interpolation=cv2.INTER_AREA)
    return arr


def thumbnail(img: Image.Image) -> np.ndarray:
    """``SIDE`` x ``SIDE`` x 3 uint8 RGB box-averaged thumbnail of ``img`` (any mode). The
    aspect ratio is not kept: hashes and statistics compare pictures, not shapes."""
    rgb = to_rgb(img)
    w, h = rgb.size
    factor = min(w, h) // (4 * SIDE)
    if factor >= 2:  # large pictures: a cheap integer box reduction before the array copy
        rgb = rgb.reduce(factor)
    return shrink(np.asarray(rgb, dtype=np.uint8))


def gray(thumb: np.ndarray, order: str = "RGB") -> np.ndarray:
    """Float grey levels (0-255) of an RGB thumbnail (``order="BGR"``: of a BGR one, as
    OpenCV keeps pixels; the same levels, bit for bit, without reordering the channels).

    Summed channel by channel rather than as a matrix product: numpy hands a contiguous
    product to BLAS, whose own threads then spin against the build's image threads."""
    r, g, b = (0, 1, 2) if order == "RGB" else (2, 1, 0)
    t = thumb.astype(np.float64)
    return t[..., r] * _LUMA[0] + t[..., g] * _LUMA[1] + t[..., b] * _LUMA[2]


def halve(arr: np.ndarray) -> np.ndarray:
    """2 x 2 block means as floats (both sides must be even)."""
    h, w = arr.shape[:2]
    a = arr.astype(np.float64)
    return (a[0:h:2, 0:w:2] + a[1:h:2, 0:w:2] + a[0:h:2, 1:w:2] + a[1:h:2, 1:w:2]) * 0.25

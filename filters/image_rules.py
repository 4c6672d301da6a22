"""Image filters on what is known of an image: its URL before fetching, then its size, format
and pixel statistics once decoded.

The pipeline fills ``ImageFacts`` (with ``pixel_stats`` on the decoded picture); the filters
here never touch pixels themselves, so they stay cheap and testable on plain values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import numpy as np

from filters.base import Drop, Filter, register, too_high, too_low

if TYPE_CHECKING:
    from PIL import Image


@dataclass(frozen=True)
class ImageFacts:
    """One image as the filters see it. 0, "" and None mean "not known yet" (before the fetch
    only ``url`` is set) and make the rules that need them pass."""

    url: str
    width: int = 0
    height: int = 0
    format: str = ""  # Pillow's format name: "JPEG", "PNG", "WEBP", "GIF", ...
    gray_std: float | None = None  # see pixel_stats
    colors: int | None = None


def pixel_stats(img: Image.Image) -> tuple[float, int]:
    """(standard deviation of the grey levels of the 64x64 thumbnail of filters.thumbnail,
    distinct colours of its 32x32 halving quantised to 16 levels per channel). Any Pillow mode.

    A single-colour image gives (0.0, 1); JPEG noise on a flat colour stays near (0-1, 1-4);
    photographs give tens of grey levels and hundreds of colours.
    """
    from filters.thumbnail import thumbnail

    return thumb_stats(thumbnail(img))


def _quads(thumb: np.ndarray) -> np.ndarray:
    """Rounded 2 x 2 means of uint8 pixels: OpenCV's halving computes exactly these, fast."""
    from filters.thumbnail import opencv

    cv2 = opencv()
    h, w = thumb.shape[:2]
    if cv2 is not None and thumb.flags.c_contiguous and h % 2 == w % 2 == 0:
        return cv2.resize(thumb, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    t = thumb.astype(np.uint16)
    return ((t[0::2, 0::2] + t[1::2, 0::2] + t[0::2, 1::2] + t[1::2, 1::2] + 2) >> 2)


def thumb_stats(thumb: np.ndarray, grey: np.ndarray | None = None) -> tuple[float, int]:
    """``pixel_stats`` of an RGB thumbnail (64 x 64 x 3 uint8) from filters.thumbnail;
    ``grey``: its ``gray`` levels when the caller has them already. With ``grey`` given,
    the channels may come in any order: a count of distinct colours does not depend on it."""
    from filters.thumbnail import gray

    grey = gray(thumb) if grey is None else grey
    std = float(np.rint(grey).std())  # of whole grey levels, as 8-bit pixels have
    q = (_quads(thumb) >> 4).astype(np.uint16)  # 16 levels per channel
    index = (q[..., 0] << 8) | (q[..., 1] << 4) | q[..., 2]
    return std, int(np.count_nonzero(np.bincount(index.ravel(), minlength=4096)))


@register
class ImageBlank(Filter):
    """Flamingo drops images that are "unambiguously low quality (e.g. a single colour)".

    - ``single_color``: at most ``max_colors`` distinct colours (default 1: one flat colour,
      spacers and placeholders);
    - ``near_blank``: grey-level standard deviation under ``min_gray_std`` (default 2.0 of 255:
      a flat colour under JPEG noise scores below 1, while even a hazy sky photograph or a
      line drawing on white scores well above 2).
    """

    key, name, level = "image_blank", "image_blank/v1", "image"
    reasons = ("single_color", "near_blank")

    def __init__(self, max_colors: int | None = 1, min_gray_std: float | None = 2.0) -> None:
        self.max_colors, self.min_gray_std = max_colors, min_gray_std

    def measure(self, item: ImageFacts) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if item.colors is not None:
            out["colors"] = float(item.colors)
        if item.gray_std is not None:
            out["gray_std"] = float(item.gray_std)
        return out

    def judge(self, measures: dict[str, Any]) -> Drop | None:
        colors = measures.get("colors")
        if self.max_colors and colors is not None and colors <= self.max_colors:
            return self._drop("single_color", colors)
        if too_low(measures.get("gray_std"), self.min_gray_std):
            return self._drop("near_blank", measures["gray_std"])
        return None


_NON_ALNUM = re.compile(r"[^A-Za-z0-9]+")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")


def url_tokens(url: str) -> list[str]:
    """Lower-case words of a URL's path: split on non-alphanumerics and camelCase, trailing
    digits dropped ("siteLogo2.png" -> site, logo, png). A hash like "a3ad9f" stays one token,
    so the words inside it never match."""
    try:
        path = unquote(urlsplit(url).path)
    except ValueError:
        path = url
    out = []
    for chunk in _NON_ALNUM.split(path):
        for piece in _CAMEL.split(chunk):
            piece = piece.rstrip("0123456789").lower()
            if piece:
                out.append(piece)
    return out


@register
class ImageUrl(Filter):
    """Drops images whose URL path holds a word naming page furniture rather than content
    (MMC4 dropped URLs with logo, button, icon, plugin or widget). Whole tokens of the path
    are matched (``url_tokens``), with a plural "s" allowed, so "/download/" or
    "/headline.jpg" never match "load" or "ad". Measure ``match``: the matched word or ""."""

    key, name, level = "image_url", "image_url/v1", "image"
    reasons = ("url_pattern",)

    def __init__(self, words: list[str] | tuple[str, ...] = (
            "logo", "icon", "button", "avatar", "ad", "ads", "banner", "sprite", "plugin",
            "widget", "pixel", "spacer")) -> None:
        if isinstance(words, str):
            raise ValueError("words must be a list")
        self.words = frozenset(w.lower() for w in words if w)

    def measure(self, item: ImageFacts) -> dict[str, Any]:
        match = ""
        for tok in url_tokens(item.url):
            if tok in self.words:
                match = tok
                break
            if tok.endswith("s") and tok[:-1] in self.words:
                match = tok[:-1]
                break
        return {"url_pattern": float(bool(match)), "match": match}

    def judge(self, measures: dict[str, Any]) -> Drop | None:
        if measures["url_pattern"]:
            return self._drop("url_pattern", 1.0, measures["match"])
        return None


_FORMAT_ALIASES = {"JPG": "JPEG", "MPO": "JPEG", "TIF": "TIFF"}  # MPO: phone JPEGs


def _format_name(fmt: str) -> str:
    f = fmt.strip().upper()
    return _FORMAT_ALIASES.get(f, f)


@register
class ImageFormat(Filter):
    """Keeps images whose decoded format (Pillow's name; "jpg" and "MPO" count as JPEG) is in
    ``formats``. An unknown format (before decoding) passes. Measure ``format``."""

    key, name, level = "image_format", "image_format/v1", "image"
    reasons = ("format",)

    def __init__(self, formats: list[str] | tuple[str, ...] = ("JPEG", "PNG", "WEBP", "GIF")
                 ) -> None:
        if isinstance(formats, str):
            raise ValueError("formats must be a list")
        self.formats = frozenset(_format_name(f) for f in formats)

    def measure(self, item: ImageFacts) -> dict[str, Any]:
        return {"format": _format_name(item.format)}

    def judge(self, measures: dict[str, Any]) -> Drop | None:
        fmt = measures["format"]
        if fmt and self.formats and fmt not in self.formats:
            return self._drop("format", None, fmt)
        return None


@register
class ImageSize(Filter):
    """Side and aspect rules on the original size: ``too_small`` (shorter side under
    ``min_side``), ``too_large`` (longer side over ``max_side``), ``aspect_ratio`` (longer over
    shorter side above ``max_aspect``, either orientation). Defaults are Flamingo's (64 px,
    aspect 3); OBELICS used 150 px, 20,000 px and 2. An unknown size (0) passes."""

    key, name, level = "image_size", "image_size/v1", "image"
    reasons = ("too_small", "too_large", "aspect_ratio")

    def __init__(self, min_side: int | None = 64, max_side: int | None = None,
                 max_aspect: float | None = 3.0) -> None:
        self.min_side, self.max_side, self.max_aspect = min_side, max_side, max_aspect

    def measure(self, item: ImageFacts) -> dict[str, Any]:
        if item.width <= 0 or item.height <= 0:
            return {}
        short, long = sorted((item.width, item.height))
        return {"min_side": float(short), "max_side": float(long), "aspect": long / short}

    def judge(self, measures: dict[str, Any]) -> Drop | None:
        if not measures:
            return None
        if too_low(measures["min_side"], self.min_side):
            return self._drop("too_small", measures["min_side"])
        if too_high(measures["max_side"], self.max_side):
            return self._drop("too_large", measures["max_side"])
        if too_high(measures["aspect"], self.max_aspect):
            return self._drop("aspect_ratio", measures["aspect"])
        return None

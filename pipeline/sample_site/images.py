"""Images for the sample site: real JPEGs and PNGs, plus the broken ones a crawl meets.

Photos are smooth colour fields with shapes and a little noise, so JPEG sizes look like
photographs (tens to a few hundred KB), not like flat colours. Charts are flat PNGs.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

# The reason the build is expected to reject an image of each kind (None: kept).
KIND_REASON: dict[str, str | None] = {
    "photo": None, "chart": None, "variant": None,
    "small": "too_small", "banner": "aspect_ratio", "tall": "aspect_ratio",
    "truncated": "undecodable", "junk": "undecodable",
    "pixel": "boilerplate", "logo": "boilerplate", "icon": "boilerplate", "ad": "boilerplate",
    "avatar": "boilerplate",
}
# A 1x1 transparent GIF: the classic tracking pixel and lazy-loading placeholder.
PIXEL_GIF = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00"
             b"\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
CTYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif"}


@dataclass(frozen=True)
class SiteImage:
    """One image resource: what it was made as, its declared type, size and bytes."""

    kind: str
    content_type: str
    width: int
    height: int
    data: bytes

    @property
    def reason(self) -> str | None:
        return KIND_REASON.get(self.kind)


def photo(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    """A photo-like picture: blurred colour field, gradient, shapes and sensor-like noise."""
    small = rng.uniform(0, 255, (rng.integers(3, 7), rng.integers(3, 7), 3)).astype(np.uint8)
    base = np.asarray(Image.fromarray(small).resize((w, h), Image.BICUBIC), dtype=np.float32)
    ramp = np.linspace(-30, 30, h, dtype=np.float32)[:, None, None]
    arr = base + ramp + rng.normal(0, 3, (h, w, 1)).astype(np.float32)
    im = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(im)
    for _ in range(int(rng.integers(3, 9))):
        x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
        x1 = x0 + int(rng.integers(4, max(5, w // 3)))
        y1 = y0 + int(rng.integers(4, max(5, h // 3)))
        fill = tuple(int(v) for v in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            draw.ellipse((x0, y0, x1, y1), fill=fill)
        else:
            draw.polygon([(x0, y1), ((x0 + x1) // 2, y0), (x1, y1)], fill=fill)
    return im


def chart(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    """A bar chart: flat colours and lines, the kind of picture that is a PNG on the web."""
    im = Image.new("RGB", (w, h), (250, 250, 246))
    draw = ImageDraw.Draw(im)
    n = int(rng.integers(4, 10))
    bw = (w - 40) // n
    colour = tuple(int(v) for v in rng.integers(30, 200, 3))
    for i in range(n):
        top = int(rng.integers(20, h - 30))
        draw.rectangle((30 + i * bw + 3, top, 30 + (i + 1) * bw - 3, h - 20), fill=colour)
    draw.line((28, 10, 28, h - 18, w - 8, h - 18), fill=(40, 40, 40), width=2)
    return im


def encode(im: Image.Image, fmt: str, quality: int = 80) -> bytes:
    buf = io.BytesIO()
    if fmt == "JPEG":
        im.convert("RGB").save(buf, "JPEG", quality=quality)
    else:
        im.save(buf, fmt, optimize=False)
    return buf.getvalue()


def make(kind: str, rng: np.random.Generator, w: int, h: int, fmt: str = "JPEG") -> SiteImage:
    """An image of ``kind`` at ``w`` x ``h`` (broken kinds still claim a JPEG type)."""
    if kind == "pixel":
        return SiteImage(kind, "image/gif", 1, 1, PIXEL_GIF)
    if kind == "junk":  # random bytes behind a .jpg name and an image/jpeg header
        return SiteImage(kind, "image/jpeg", w, h, rng.bytes(int(rng.integers(2000, 9000))))
    if kind == "chart":
        im = chart(rng, w, h)
    elif kind in ("logo", "icon"):
        im = Image.new("RGB", (w, h), tuple(int(v) for v in rng.integers(0, 256, 3)))
        ImageDraw.Draw(im).ellipse((2, 2, min(w, h) - 3, h - 3), fill=(255, 255, 255))
    else:
        im = photo(rng, w, h)
    data = encode(im, fmt)
    if kind == "truncated":  # cut mid-scan: the header parses, the pixels do not
        data = data[: max(200, len(data) // 3)]
    return SiteImage(kind, CTYPES[fmt], w, h, data)


def resized(img: SiteImage, width: int) -> SiteImage:
    """A smaller rendition (a srcset candidate) of a decodable image."""
    im = Image.open(io.BytesIO(img.data))
    h = max(1, round(img.height * width / img.width))
    fmt = "PNG" if img.content_type == "image/png" else "JPEG"
    return SiteImage("variant", img.content_type, width, h,
                     encode(im.resize((width, h), Image.BILINEAR), fmt))

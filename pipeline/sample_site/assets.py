"""The sample site's image store: creates images on demand and hands out their site paths."""

from __future__ import annotations

import numpy as np

from pipeline.sample_site import images
from pipeline.sample_site.images import SiteImage

SHARE_ICONS = ("/static/icons/facebook.png", "/static/icons/twitter.png",
               "/static/icons/email.png")
LOGO, PIXEL, BLANK = "/static/logo.png", "/track/pixel.gif", "/static/blank.gif"
AD_BANNER, AD_SKY = "/ads/banner-728x90.jpg", "/ads/sky-160x600.jpg"


class Assets:
    """Images by site path; ``duplicate_of`` maps a copy (same bytes) to its original."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.images: dict[str, SiteImage] = {}
        self.duplicate_of: dict[str, str] = {}
        self.pool: list[str] = []  # photos that later pages reuse under the same URL
        self.variants: dict[str, str] = {}
        self.n = 0
        self._chrome()

    def _chrome(self) -> None:
        mk = images.make
        self.images[LOGO] = mk("logo", self.rng, 180, 48, "PNG")
        self.images[PIXEL] = mk("pixel", self.rng, 1, 1)
        self.images[BLANK] = mk("pixel", self.rng, 1, 1)
        self.images[AD_BANNER] = mk("ad", self.rng, 728, 90)
        self.images[AD_SKY] = mk("ad", self.rng, 160, 600)
        for path in SHARE_ICONS:
            self.images[path] = mk("icon", self.rng, 24, 24, "PNG")
        self.avatars = [f"/avatars/user-{i}.png" for i in range(1, 7)]
        for path in self.avatars:
            self.images[path] = mk("avatar", self.rng, 48, 48, "PNG")
        self.sidebar = [f"/img/most-read/story-{i}.jpg" for i in range(1, 9)]
        for path in self.sidebar:
            self.images[path] = images.make("photo", self.rng, 100, 75)

    def new(self, kind: str, w: int, h: int, fmt: str = "JPEG", folder: str = "/img/photos",
            prefix: str = "p") -> str:
        # Names are neutral whatever the kind: the build must find a bad image by decoding it.
        self.n += 1
        path = f"{folder}/{prefix}{self.n:04d}.{'png' if fmt == 'PNG' else 'jpg'}"
        self.images[path] = images.make(kind, self.rng, w, h, fmt)
        return path

    def photo(self, folder: str = "/img/photos", prefix: str = "p", avoid: set[str] = frozenset(),
              reuse: float = 0.15, max_w: int = 1200) -> str:
        """A new photo, or (sometimes) one that other pages already show."""
        free = [p for p in self.pool if p not in avoid]
        if free and self.rng.random() < reuse:
            return free[int(self.rng.integers(len(free)))]
        w = int(self.rng.choice([320, 400, 480, 560, 640, 720, 800, 960, max_w],
                                p=[.1, .14, .18, .16, .14, .1, .08, .06, .04]))
        h = int(w * self.rng.uniform(0.6, 1.4))
        png = w <= 320 and self.rng.random() < 0.3  # PNG photos are big: small ones only
        path = self.new("photo", w, h, "PNG" if png else "JPEG", folder, prefix)
        if len(self.pool) < 30 and self.rng.random() < 0.25:
            self.pool.append(path)
        return path

    def copy(self, path: str, folder: str = "/img/photos", prefix: str = "p") -> str:
        """The same bytes under another URL (sites re-upload the same picture)."""
        self.n += 1
        src = self.images[path]
        new = f"{folder}/{prefix}{self.n:04d}.{path.rsplit('.', 1)[-1]}"
        self.images[new] = src
        self.duplicate_of[new] = self.duplicate_of.get(path, path)
        return new

    def variant(self, path: str, width: int = 480) -> str | None:
        """A smaller rendition for srcset, or None when the image is already small or broken."""
        img = self.images[path]
        if img.kind != "photo" or img.width <= width + 80:
            return None
        if path not in self.variants:
            stem, ext = path.rsplit(".", 1)
            self.variants[path] = f"{stem}-{width}w.{ext}"
            self.images[self.variants[path]] = images.resized(img, width)
        return self.variants[path]

    def main_image(self, avoid: set[str], folder: str = "/img/photos",
                   prefix: str = "p") -> tuple[str, str | None]:
        """A main-content image of a random kind: (path, expected rejection reason)."""
        r = self.rng.random()
        if r < 0.05:
            return self.new("small", *(int(v) for v in self.rng.integers(16, 60, 2)),
                            folder=folder, prefix=prefix), "too_small"
        if r < 0.08:
            w, h = [(1000, 120), (900, 250), (1200, 300)][int(self.rng.integers(3))]
            return self.new("banner", w, h, folder=folder, prefix=prefix), "aspect_ratio"
        if r < 0.095:
            return self.new("tall", 150, 600, folder=folder, prefix=prefix), "aspect_ratio"
        if r < 0.12:
            return self.new("truncated", 400, 300, folder=folder, prefix=prefix), "undecodable"
        if r < 0.135:
            return self.new("junk", 400, 300, folder=folder, prefix=prefix), "undecodable"
        if r < 0.19:
            w = int(self.rng.integers(360, 640))
            return self.new("chart", w, int(w * 0.6), "PNG", folder, prefix="chart-"), None
        return self.photo(folder, prefix, avoid), None

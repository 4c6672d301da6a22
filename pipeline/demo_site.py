"""A realistic sample website, generated from a seed, for `make demo`, the benchmarks and tests.

Pages come in five templates (article, listing, gallery, blog post with comments, recipe) with
navigation, headers, footers, cookie banners, ads, sharing bars, related links, lists, tables
and captioned figures. Images are real JPEGs and PNGs of many sizes, among them too-small,
extreme-aspect, duplicated and corrupt ones, tracking pixels and logos. A few pages are in
German or French, in windows-1252, near-duplicates, or have no usable image.

    site = generate_site(seed=0, n_pages=220, base_url="http://127.0.0.1:8000")
    write_site_warc(site, "site.warc.gz")          # pages + about half of the images
    with SiteServer() as srv:                      # the other images over HTTP
        srv.site = generate_site(base_url=srv.base_url)
"""

from __future__ import annotations

import hashlib
import io
import random
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import numpy as np
from PIL import Image, ImageDraw

from pipeline.demo_text import paragraph, title
from scrapers.warc_writer import WarcWriter

DATE = "2024-03-01T12:00:00Z"
TEMPLATES = ("article", "listing", "gallery", "blog", "recipe")


@dataclass
class Site:
    base_url: str
    pages: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # url -> (ctype, html)
    images: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # url -> (ctype, bytes)
    kinds: dict[str, str] = field(default_factory=dict)  # image url -> what it was made as

    def path_of(self, url: str) -> str:
        return urlsplit(url).path


def _picture(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    """Gradient, shapes and noise: compresses like a photo, not like a flat colour."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    c = rng.uniform(0, 255, (3, 3))
    arr = np.stack([c[i, 0] + (c[i, 1] - c[i, 0]) * x / max(w, 1)
                    + (c[i, 2] - c[i, 0]) * y / max(h, 1) / 2 for i in range(3)], axis=-1)
    arr += rng.normal(0, 5, arr.shape)
    im = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(im)
    for _ in range(int(rng.integers(2, 7))):
        x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
        x1 = x0 + int(rng.integers(5, max(6, w // 2)))
        y1 = y0 + int(rng.integers(5, max(6, h // 2)))
        fill = tuple(int(v) for v in rng.integers(0, 255, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x0, y0, x1, y1), fill=fill)
    return im


def _encode(im: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **({"quality": 85} if fmt == "JPEG" else {}))
    return buf.getvalue()


class _Images:
    """Makes and registers the site's images; returns their site-relative paths."""

    def __init__(self, site: Site, rng: np.random.Generator) -> None:
        self.site, self.rng, self.n = site, rng, 0
        self.shared: list[str] = []  # photos reused across pages (duplicates)

    def add(self, kind: str, w: int, h: int, fmt: str = "JPEG") -> str:
        self.n += 1
        ext = "png" if fmt == "PNG" else "jpg"
        path = f"/media/{kind}-{self.n:04d}.{ext}"
        data = _encode(_picture(self.rng, w, h), fmt)
        if kind == "corrupt":
            data = data[: len(data) // 3]
        ctype = "image/png" if fmt == "PNG" else "image/jpeg"
        self.site.images[self.site.base_url + path] = (ctype, data)
        self.site.kinds[self.site.base_url + path] = kind
        return path

    def photo(self) -> str:
        if self.shared and self.rng.random() < 0.2:
            return self.shared[int(self.rng.integers(0, len(self.shared)))]
        w = int(self.rng.integers(120, 640))
        h = int(w * self.rng.uniform(0.5, 1.4))
        png = w < 320 and self.rng.random() < 0.4  # PNG photos stay small: they are large
        path = self.add("photo", w, h, "PNG" if png else "JPEG")
        if len(self.shared) < 12 and self.rng.random() < 0.3:
            self.shared.append(path)
        return path


def _chrome(site_name: str, logo: str, lang: str) -> tuple[str, str]:
    head = (f"<header class='site-header'><img src='{logo}' class='logo' alt='logo' "
            f"width='120' height='40'><nav class='menu'><ul><li><a href='/'>Home</a></li>"
            "<li><a href='/news/'>News</a></li><li><a href='/recipes/'>Recipes</a></li>"
            "<li><a href='/about/'>About us</a></li><li><a href='/contact/'>Contact</a></li>"
            "</ul></nav></header>"
            "<div class='cookie-banner' id='cookie-consent'>We use cookies to improve your "
            "experience. <button>Accept all</button> <a href='/privacy'>Privacy policy</a></div>")
    foot = (f"<footer class='site-footer'><p>&copy; 2024 {site_name}. All rights reserved.</p>"
            "<ul><li><a href='/terms'>Terms</a></li><li><a href='/privacy'>Privacy</a></li>"
            "<li><a href='/sitemap'>Sitemap</a></li></ul>"
            "<img src='/track/pixel.gif' width='1' height='1' alt=''></footer>")
    return head, foot


def _figure(src: str, caption: str, style: int) -> str:
    if style == 0:
        return (f"<figure><img src='{src}' alt='{caption}'><figcaption>{caption}</figcaption>"
                "</figure>")
    if style == 1:
        return (f"<figure class='lazy'><img data-src='{src}' src='/static/blank.gif' "
                f"alt='{caption}'><figcaption>{caption}</figcaption></figure>")
    if style == 2:
        return (f"<picture><source srcset='{src} 800w'><img src='{src}' alt='{caption}'>"
                f"</picture><p class='caption'>{caption}</p>")
    return f"<p><img src='{src}' alt='{caption}'></p>"


def _page_html(rng: random.Random, imgs: _Images, template: str, lang: str, idx: int) -> str:
    t = title(rng, lang)
    head, foot = _chrome("The Harbour Gazette", "/static/logo.png", lang)
    body = [f"<article><h1>{t}</h1><p class='byline'>By Staff Writer, March {idx % 28 + 1}</p>"]
    n_par = rng.randint(3, 9)
    n_img = {"gallery": rng.randint(4, 7), "listing": 1}.get(template, rng.randint(0, 4))
    positions = sorted(rng.sample(range(n_par), min(n_img, n_par)))
    for i in range(n_par):
        if template == "recipe" and i == 1:
            items = "".join(f"<li>{paragraph(rng, lang, 1)}</li>" for _ in range(5))
            body.append(f"<h2>Ingredients</h2><ul>{items}</ul><h2>Method</h2>")
        if template == "listing" and i == 2:
            rows = "".join(f"<tr><td>{paragraph(rng, lang, 1)}</td><td>{rng.randint(1, 99)}</td>"
                           "</tr>" for _ in range(4))
            body.append(f"<table><tr><th>Item</th><th>Count</th></tr>{rows}</table>")
        body.append(f"<p>{paragraph(rng, lang, rng.randint(3, 6))}</p>")
        if i in positions:
            kind = rng.random()
            if kind < 0.08:
                src = imgs.add("small", rng.randint(16, 60), rng.randint(16, 60))
            elif kind < 0.14:
                src = imgs.add("wide", rng.randint(700, 1000), rng.randint(60, 140))
            elif kind < 0.18:
                src = imgs.add("corrupt", 300, 200)
            else:
                src = imgs.photo()
            body.append(_figure(src, paragraph(rng, lang, 1)[:80], rng.randint(0, 3)))
        if i == 1:
            body.append("<div class='ad ad-banner'><a href='http://ads.example/click'>"
                        "<img src='/ads/banner-728x90.jpg' alt='Advertisement'></a>"
                        "<iframe src='http://ads.example/frame'></iframe></div>")
    body.append("<div class='share-bar'><a href='#'>Share on Facebook</a> "
                "<a href='#'>Tweet</a> <a href='#'>Email</a></div></article>")
    related = "".join(f"<li><a href='/news/{rng.randint(1, 999)}.html'>{title(rng, lang)}</a>"
                      "</li>" for _ in range(5))
    body.append(f"<aside class='related'><h3>Related articles</h3><ul>{related}</ul></aside>")
    if template == "blog":
        comments = "".join(
            f"<div class='comment'><img src='/avatars/u{rng.randint(1, 9)}.png' class='avatar' "
            f"width='48' height='48'><p>{paragraph(rng, lang, 1)}</p></div>" for _ in range(3))
        body.append(f"<section id='comments' class='comments'><h3>Comments</h3>{comments}"
                    "</section>")
    charset = "windows-1252" if lang != "en" and idx % 2 else "utf-8"
    return (f"<!DOCTYPE html><html lang='{lang}'><head><meta charset='{charset}'>"
            f"<title>{t}</title></head><body>{head}<main>{''.join(body)}</main>{foot}"
            "</body></html>"), charset


def generate_site(seed: int = 0, n_pages: int = 220, base_url: str = "http://127.0.0.1:8000"
                  ) -> Site:
    """A deterministic site: the same seed and base URL give the same bytes."""
    rng = random.Random(seed)
    site = Site(base_url.rstrip("/"))
    imgs = _Images(site, np.random.default_rng(seed))
    imgs.add("logo", 120, 40, "PNG")
    site.images[site.base_url + "/static/logo.png"] = site.images.pop(
        site.base_url + "/media/logo-0001.png")
    imgs.add("ad", 728, 90)
    site.images[site.base_url + "/ads/banner-728x90.jpg"] = site.images.pop(
        site.base_url + "/media/ad-0002.jpg")
    for i in range(n_pages):
        lang = "de" if i % 37 == 5 else "fr" if i % 41 == 7 else "en"
        template = TEMPLATES[i % len(TEMPLATES)]
        html, charset = _page_html(rng, imgs, template, lang, i)
        url = f"{site.base_url}/{template}/{i:04d}.html"
        data = html.encode(charset, "replace")
        if i % 53 == 11:  # a near-duplicate of the previous page
            prev = list(site.pages.values())[-1][1]
            data = prev.replace(b"</main>", b"<p>Updated.</p></main>")
        if i % 97 == 13:  # junk bytes in a page that claims utf-8
            data = data[:400] + bytes(range(128, 256)) * 4 + data[400:]
        site.pages[url] = (f"text/html; charset={charset}", data)
    return site


def stored_in_warc(url: str, share: float) -> bool:
    """Which images go into the WARC: a stable choice by URL hash."""
    h = int(hashlib.sha1(url.encode()).hexdigest()[:8], 16)
    return h / 0xFFFFFFFF < share


def write_site_warc(site: Site, path: str, images_in_warc: float = 0.5) -> dict[str, int]:
    """Pages plus a stable share of the images, each response after its request record."""
    n_img = 0
    with WarcWriter(path) as w:
        w.write_warcinfo({"software": "m3w demo site", "format": "WARC/1.0"}, date=DATE)
        for url, (ctype, body) in site.pages.items():
            w.write_response(url, body, headers=[("Content-Type", ctype)], date=DATE)
        for url, (ctype, body) in site.images.items():
            if stored_in_warc(url, images_in_warc):
                w.write_response(url, body, headers=[("Content-Type", ctype)], date=DATE)
                n_img += 1
    return {"pages": len(site.pages), "images_in_warc": n_img,
            "images_served": len(site.images) - n_img}


def write_url_list(site: Site, path: str) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(site.pages) + "\n")


class SiteServer:
    """Serves a site's pages and images and a permissive robots.txt on 127.0.0.1.

    The port is known before the site exists, so a site can be generated with its final base
    URL: ``with SiteServer() as srv: srv.site = generate_site(base_url=srv.base_url)``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.site: Site | None = None
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
                hit = owner.lookup(self.path.split("?", 1)[0])
                self.send_response(200 if hit else 404)
                body = hit[1] if hit else b"not found"
                self.send_header("Content-Type", hit[0] if hit else "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def lookup(self, path: str) -> tuple[str, bytes] | None:
        if path == "/robots.txt":
            return "text/plain", b"User-agent: *\nAllow: /\n"
        if self.site is None:
            return None
        url = self.site.base_url + path
        return self.site.images.get(url) or self.site.pages.get(url)

    def __enter__(self) -> SiteServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

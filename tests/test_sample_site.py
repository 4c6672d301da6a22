"""The sample site: deterministic, realistic, truthful, and published as WARC + HTTP correctly."""

from __future__ import annotations

import inspect
import io
import random
import re
import urllib.error
import urllib.request
from collections import Counter
from html import escape
from urllib.parse import urljoin

import pytest
from PIL import Image
from warcio.archiveiterator import ArchiveIterator

from pipeline.sample_site import (
    generate_site,
    in_warc,
    prepare_demo,
    serve_site,
    write_site_warc,
    write_url_list,
)
from pipeline.sample_site.site import _plan

BASE = "http://127.0.0.1:8123"
STOP = {"the", "be", "to", "of", "and", "that", "have", "with"}
_REF = re.compile(r'(?:src|data-src)="([^"]+)"|srcset="([^"]+)"')


@pytest.fixture(scope="module")
def site():
    return generate_site(seed=0, n_pages=60, base_url=BASE)


def test_same_seed_same_bytes_other_seed_other_site():
    a, b = generate_site(7, 12, BASE), generate_site(7, 12, BASE)
    assert a.pages == b.pages and a.images == b.images and a.page_types == b.page_types
    assert a.truth == b.truth
    assert generate_site(8, 12, BASE).pages != a.pages


def test_default_size_and_plan_has_every_template_and_special_page():
    assert inspect.signature(generate_site).parameters["n_pages"].default == 220
    plan = _plan(random.Random(0), 220)
    assert len(plan) == 220
    assert set(Counter(p["template"] for p in plan)) == {"article", "listing", "gallery", "blog",
                                                         "recipe"}
    roles = Counter(p["role"] for p in plan)
    assert roles["garbage"] == 1 and roles["junk"] == 2 and roles["near_duplicate"] >= 3
    assert Counter(p["lang"] for p in plan)["en"] <= 216
    assert {p["charset"] for p in plan} == {"utf-8", "windows-1252", "iso-8859-1"}


def test_pages_templates_and_expected_drops(site):
    assert len(site.pages) == 60 and set(site.truth) == set(site.pages)
    assert all(u.startswith(BASE + "/") for u in site.pages)
    templates = Counter(t.template for t in site.truth.values())
    assert {"article", "listing", "gallery", "blog", "recipe", "garbage"} <= set(templates)
    drops = Counter(t.drop for t in site.truth.values())
    assert {"garbage", "non_english", "near_duplicate", "no_images"} <= set(drops)
    assert drops[None] >= 40
    for url, t in site.truth.items():
        if t.drop == "near_duplicate":
            orig = site.truth[t.duplicate_of]
            assert t.paragraphs[:-1] == orig.paragraphs and t.images == orig.images
            assert url.rsplit("/", 1)[0] == t.duplicate_of.rsplit("/", 1)[0]


def test_kept_pages_have_gopher_quality_english(site):
    for t in site.truth.values():
        if t.drop:
            continue
        words = " ".join(t.paragraphs).split()
        assert len(words) >= 50
        assert 3 <= sum(map(len, words)) / len(words) <= 10
        assert len(STOP & {w.lower() for w in words}) >= 2
        assert t.kept_images


def test_truth_matches_the_html(site):
    for url, t in site.truth.items():
        if t.drop == "garbage":
            continue
        html = site.pages[url].decode("utf-8" if t.charset == "utf-8" else "cp1252", "replace")
        assert re.search(f'charset="?{t.charset}"', html)
        refs = set()
        for src, srcset in _REF.findall(html):
            for ref in [src] if src else [c.split()[0] for c in srcset.split(",")]:
                refs.add(urljoin(url, ref))
        assert set(t.images) | set(t.rejected) <= refs
        assert set(t.images) | set(t.rejected) <= set(site.images)
        for p in t.paragraphs:
            if not t.undecodable_bytes:
                assert escape(p, quote=False).encode(t.charset, "xmlcharrefreplace") \
                    in site.pages[url]


def test_charsets_are_declared_and_honoured(site):
    seen = Counter()
    for url, t in site.truth.items():
        ctype, data = site.page_types[url], site.pages[url]
        seen[t.charset] += 1
        if t.charset == "iso-8859-1":
            assert ctype == "text/html; charset=ISO-8859-1"
        if t.charset == "windows-1252":
            assert ctype == "text/html"  # only the <meta> tells
        if t.charset == "utf-8" and not t.undecodable_bytes:
            data.decode("utf-8")
        if t.undecodable_bytes:
            with pytest.raises(UnicodeDecodeError):
                data.decode("utf-8")
    assert seen["windows-1252"] and seen["utf-8"]


def test_images_decode_with_intended_sizes(site):
    kinds = Counter(m.kind for m in site.image_meta.values())
    for kind in ("photo", "chart", "small", "banner", "truncated", "junk", "pixel", "logo"):
        assert kinds[kind], kind
    for url, meta in site.image_meta.items():
        ctype, data = site.images[url]
        assert ctype == meta.content_type and len(data) < 400_000
        if meta.reason == "undecodable":
            with pytest.raises(OSError):  # truncated, or not an image at all
                Image.open(io.BytesIO(data)).load()
            continue
        im = Image.open(io.BytesIO(data))
        im.load()
        assert im.size == (meta.width, meta.height)
        assert Image.MIME[im.format] == ctype
        ratio = max(im.size) / min(im.size)
        if meta.reason == "too_small":
            assert min(im.size) < 64
        elif meta.reason == "aspect_ratio":
            assert ratio > 3
        elif meta.reason is None:
            assert min(im.size) >= 64 and ratio <= 3


def test_duplicates_share_bytes_and_rejections_are_consistent(site):
    assert site.duplicate_of
    for copy, orig in site.duplicate_of.items():
        assert copy != orig and site.images[copy][1] == site.images[orig][1]
    reasons = Counter()
    for t in site.truth.values():
        for u in t.images:
            r = t.rejected.get(u)
            reasons[r] += 1
            if r == "duplicate":
                orig = site.duplicate_of[u]
                assert orig in t.kept_images[: t.kept_images.index(orig) + 1]
            elif r and r != "boilerplate":
                assert site.image_meta[u].reason == r
    assert {"too_small", "aspect_ratio", "undecodable", "duplicate", None} <= set(reasons)
    reused = Counter(u for t in site.truth.values() if t.drop is None for u in t.kept_images)
    assert max(reused.values()) > 1  # the same image URL on several pages


def test_warc_has_pages_and_half_the_images_with_offsets(site, tmp_path):
    out = write_site_warc(site, str(tmp_path / "site.warc.gz"), images_in_warc=0.5)
    stored = set(out["warc_images"])
    assert out["pages"] == 60 and out["images_in_warc"] == len(stored)
    assert 0.3 < len(stored) / len(site.images) < 0.7
    assert out["images_served"] == len(site.images) - len(stored)
    with open(out["paths"][0], "rb") as fh:
        recs = [(r.rec_type, r.rec_headers.get_header("WARC-Target-URI"), r.http_headers,
                 r.content_stream().read()) for r in ArchiveIterator(fh)]
    kinds = Counter(r[0] for r in recs)
    assert kinds == {"warcinfo": 1, "request": 60 + len(stored), "response": 60 + len(stored)}
    assert out["records"] == len(recs)
    for kind, url, http, body in recs:
        if kind != "response":
            continue
        if url in site.pages:
            assert body == site.pages[url]
            assert http.get_header("Content-Type") == site.page_types[url]
        else:
            assert url in stored and body == site.images[url][1]
            assert http.get_header("Content-Type") == site.images[url][0]
    (tmp_path / "again").mkdir()
    again = write_site_warc(site, str(tmp_path / "again" / "site.warc.gz"), images_in_warc=0.5)
    assert open(out["paths"][0], "rb").read() == open(again["paths"][0], "rb").read()
    split = write_site_warc(site, str(tmp_path / "split.warc.gz"), files=3)
    assert len(split["paths"]) == 3 and split["warc_images"] == out["warc_images"]
    # the choice of images depends on the path only, so it is the same for any port
    assert all(in_warc(u.replace(BASE, "http://127.0.0.1:9"), 0.5) for u in stored)


def test_server_serves_what_the_warc_lacks(site):
    stored = [u for u in site.images if in_warc(u, 0.5)]
    served = [u for u in site.images if not in_warc(u, 0.5)]
    with serve_site(site, exclude=stored) as port:
        def get(url: str) -> tuple[int, bytes, str]:
            url = url.replace(BASE, f"http://127.0.0.1:{port}")
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    return r.status, r.read(), r.headers["Content-Type"]
            except urllib.error.HTTPError as e:
                return e.code, b"", ""

        for url in served[:5]:
            assert get(url) == (200, site.images[url][1], site.images[url][0])
        assert get(stored[0])[0] == 404
        assert get(BASE + "/no/such/page.html")[0] == 404
        status, body, _ = get(BASE + "/robots.txt")
        assert status == 200 and b"Allow: /" in body
        page = next(iter(site.pages))
        assert get(page)[:2] == (200, site.pages[page])


def test_prepare_demo_writes_warc_and_url_list(tmp_path):
    with prepare_demo(str(tmp_path), seed=1, n_pages=12) as demo:
        assert demo.site.base_url == demo.server.base_url
        urls = open(demo.url_list).read().split()
        assert urls == list(demo.site.pages)
        missing = demo.summary["images_served"]
        assert missing and demo.warc_paths == [str(tmp_path / "site.warc.gz")]
        img = next(u for u in demo.site.images if u not in set(demo.summary["warc_images"]))
        with urllib.request.urlopen(img, timeout=5) as r:
            assert r.read() == demo.site.images[img][1]
    kept = write_url_list(demo.site, str(tmp_path / "kept.txt"), only_kept=True)
    assert 0 < kept < len(urls)

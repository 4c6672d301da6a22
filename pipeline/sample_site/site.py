"""``generate_site``: the whole sample site, deterministic from a seed, with its ground truth."""

from __future__ import annotations

import random
import re
import unicodedata
from dataclasses import dataclass, field
from urllib.parse import urljoin

from pipeline.sample_site import text
from pipeline.sample_site.assets import LOGO, PIXEL, Assets
from pipeline.sample_site.images import SiteImage
from pipeline.sample_site.pages import SECTIONS, TEMPLATES, Page, chrome
from pipeline.sample_site.templates import BUILDERS

DEFAULT_BASE = "http://127.0.0.1:8000"
# Invalid UTF-8 inside a page that declares UTF-8: each byte decodes to one U+FFFD.
JUNK = b"\xff\xfe\x80\x81\xc3"
UPDATE_NOTE = "This story was updated on 5 March 2024 with new details from the organisers."
_TEMPLATE_WEIGHTS = (0.34, 0.14, 0.13, 0.21, 0.18)
_IMAGES = {"article": (1, 4), "listing": (3, 6), "gallery": (4, 8), "blog": (1, 3),
           "recipe": (1, 3)}


@dataclass
class PageTruth:
    """What a correct build keeps from one page.

    ``paragraphs``: main-content prose (<p>) in order; ``other_text``: headings, list items,
    table cells and captions of the main content, which an extractor may keep. ``images``:
    main-content image URLs in order; ``rejected``: image URL -> expected reason (too_small,
    aspect_ratio, undecodable, duplicate, boilerplate), for main-content and chrome images
    alike. ``drop``: why the whole page should end up rejected (garbage, non_english,
    near_duplicate, no_images), or None.
    """

    url: str
    template: str
    lang: str
    charset: str
    title: str = ""
    paragraphs: list[str] = field(default_factory=list)
    other_text: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)
    drop: str | None = None
    duplicate_of: str | None = None
    undecodable_bytes: bool = False

    @property
    def kept_images(self) -> list[str]:
        return [u for u in self.images if u not in self.rejected]


@dataclass
class Site:
    """Pages (url -> HTML bytes, served with ``page_types[url]``), images, and the truth."""

    base_url: str
    seed: int
    pages: dict[str, bytes] = field(default_factory=dict)
    page_types: dict[str, str] = field(default_factory=dict)
    images: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    image_meta: dict[str, SiteImage] = field(default_factory=dict)
    duplicate_of: dict[str, str] = field(default_factory=dict)  # image copy -> original
    truth: dict[str, PageTruth] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return self.base_url + path

    def size_bytes(self) -> int:
        """Distinct bytes of pages and images (a reused image counts once per URL)."""
        return sum(map(len, self.pages.values())) + sum(len(b) for _, b in self.images.values())


def _slug(title: str) -> str:
    plain = unicodedata.normalize("NFKD", title.lower()).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", plain)
    return "-".join(words)[:40].rstrip("-") or "page"


def _plan(rng: random.Random, n: int) -> list[dict]:
    """Template, language, charset and role of every page, fixed before any page is built."""
    specials = rng.sample(range(8, n), min(n - 8, 1 + 2 + max(1, n // 70) + max(2, n // 50)))
    garbage, junk = specials[:1], specials[1:3]
    dups = specials[3:3 + max(1, n // 70)]
    foreign = specials[3 + len(dups):]
    plan = []
    for i in range(n):
        lang = ("de" if foreign.index(i) % 2 else "fr") if i in foreign else "en"
        r = rng.random()
        if lang != "en":
            charset = "windows-1252" if i % 2 else "utf-8"
        else:
            charset = "utf-8" if r < 0.84 else "windows-1252" if r < 0.94 else "iso-8859-1"
        if i in junk:
            charset = "utf-8"
        role = ("garbage" if i in garbage else "junk" if i in junk else
                "near_duplicate" if i in dups else "normal")
        template = rng.choices(TEMPLATES, _TEMPLATE_WEIGHTS)[0]
        lo, hi = _IMAGES[template]
        n_img = 0 if rng.random() < 0.06 else rng.randint(lo, hi)
        topic = "food" if template == "recipe" else rng.choice(
            ("town", "travel", "nature", "science", "food"))
        plan.append({"lang": lang, "charset": charset, "role": role, "template": template,
                     "n_img": n_img, "topic": topic})
    return plan


def _content_type(charset: str, rng: random.Random) -> str:
    if charset == "windows-1252":
        return "text/html"  # declared in <meta> only: readers must sniff it
    if charset == "iso-8859-1":
        return "text/html; charset=ISO-8859-1"
    return "text/html; charset=utf-8" if rng.random() < 0.8 else "text/html"


def _build(site: Site, a: Assets, rng: random.Random, spec: dict, url: str, title: str,
           links: list[tuple[str, str]]) -> tuple[bytes, PageTruth]:
    page_dir = url[len(site.base_url):].rsplit("/", 1)[0]
    p = Page(rng, spec["topic"], spec["lang"])
    text.reserve(p.used, title)
    BUILDERS[spec["template"]](p, a, title, site.base_url, page_dir, links, spec["n_img"])
    main = p.html
    p.html = []
    html = chrome(p, title, spec["charset"], page_dir.strip("/"), LOGO, PIXEL,
                  [(path, t) for path, (_, t) in zip(rng.sample(a.sidebar, 4), links)],
                  "/ads/sky-160x600.jpg", main)
    t = PageTruth(url, spec["template"], spec["lang"], spec["charset"], title,
                  p.paragraphs, p.other_text)
    for ref in p.refs:
        full = urljoin(url, ref.written)
        assert full == site.base_url + ref.path, (full, ref.path)
        if ref.main:
            t.images.append(full)
        if ref.reason:
            t.rejected[full] = ref.reason
    return html.encode(spec["charset"], "xmlcharrefreplace"), t


def _inject_junk(data: bytes, t: PageTruth) -> bytes:
    """Invalid UTF-8 in the middle of the first paragraph (the truth shows it as U+FFFD)."""
    first = t.paragraphs[0]
    cut = first.index(" ", len(first) // 2)
    raw = first[:cut].replace("&", "&amp;").encode()
    at = data.index(raw) + len(raw)
    t.paragraphs[0] = first[:cut] + JUNK.decode("utf-8", "replace") + first[cut:]
    t.undecodable_bytes = True
    return data[:at] + JUNK + data[at:]


def generate_site(seed: int = 0, n_pages: int = 220, base_url: str = DEFAULT_BASE) -> Site:
    """The sample site for ``seed``: the same seed and base URL give the same bytes.

    Pages refer to images with site-relative URLs (``/img/..``, ``../img/..``, ``img/..``) and a
    few full ones, so only those few and the page URLs depend on ``base_url``.
    """
    if n_pages < 10:
        raise ValueError("n_pages must be at least 10")
    site = Site(base_url.rstrip("/"), seed)
    rng = random.Random(seed)
    assets = Assets(seed)
    plan = _plan(rng, n_pages)
    titles = [text.title(rng, s["topic"], s["lang"]) for s in plan]
    for i, spec in enumerate(plan):  # a near-duplicate sits beside its original (same folder,
        if spec["role"] == "near_duplicate":  # so relative image URLs resolve the same way)
            spec["source"] = max(k for k in range(i) if plan[k]["role"] == "normal"
                                 and plan[k]["lang"] == "en")
            spec["template"] = plan[spec["source"]]["template"]
            titles[i] = titles[spec["source"]]
    urls = [site.url(f"/{SECTIONS[s['template']]}/{_slug(t)}-{i:04d}.html")
            for i, (s, t) in enumerate(zip(plan, titles))]
    for i, spec in enumerate(plan):
        url = urls[i]
        others = rng.sample(range(n_pages - 1), 5)
        links = [(urls[j + (j >= i)][len(site.base_url):], titles[j + (j >= i)]) for j in others]
        if spec["role"] == "garbage":
            site.pages[url] = rng.randbytes(3000)
            site.page_types[url] = "text/html"
            site.truth[url] = PageTruth(url, "garbage", "unknown", "unknown", drop="garbage")
            continue
        if spec["role"] == "near_duplicate":
            j = spec["source"]
            orig = site.truth[urls[j]]
            note = f'<p class="update">{UPDATE_NOTE}</p></div></article>'.encode()
            site.pages[url] = site.pages[urls[j]].replace(b"</div></article>", note, 1)
            site.page_types[url] = site.page_types[urls[j]]
            site.truth[url] = PageTruth(
                url, orig.template, orig.lang, orig.charset, orig.title,
                orig.paragraphs + [UPDATE_NOTE], list(orig.other_text), list(orig.images),
                dict(orig.rejected), drop="near_duplicate", duplicate_of=urls[j])
            continue
        data, t = _build(site, assets, rng, spec, url, titles[i], links)
        if spec["role"] == "junk":
            data = _inject_junk(data, t)
        if spec["lang"] != "en":
            t.drop = "non_english"
        elif not t.kept_images:
            t.drop = "no_images"
        site.pages[url] = data
        site.page_types[url] = _content_type(spec["charset"], rng)
        site.truth[url] = t
    for path, img in assets.images.items():
        site.images[site.url(path)] = (img.content_type, img.data)
        site.image_meta[site.url(path)] = img
    site.duplicate_of = {site.url(k): site.url(v) for k, v in assets.duplicate_of.items()}
    return site

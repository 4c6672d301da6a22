"""Image source resolution (src, lazy-loading attributes, srcset) and the rules that skip images.

Whether an image belongs to the document is the extractor's question (its place in the page);
whether it is worth fetching is asked here, from its URL and attributes (`classify`): the
image rules the build applies right after extraction.

Reason codes: data_uri, no_src (no usable source); svg, tracking_pixel, spacer, icon, logo,
avatar, button, ad, decorative (the rules); and `boilerplate`, given by the extractor for
images outside the main content.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urljoin, urlsplit

from scrapers.dom_hints import CaseFreeRe

# Lazy-loading attributes, most specific (usually the full-size image) first.
LAZY_ATTRS = (
    "data-src", "data-original", "data-lazy-src", "data-hi-res-src", "data-full-src",
    "data-lazy", "data-url", "data-echo", "data-actualsrc", "data-original-src",
    "data-orig-src", "data-image", "data-img", "data-asset-url", "data-pagespeed-lazy-src",
    "data-ll-src", "data-cfsrc", "data-defer-src", "data-delayed-url", "data-large-src",
    "original-src", "data-high-res-src",
)
_LAZY_RANK = {name: i for i, name in enumerate(LAZY_ATTRS)}
SRCSET_ATTRS = ("srcset", "data-srcset", "data-lazy-srcset", "data-original-set")

# Case-insensitive patterns (CaseFreeRe: fast on ASCII URLs).
_PLACEHOLDER = CaseFreeRe(
    r"(?:^|[/_.-])(?:blank|spacer|placeholder|transparent|lazy|loading|loader|pixel|grey|gray|"
    r"empty|clear|dot|1x1|trans)(?:[._-]|$)")
# A URL naming an image file (a link to one opens the picture itself).
IMAGE_EXT = CaseFreeRe(r"\.(?:jpe?g|png|gif|webp|avif|bmp|tiff?|jfif|heic)(?:$|[?#])")
_SVG = CaseFreeRe(r"\.svgz?(?:$|[?#])|^data:image/svg")
_TRACKER = CaseFreeRe(
    r"doubleclick\.net|google-analytics\.com|googletagmanager|facebook\.com/tr|"
    r"scorecardresearch|quantserve|\.2o7\.net|omtrdc\.net|imrworldwide|chartbeat|"
    r"pixel\.(?:wp|quantserve|facebook)|/pixel(?:\.gif|\.png|/|\?)|/beacon|/b/ss/|"
    r"stats\.wordpress|/tracking/|/track(?:\.gif|\?)|hit(?:counter|s)?\.(?:gif|php)|"
    r"counter\.(?:gif|php)|/__utm\.gif|bat\.bing|analytics\.|/1x1\.|statcounter|"
    r"feeds\.feedburner\.com/~r/|sitemeter|nedstat|webtrends|/ping\?",
    # every alternative above holds one of these (most URLs hold none: no regex run)
    ("doubleclick.net", "analytics", "googletagmanager", "facebook.com/tr", "scorecardresearch",
     "quantserve", ".2o7.net", "omtrdc.net", "imrworldwide", "chartbeat", "pixel", "/beacon",
     "/b/ss/", "stats.wordpress", "/track", "hit", "counter.", "/__utm.gif", "bat.bing", "/1x1.",
     "statcounter", "feeds.feedburner.com/~r/", "sitemeter", "nedstat", "webtrends", "/ping?"))
_WORD = re.compile(r"[a-z0-9]+")
_NON_WORD = bytes(c if chr(c) in "0123456789abcdefghijklmnopqrstuvwxyz" else 32 for c in range(256))
_AD_WORDS = frozenset({"ad", "ads", "adv", "advert", "adverts", "advertisement", "advertising",
                       "adserver", "adframe", "banner_ad", "sponsor", "sponsored", "adimage",
                       "doubleclick", "adsense", "adservice", "adtech", "affiliate"})
_ICON_WORDS = frozenset({"icon", "icons", "favicon", "emoji", "emoticon", "emoticons",
                         "smiley", "smilies", "sprite", "sprites", "glyph", "rating", "stars",
                         "flag16", "bullet", "arrow"})
_ICON_DIRS = frozenset({"icon", "icons", "favicon", "emoji", "emoticons", "smilies"})
_LOGO_WORDS = frozenset({"logo", "logos", "sitelogo"})
_AVATAR_WORDS = frozenset({"avatar", "avatars", "gravatar", "userpic", "profilepic"})
_BUTTON_WORDS = frozenset({"button", "buttons", "btn", "share", "sharing", "sharethis",
                           "addthis", "facebook", "twitter", "pinterest", "linkedin",
                           "whatsapp", "reddit", "tumblr", "email", "print", "rss", "feed",
                           "subscribe", "badge", "badges"})
# A class saying the image is a backdrop (a hero banner's background, drawn under the title).
_DECOR_WORDS = frozenset({"background", "backdrop"})
_SPACER_WORDS = frozenset({"spacer", "blank", "transparent", "clear", "shim", "pixel",
                           "placeholder", "dot", "trans", "1x1", "spc", "s"})


@dataclass
class ImageInfo:
    """One image element as found in the page (src resolved, or the reason it has none)."""

    src: str
    alt: str
    width: int | None
    height: int | None
    reason: str | None  # None: usable; otherwise a skip reason code


def _int(v: str | None) -> int | None:
    if not v:
        return None
    v = v.strip().lower().removesuffix("px").strip()
    return int(v) if v.isdigit() and len(v) < 7 else None


def largest_candidate(srcset: str) -> str | None:
    """The largest srcset candidate: by `w` descriptor, else `x`, else the first listed."""
    best, best_key = None, (-1.0, -1.0)
    # Candidates are comma-separated; URLs may contain commas (e.g. Cloudinary), so split on
    # ", " or "," followed by a URL-ish start when a descriptor preceded it.
    for part in re.split(r",\s+|,(?=\s*(?:https?:)?/)", srcset):
        bits = part.split()
        if not bits or bits[0].startswith("data:"):
            continue
        w = x = 0.0
        for d in bits[1:]:
            try:
                if d.endswith("w"):
                    w = float(d[:-1])
                elif d.endswith("x"):
                    x = float(d[:-1])
            except ValueError:
                continue
        key = (w, x if x else 1.0)
        if key > best_key:
            best, best_key = bits[0].rstrip(","), key
    return best


def _usable(url: str | None) -> bool:
    if not url:
        return False
    url = url.strip()
    return bool(url) and not url.startswith(("data:", "javascript:", "about:", "#"))


# Attributes that never name the picture itself (a link, a size, a label).
_NOT_SOURCES = frozenset({
    "src", "srcset", "alt", "title", "class", "id", "style", "width", "height", "sizes",
    "loading", "decoding", "href", "role", "itemprop", "crossorigin", "referrerpolicy", "usemap",
    "ismap", "fetchpriority", "aria-label", "aria-hidden", "lang", "dir", "align", "border",
    "name", "type", "media", "data-action", "data-width", "data-height"})
# One URL ending in an image file name (an optional query after it), or a srcset-style list.
_IMAGE_URL = CaseFreeRe(r"^\s*[^\s,]+\.(?:jpe?g|png|gif|webp|avif)(?:[?#][^\s]*)?\s*$")
_SRCSET_LIKE = CaseFreeRe(r"\.(?:jpe?g|png|gif|webp|avif)[^\s]*\s+\d+(?:\.\d+)?[wx]\b")


def pick_source(attrs: dict[str, str | None], sources: list[str]) -> tuple[str | None, bool]:
    """The raw URL for an image and whether only a data: URI was found.

    Order: lazy-loading attributes (they hold the real image when present), then a real `src`,
    then the largest srcset candidate (img, then <picture><source>), then any other attribute
    holding an image URL, and last a placeholder-looking `src`.
    """
    raw, kind = source_of(attrs, sources)
    return raw, kind == "data"


def source_of(attrs: dict[str, str | None], sources: list[str]) -> tuple[str | None, str]:
    """The raw URL for an image and what it is: "real", "placeholder" (a blank or spacer
    `src` kept for want of anything better), "data" (only a data: URI) or "none"."""
    src = attrs.get("src")
    src = src.strip() if src else ""
    lazy = [n for n in attrs if n in _LAZY_RANK]
    for name in sorted(lazy, key=_LAZY_RANK.__getitem__) if len(lazy) > 1 else lazy:
        v = attrs.get(name)
        if _usable(v) and (IMAGE_EXT.search(v) or "/" in v):
            return v.strip(), "real"
    # A class naming lazy loading says a script replaces `src` (often a blurred copy a few
    # dozen pixels wide) with the picture another attribute names: prefer that attribute.
    lazy_class = "lazy" in (attrs.get("class") or "").lower()
    real_src = _usable(src) and not _PLACEHOLDER.search(src.rsplit("/", 1)[-1])
    if real_src and not lazy_class:
        return src, "real"
    for name in SRCSET_ATTRS:
        v = attrs.get(name)
        if v:
            cand = largest_candidate(v)
            if cand:
                return cand, "real"
    for v in sources:
        cand = largest_candidate(v)
        if cand:
            return cand, "real"
    # Lazy loaders use many attribute names (data-lazy-load-src, data-zoom-image, ...): any
    # other attribute whose value is an image URL names the picture a script would show.
    for name, v in attrs.items():
        if v and name not in _NOT_SOURCES and name not in _LAZY_RANK \
                and not v.startswith("data:"):
            if _IMAGE_URL.search(v):
                return v.strip(), "real"
            if _SRCSET_LIKE.search(v):
                cand = largest_candidate(v)
                if cand:
                    return cand, "real"
    if real_src:
        return src, "real"
    if _usable(src):
        return src, "placeholder"  # better than nothing, but a copy elsewhere wins
    return None, "data" if src.startswith("data:") else "none"


def _words(*parts: str | None) -> set[str]:
    """The runs of [a-z0-9] in the lowercased parts."""
    out: set[str] = set()
    for p in parts:
        if p:
            if p.isascii():  # same runs, ~2x faster than the regex
                out.update(p.lower().encode().translate(_NON_WORD).decode().split())
            else:
                out.update(_WORD.findall(p.lower()))
    return out


def classify(url: str, attrs: dict[str, str | None], w: int | None, h: int | None) -> str | None:
    """A skip reason for an image URL and its attributes, or None to keep it."""
    if _SVG.search(url):
        return "svg"
    # width="0" alone usually means "unset"; 0x0, 1x1 and one side of 1-2 px are pixels.
    if (w is not None and h is not None and w <= 2 and h <= 2) or w in (1, 2) or h in (1, 2) \
            or _TRACKER.search(url):
        return "tracking_pixel"
    path = url.split("?", 1)[0]
    fname = path.rsplit("/", 1)[-1].lower()
    file_words = _words(fname)
    host, _, dirs = path.split("//", 1)[-1].partition("/")
    host_words = set(host.lower().split("."))
    path_words = _words(dirs)
    attr_words = _words(attrs.get("class"), attrs.get("id"))
    small = w is not None and h is not None and w <= 32 and h <= 32
    if file_words & _SPACER_WORDS and (fname.endswith(".gif") or small
                                       or not IMAGE_EXT.search(fname)):
        return "spacer"
    # "ad" alone is only trusted in a host name or a class/id: paths hold hex dirs ("/a/ad/").
    if (host_words | attr_words) & _AD_WORDS or (path_words - {"ad"}) & _AD_WORDS:
        return "ad"
    if attr_words & _DECOR_WORDS:
        return "decorative"
    if (path_words | attr_words) & _LOGO_WORDS:
        return "logo"
    if (path_words | attr_words) & _AVATAR_WORDS:
        return "avatar"
    if attr_words & _BUTTON_WORDS or (file_words & _BUTTON_WORDS and not (w and w >= 100)):
        return "button"
    if small or path_words & _ICON_DIRS or (file_words | attr_words) & _ICON_WORDS:
        return "icon"
    return None


# Size marks in an image file name: "120px-Name.jpg" (MediaWiki), "name-300x200.jpg" (WordPress).
_SIZE_MARK = re.compile(r"^\d+px-|[-_]\d+x\d+(?=\.\w+$)")


def picture_key(url: str) -> tuple[str, str]:
    """One key for a picture at any size: the host and the file name without size marks.
    A name that says little ("dims?crop=...", "4800.jpg", "image.jpg") is no key: the path is."""
    parts = urlsplit(url)
    name = _SIZE_MARK.sub("", parts.path.rsplit("/", 1)[-1].lower())
    stem = name.rsplit(".", 1)[0]
    if not IMAGE_EXT.search(name) or len(stem) < 10 or stem.isdigit():
        return parts.netloc.lower(), parts.path
    return parts.netloc.lower(), name


def resolve_src(attrs: dict[str, str | None], sources: list[str], base: str) -> str:
    """The absolute image URL, or "" (no classification: for images not taken anyway)."""
    raw, _ = pick_source(attrs, sources)
    if not raw or raw.startswith("data:"):
        return ""
    return _absolute(base, raw.strip())


def _absolute(base: str, raw: str) -> str:
    if raw.startswith(("http://", "https://")) and " " not in raw:
        return raw  # already absolute: skip urljoin, the slowest step here
    if _plain_path(raw):
        parts = _base_parts(base)
        if parts is not None:  # what urljoin gives, without parsing both URLs again
            return (parts[0] if raw[0] == "/" else parts[1]) + raw
    try:
        return urljoin(base, raw)
    except ValueError:
        return ""


def _plain_path(raw: str) -> bool:
    """A relative reference that urljoin only appends to its base: a path (no scheme, host,
    lone query or fragment) without dot segments, empty segments, spaces or control
    characters, which urljoin would resolve, collapse or strip."""
    return (raw != "" and raw[0] not in "?#" and ":" not in raw and "//" not in raw
            and "/." not in "/" + raw and raw.isascii() and raw.isprintable()
            and " " not in raw)


@lru_cache(maxsize=256)
def _base_parts(base: str) -> tuple[str, str] | None:
    """("scheme://host", "scheme://host/directory/") of an http(s) base whose path needs no
    resolving (what follows its scheme is a plain path: no dot or empty segments), else None.
    Cached: a page resolves all its images against one base."""
    if not _plain_path(base.split("://", 1)[-1]) or "\\" in base:
        return None
    try:
        scheme, netloc, path, _, _ = urlsplit(base)
    except ValueError:
        return None
    if scheme not in ("http", "https") or not netloc:
        return None
    origin = f"{scheme}://{netloc}"
    return origin, (origin + path[: path.rfind("/") + 1] if path else origin + "/")


def image_info(attrs: dict[str, str | None], sources: list[str], base: str,
               rules: bool = True) -> ImageInfo:
    """Resolve an <img> (with its <picture> sources) against `base`; with `rules`, also
    classify it (icons, pixels, ads...: a skip reason)."""
    alt = " ".join((attrs.get("alt") or "").split())
    w, h = _int(attrs.get("width")), _int(attrs.get("height"))
    raw, only_data = pick_source(attrs, sources)
    if raw is None:
        return ImageInfo("", alt, w, h, "data_uri" if only_data else "no_src")
    raw = raw.strip().replace("\n", "").replace("\t", "")
    if raw.startswith("data:"):
        return ImageInfo("", alt, w, h, "data_uri")
    url = _absolute(base, raw)
    if not url.startswith(("http://", "https://")):
        return ImageInfo(url, alt, w, h, "no_src")
    return ImageInfo(url, alt, w, h, classify(url, attrs, w, h) if rules else None)

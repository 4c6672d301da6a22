"""Tag sets and class/id/role hints that say whether an element is content or boilerplate."""

from __future__ import annotations

import re
from typing import Any

# Elements removed before the walk: never content, and their text would count in the page's
# text length. Only text-bearing ones are here; the other never-content elements are just not
# entered by the walk (SKIP_TAGS).
STRIP_TAGS = ["script", "style", "noscript", "template", "svg", "math", "select", "textarea",
              "button"]
STRIP_QUERY = ", ".join(STRIP_TAGS)  # one pass over the tree finds them all
SKIP_TAGS = frozenset(STRIP_TAGS) | {
    "title", "meta", "link", "base", "source", "track", "area", "iframe", "object", "embed",
    "canvas", "option", "input", "map", "audio", "video", "dialog", "head",
}

# Elements that start a new text block. Everything else is inline and joins the current block.
BLOCK_TAGS = frozenset({
    "address", "article", "aside", "blockquote", "caption", "center", "dd", "details", "dir",
    "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3",
    "h4", "h5", "h6", "header", "hgroup", "hr", "li", "main", "menu", "nav", "ol", "p", "pre",
    "section", "summary", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul", "body",
    "html", "frameset", "frame", "noframes", "legend", "listing", "xmp", "plaintext",
})
HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})

# Output tag of a block, from the tag of the element that holds its text.
OUT_TAG = {
    "h1": "h1", "h2": "h2", "h3": "h3", "h4": "h4", "h5": "h5", "h6": "h6", "li": "li",
    "dd": "li", "dt": "li", "td": "td", "th": "td", "blockquote": "blockquote",
    "figcaption": "figcaption", "caption": "figcaption", "pre": "pre", "listing": "pre",
    "xmp": "pre", "plaintext": "pre",
}

# BOILER comes from class/id words and may be overruled when the element holds most of the
# page; SEMANTIC (nav/aside/footer tags, ARIA roles) is trusted as is.
NEUTRAL, CONTENT, BOILER, HEADER, CAPTION, SEMANTIC = 0, 1, 2, 3, 4, 5

# Tags that are boilerplate by definition (HTML5 sectioning semantics).
TAG_HINT = {"nav": SEMANTIC, "aside": SEMANTIC, "footer": SEMANTIC, "menu": SEMANTIC,
             "header": HEADER, "article": CONTENT, "main": CONTENT,
             "figcaption": CAPTION, "caption": CAPTION}
_ROLE_HINT = {"navigation": SEMANTIC, "banner": HEADER, "contentinfo": SEMANTIC,
              "complementary": SEMANTIC, "search": SEMANTIC, "menu": SEMANTIC,
              "menubar": SEMANTIC, "dialog": SEMANTIC, "alertdialog": SEMANTIC,
              "tablist": SEMANTIC,
              "main": CONTENT, "article": CONTENT}

# Class/id words, matched at a word start (class names are lowercased). The first group are
# prefixes ("comment" -> "comments"); the second are whole words ("ads" but not "address").
_B = r"(?<![a-z0-9])"
_BOILER_RE = re.compile(
    _B + r"(?:(?:nav|menu|breadcrumb|footer|sidebar|side-bar|widget|comment|disqus|respond|"
    r"repl(?:y|ies)|cookie|consent|gdpr|shar(?:e|ing)|social|sociable|related|recommend|"
    r"newsletter|subscri|signup|sign-up|popup|modal|masthead|advert|adsense|sponsor|promo|"
    r"paginat|pager|paging|toolbar|login|tag-?cloud|taglist|outbrain|taboola|trending|"
    r"most-?popular|more-?stories|read-?more|post-?nav|topbar|copyright|author-?bio|"
    r"about-?author|blogroll|calendar|screen-?reader|sr-only|offscreen)"
    r"|(?:ads?|ad-\w+|foot|skip|tags|rss|print|utility|banner|cta|tools|legal|bio|jump|"
    r"categories|archive|feed|top-?link)(?![a-z]))"
)
_CONTENT_RE = re.compile(
    _B + r"(?:article|content|main|post|entry|story|text|body|blog|hentry|prose|"
    r"markdown|rich-?text|permalink|page-?content)"
)
_CAPTION_RE = re.compile(_B + r"(?:caption|wp-caption-text|figcaption|image-?credit|credit)")
_HEADER_RE = re.compile(_B + r"(?:header|head|topper|hero|masthead-?article)(?![a-z])")


# Unambiguous markers of an article body: a boilerplate-named element holding one of these
# wraps the content (a sticky share bar, a "has-sidebar" layout div) and is not boilerplate.
MAIN_CONTENT = (
    'article:not([class*="comment"]):not([id*="comment"]), main, [role="main"], '
    '[itemprop="articleBody"], [class*="entry-content"], '
    '[class*="post-content"], [class*="article-body"], [class*="article-content"], '
    '[class*="post-body"], [class*="story-body"]'
)

# (tag, class, id, role) -> hint; the walk reads it directly to skip a call per element.
HINT_CACHE: dict[tuple[str, str | None, str | None, str | None], int] = {}
_CACHE_MAX = 100_000


def class_hint(tag: str, cls: str | None, eid: str | None, role: str | None) -> int:
    """Classify one block element: NEUTRAL, CONTENT, BOILER, HEADER, CAPTION or SEMANTIC."""
    if cls is None and eid is None and role is None:
        return TAG_HINT.get(tag, NEUTRAL)
    key = (tag, cls, eid, role)
    h = HINT_CACHE.get(key)
    if h is None:
        if len(HINT_CACHE) >= _CACHE_MAX:
            HINT_CACHE.clear()  # class names repeat within and across pages; the cache is pure
        h = HINT_CACHE[key] = _class_hint(tag, cls, eid, role)
    return h


def _class_hint(tag: str, cls: str | None, eid: str | None, role: str | None) -> int:
    h = TAG_HINT.get(tag, NEUTRAL)
    if role:
        h = _ROLE_HINT.get(role.strip().lower(), h)
    if h == SEMANTIC or (not cls and not eid):
        return h
    words = f"{cls or ''} {eid or ''}".lower()
    if _CAPTION_RE.search(words):
        return CAPTION
    if _BOILER_RE.search(words):
        if h == CONTENT or _CONTENT_RE.search(words):
            # "post-comments" or "article-related" are still boilerplate; "post-body" is not.
            if not _strong(words):
                return CONTENT
        return BOILER
    if _CONTENT_RE.search(words):
        return CONTENT if h == NEUTRAL else h
    if h == NEUTRAL and _HEADER_RE.search(words):
        return HEADER
    return h


_STRONG_RE = re.compile(
    _B + r"(?:comment|disqus|share|sharing|social|related|recommend|cookie|consent|newsletter|"
    r"subscri|sidebar|nav|menu|footer|breadcrumb|advert|sponsor|outbrain|taboola|tags|"
    r"pagination|pager|widget)"
)


def _strong(words: str) -> bool:
    return _STRONG_RE.search(words) is not None


class CaseFreeRe:
    """A case-insensitive regex search, fast on ASCII text.

    Python's re runs a re.I alternation several times slower than a plain one. On ASCII text
    a lowercase pattern matches the text lowercased exactly where re.I matches the text (the
    positions stay the same), so that is what runs; other text takes the re.I search. The
    pattern must hold no uppercase letter and no case-sensitive escape.

    `hints`, when given, are substrings one of which every match contains: (ASCII) text
    holding none of them is answered without running the regex at all.
    """

    __slots__ = ("_plain", "_folded", "_hints")

    def __init__(self, pattern: str, hints: tuple[str, ...] = ()) -> None:
        assert pattern == pattern.lower(), pattern
        self._plain = re.compile(pattern)
        self._folded = re.compile(pattern, re.I)
        self._hints = hints

    def search(self, text: str) -> Any:
        if not text.isascii():
            return self._folded.search(text)
        low = text.lower()
        if self._hints:
            for h in self._hints:
                if h in low:
                    break
            else:
                return None
        return self._plain.search(low)

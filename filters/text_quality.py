"""OBELICS-style text quality filters, at paragraph ("node") and document level.

Each measure is written once, in a level-free base class; the registered subclasses only fix
the config key, the level and the default thresholds (OBELICS's published values), so a build
config can tune the paragraph and the document thresholds separately. A threshold of None
(or 0) turns its rule off.
"""

from __future__ import annotations

from typing import Any

from filters import text_stats as ts
from filters.base import Drop, Filter, register, too_high, too_low
from filters.text_stats import TextItem
from filters.wordlists import ENGLISH_STOP_WORDS, FLAGGED_WORDS, word_set


class WordCount(Filter):
    """Number of words (``text_stats.words``) within [min_words, max_words]."""

    reasons = ("too_few_words", "too_many_words")

    def __init__(self, min_words: int | None, max_words: int | None) -> None:
        self.min_words, self.max_words = min_words, max_words

    def measure(self, item: TextItem) -> dict[str, Any]:
        return {"words": float(len(ts.words(item.text)))}

    def judge(self, measures: dict[str, Any]) -> Drop | None:
        n = measures["words"]
        if too_low(n, self.min_words):
            return self._drop("too_few_words", n)
        if too_high(n, self.max_words):
            return self._drop("too_many_words", n)
        return None


class Repetition(Filter):
    """Character and word repetition.

    - ``char_repetition``: share of character ``char_ngram``-gram occurrences (lower-cased,
      whitespace collapsed) whose n-gram occurs more than once in the text;
    - ``word_repetition``: share of word ``word_ngram``-gram occurrences whose n-gram occurs
      more than once.

    Every occurrence of a repeated n-gram counts, the first included, so a sentence written
    twice scores about 1.0 and prose without repeated phrases scores 0.
    """

    reasons = ("char_repetition", "word_repetition")

    def __init__(self, max_char_repetition: float | None, max_word_repetition: float | None,
                 char_ngram: int, word_ngram: int) -> None:
        if char_ngram < 1 or word_ngram < 1:
            raise ValueError("char_ngram and word_ngram must be positive")
        self.max_char, self.max_word = max_char_repetition, max_word_repetition
        self.char_ngram, self.word_ngram = char_ngram, word_ngram

    def measure(self, item: TextItem) -> dict[str, Any]:
        return {
            "char_repetition": ts.char_repetition_ratio(item.text, self.char_ngram),
            "word_repetition": ts.word_repetition_ratio(ts.lower_words(item.text),
                                                        self.word_ngram),
        }

    def judge(self, measures: dict[str, Any]) -> Drop | None:
        for reason, limit in (("char_repetition", self.max_char),
                              ("word_repetition", self.max_word)):
            if too_high(measures[reason], limit):
                return self._drop(reason, measures[reason])
        return None


class SpecialChars(Filter):
    """Share of characters that are not letters (``text_stats.special_char_ratio``)."""

    reasons = ("special_characters",)

    def __init__(self, max_ratio: float | None) -> None:
        self.max_ratio = max_ratio

    def measure(self, item: TextItem) -> dict[str, Any]:
        return {"special_characters": ts.special_char_ratio(item.text)}

    def judge(self, measures: dict[str, Any]) -> Drop | None:
        v = measures["special_characters"]
        return self._drop("special_characters", v) if too_high(v, self.max_ratio) else None


class StopWords(Filter):
    """Share of words that are English stop words (``wordlists.ENGLISH_STOP_WORDS``, extended
    or replaced by ``stop_words_file``). An empty text has ratio 0 and fails a minimum."""

    reasons = ("too_few_stop_words",)

    def __init__(self, min_ratio: float | None, stop_words_file: str,
                 replace_stop_words: bool) -> None:
        self.min_ratio = min_ratio
        self.vocab = word_set(ENGLISH_STOP_WORDS, stop_words_file, replace_stop_words)

    def measure(self, item: TextItem) -> dict[str, Any]:
        return {"stop_words": ts.vocab_ratio(ts.lower_words(item.text), self.vocab)}

    def judge(self, measures: dict[str, Any]) -> Drop | None:
        v = measures["stop_words"]
        return self._drop("too_few_stop_words", v) if too_low(v, self.min_ratio) else None


class FlaggedWords(Filter):
    """Share of words in the flagged list (``wordlists.FLAGGED_WORDS``, extended or replaced
    by ``flagged_words_file``)."""

    reasons = ("flagged_words",)

    def __init__(self, max_ratio: float | None, flagged_words_file: str,
                 replace_flagged_words: bool) -> None:
        self.max_ratio = max_ratio
        self.vocab = word_set(FLAGGED_WORDS, flagged_words_file, replace_flagged_words)

    def measure(self, item: TextItem) -> dict[str, Any]:
        return {"flagged_words": ts.vocab_ratio(ts.lower_words(item.text), self.vocab)}

    def judge(self, measures: dict[str, Any]) -> Drop | None:
        v = measures["flagged_words"]
        return self._drop("flagged_words", v) if too_high(v, self.max_ratio) else None


# --- paragraph level (OBELICS paragraph filters) -------------------------------------------

@register
class NodeWords(WordCount):
    key, name, level = "node_words", "node_words/v1", "node"

    def __init__(self, min_words: int | None = 4, max_words: int | None = 1000) -> None:
        super().__init__(min_words, max_words)


@register
class NodeRepetition(Repetition):
    key, name, level = "node_repetition", "node_repetition/v1", "node"

    def __init__(self, max_char_repetition: float | None = 0.1,
                 max_word_repetition: float | None = 0.1, char_ngram: int = 10,
                 word_ngram: int = 5) -> None:
        super().__init__(max_char_repetition, max_word_repetition, char_ngram, word_ngram)


@register
class NodeSpecialChars(SpecialChars):
    key, name, level = "node_special_chars", "node_special_chars/v1", "node"

    def __init__(self, max_ratio: float | None = 0.3) -> None:
        super().__init__(max_ratio)


@register
class NodeStopWords(StopWords):
    key, name, level = "node_stop_words", "node_stop_words/v1", "node"

    def __init__(self, min_ratio: float | None = 0.3, stop_words_file: str = "",
                 replace_stop_words: bool = False) -> None:
        super().__init__(min_ratio, stop_words_file, replace_stop_words)


@register
class NodeFlaggedWords(FlaggedWords):
    key, name, level = "node_flagged_words", "node_flagged_words/v1", "node"

    def __init__(self, max_ratio: float | None = 0.01, flagged_words_file: str = "",
                 replace_flagged_words: bool = False) -> None:
        super().__init__(max_ratio, flagged_words_file, replace_flagged_words)


# --- document level (OBELICS document filters) ---------------------------------------------

@register
class DocWords(WordCount):
    key, name, level = "doc_words", "doc_words/v1", "document"

    def __init__(self, min_words: int | None = 10, max_words: int | None = 2000) -> None:
        super().__init__(min_words, max_words)


@register
class DocSpecialChars(SpecialChars):
    key, name, level = "doc_special_chars", "doc_special_chars/v1", "document"

    def __init__(self, max_ratio: float | None = 0.275) -> None:
        super().__init__(max_ratio)


@register
class DocStopWords(StopWords):
    key, name, level = "doc_stop_words", "doc_stop_words/v1", "document"

    def __init__(self, min_ratio: float | None = 0.35, stop_words_file: str = "",
                 replace_stop_words: bool = False) -> None:
        super().__init__(min_ratio, stop_words_file, replace_stop_words)


@register
class DocFlaggedWords(FlaggedWords):
    key, name, level = "doc_flagged_words", "doc_flagged_words/v1", "document"

    def __init__(self, max_ratio: float | None = 0.01, flagged_words_file: str = "",
                 replace_flagged_words: bool = False) -> None:
        super().__init__(max_ratio, flagged_words_file, replace_flagged_words)

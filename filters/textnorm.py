"""Word tokenisation shared by near-duplicate signatures and decontamination.

A word is a maximal run of "word bytes" in the lower-cased UTF-8 text:
- ASCII letters and digits;
- every non-ASCII character except common punctuation and spaces, namely U+0080-U+00BF
  (no-break space, guillemets, ©, °), U+2000-U+206F (typographic spaces, dashes, curly quotes,
  ellipsis) and U+3000-U+303F (CJK punctuation).

Everything else (ASCII punctuation, whitespace, underscores, apostrophes) separates words, so
"Don't" gives "don" and "t". ``word_mask`` is the vectorised form used on whole batches;
``words`` is the same rule on one string, used as the reference in tests, the benchmark and
when reading evaluation files.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

_WORD_RE = re.compile("[0-9a-z\u00c0-\u1fff\u2070-\u2fff\u3040-\U0010ffff]+")

SEPARATOR = b"\n"  # joins documents of a batch; never a word byte


def words(text: str) -> list[str]:
    """The words of ``text``, lower-cased, by the rule of this module."""
    return _WORD_RE.findall(text.lower())


def normalize(text: str) -> str:
    """Lower-cased words joined by single spaces."""
    return " ".join(words(text))


def encode_batch(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Lower-case and UTF-8 encode every text, joined by ``SEPARATOR``.

    Returns (bytes as uint8, start offset of each text plus the end), so text i is
    ``buf[off[i]:off[i + 1] - 1]`` (the separator follows every text)."""
    if all(t.isascii() for t in texts):  # O(1) per text; ASCII keeps its length when lowered
        joined = (SEPARATOR.decode().join(texts) + SEPARATOR.decode()).lower().encode("ascii")
        lengths = np.fromiter((len(t) + 1 for t in texts), dtype=np.int64, count=len(texts))
    else:
        encoded = [t.lower().encode("utf-8", "surrogatepass") for t in texts]
        encoded.append(b"")
        joined = SEPARATOR.join(encoded)
        lengths = np.fromiter((len(e) + 1 for e in encoded[:-1]), dtype=np.int64,
                              count=len(texts))
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return np.frombuffer(joined, dtype=np.uint8), offsets


def word_mask(buf: np.ndarray) -> np.ndarray:
    """Boolean mask of word bytes of a lower-cased UTF-8 buffer (see the module rule).

    Comparisons instead of a table lookup: they run several times faster on long buffers."""
    mask = (buf - np.uint8(0x30)) < 10
    mask |= (buf - np.uint8(0x61)) < 26
    # In UTF-8 every non-ASCII character starts with a byte >= 0xC2, so this finds them all.
    lead = np.flatnonzero(buf >= 0xC2)
    if len(lead) == 0:
        return mask
    mask |= buf >= 0x80
    nxt = buf[np.minimum(lead + 1, len(buf) - 1)]
    b0 = buf[lead]
    two = lead[b0 == 0xC2]  # U+0080-U+00BF
    three = lead[((b0 == 0xE2) & ((nxt == 0x80) | (nxt == 0x81)))  # U+2000-U+206F
                 | ((b0 == 0xE3) & (nxt == 0x80))]  # U+3000-U+303F
    for off in range(2):
        mask[two + off] = False
    for off in range(3):
        mask[three + off] = False
    return mask

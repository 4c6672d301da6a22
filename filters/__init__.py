"""Filter cores: small pure classes, each with a versioned name and declared reason codes,
resolved by config key through ``filters.base.make_filter``. No Beam imports here; the
pipeline's stages wrap them.

- ``text_quality``: OBELICS paragraph ("node") and document filters (words, repetition,
  special characters, stop words, flagged words), sharing the measures of ``text_stats``;
- ``gopher``: Gopher's quality and repetition rules (document level);
- ``language``: offline fastText language identification;
- ``url_blocklist``: blocked domains and URL substrings;
- ``image_rules``: image URL, format, size and blank-image rules.

The near-duplicate and decontamination helpers (``textnorm``, ``minhash``, ``near_dup``,
``phash``, ``decontam``) live here too; they are not filters and are imported only where used.
"""

from filters import gopher, image_rules, language, text_quality, url_blocklist  # noqa: F401
from filters.catalog import declared_reasons

__all__ = ["declared_reasons"]

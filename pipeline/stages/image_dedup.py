"""Image deduplication after decoding: exact (content hash) and perceptual (pHash within a
Hamming distance), across documents or within each one.

Every checked image occurrence (document key, position) is keyed by its content hash and by
the pHash bands of filters.phash (two hashes within distance d share a band exactly), grouped,
and each occurrence that has an earlier equal or near-equal one in its group is marked. "Earlier"
is the order of (document key, position), so the survivor never depends on input order or
workers. A group holds one hash's occurrences, never the corpus.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam

EXACT_FILTER = "image_dedup_exact/v1"
PERCEPTUAL_FILTER = "image_dedup_phash/v1"
IMAGE_DEDUP_REASONS = {EXACT_FILTER: ("duplicate_image",),
                       PERCEPTUAL_FILTER: ("near_duplicate_image",)}
MAX_COMPARED = 256  # distinct earlier hashes a perceptual bucket member is compared with

Occurrence = tuple[str, int, int]  # (document key, position, pHash or -1)


def dedup_keys(item: tuple[str, tuple[int, Any]], icfg: dict[str, Any]
               ) -> Iterator[tuple[tuple[Any, ...], Occurrence]]:
    """(doc key, (position, ImageOutcome)) -> ((kind, scope, hash key), occurrence)."""
    from filters.phash import phash_bands

    doc_key, (idx, outcome) = item
    if not outcome.ok:
        return
    scope = "" if icfg["across_documents"] else doc_key
    ph = outcome.phash if outcome.phash is not None else -1
    if icfg["exact"] and outcome.sha256:
        yield ("sha", scope, outcome.sha256), (doc_key, idx, ph)
    if icfg["perceptual"] and ph >= 0:
        for band in phash_bands(ph, icfg["max_distance"]):
            yield ("ph", scope, band), (doc_key, idx, ph)


def duplicate_marks(item: tuple[tuple[Any, ...], Iterable[Occurrence]], max_distance: int
                    ) -> Iterator[tuple[str, tuple[int, str, str, float]]]:
    """One group -> (doc key, (position, filter, survivor "key#pos", distance)) for every
    occurrence that is not the group's first of its kind."""
    from filters.phash import hamming

    kind = item[0][0]
    members = sorted(set(item[1]))
    if len(members) < 2:
        return
    first = members[0]
    if kind == "sha":
        for doc_key, idx, _ in members[1:]:
            yield doc_key, (idx, EXACT_FILTER, f"{first[0]}#{first[1]}", 0.0)
        return
    earlier: dict[int, tuple[str, int]] = {}  # distinct pHash -> its first occurrence
    for doc_key, idx, ph in members:
        match = None
        for other, where in list(earlier.items())[:MAX_COMPARED]:
            dist = hamming(ph, other)
            if dist <= max_distance:
                match = (where, dist)
                break
        if match is not None:
            where, dist = match
            yield doc_key, (idx, PERCEPTUAL_FILTER, f"{where[0]}#{where[1]}", float(dist))
        else:
            earlier.setdefault(ph, (doc_key, idx))


class DuplicateImages(beam.PTransform):
    """(doc key, (position, ImageOutcome)) -> (doc key, (position, filter, survivor, value))
    marks, one per duplicate occurrence."""

    def __init__(self, icfg: dict[str, Any]) -> None:
        super().__init__()
        self.icfg = icfg

    def expand(self, outcomes):
        return (
            outcomes
            | "DupKeys" >> beam.FlatMap(dedup_keys, self.icfg)
            | "DupGroup" >> beam.GroupByKey()
            | "DupMarks" >> beam.FlatMap(duplicate_marks, self.icfg["max_distance"])
            | "DupOnePerImage" >> beam.Map(lambda kv: ((kv[0], kv[1][0]), kv[1]))
            | "DupFirstMark" >> beam.CombinePerKey(min)
            | "DupByDoc" >> beam.Map(lambda kv: (kv[0][0], kv[1]))
        )

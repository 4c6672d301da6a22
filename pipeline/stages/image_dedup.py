"""Image deduplication after decoding: exact (content hash) and perceptual (pHash within a
Hamming distance), across documents or within each one.

Three keyed passes, each over one hash's occurrences, never the corpus:

1. exact: occurrences keyed by content hash (SHA-256); all but the first are duplicates;
2. equal pHash: the survivors keyed by their pHash; all but the first are near duplicates at
   distance 0 (identical hashes are matched by key, however many there are);
3. near pHash: the remaining distinct hashes keyed by the pHash bands of filters.phash (two
   hashes within distance d share a band exactly). In each band group, the MAX_COMPARED
   first members are resolved greedily (a member within d of an earlier representative is
   its duplicate, else it becomes a representative); every later member is compared with
   those representatives only. Work is O(n * MAX_COMPARED) per group, never quadratic.

"First" is the order of (crawl rank, position): the newest crawl first (see
pipeline.stages.dedup.rank: inverted digits), then the smallest document key, then the
position, so the survivor never depends on input order or workers. Groups are read lazily,
twice at most (Beam's grouped values are re-iterable); a pass keeps one element or a bounded
heap, never the group.
"""

from __future__ import annotations

import functools
import heapq
from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam
import numpy as np
from apache_beam import pvalue

from pipeline.file_shuffle import RUNNER, Shuffle, Spread

EXACT_FILTER = "image_dedup_exact/v1"
PERCEPTUAL_FILTER = "image_dedup_phash/v1"
IMAGE_DEDUP_REASONS = {EXACT_FILTER: ("duplicate_image",),
                       PERCEPTUAL_FILTER: ("near_duplicate_image",)}
MAX_COMPARED = 256  # first members of a band group resolved greedily; later ones meet only them

# (crawl rank, position, document key, sha256 or "", pHash or -1); tuples sort in survivor
# order. The rank string ends with the document key, so no two occurrences tie.
Occurrence = tuple[str, int, str, str, int]
# (doc key, position), (filter, survivor's (rank, position), survivor "key#pos", distance):
# the min per image picks the survivor first in order when several groups mark it.
Mark = tuple[tuple[str, int], tuple[str, tuple[str, int], str, float]]
_NEXT = "next"  # tagged output: an occurrence that survived this pass


def occurrences(item: tuple[str, tuple[Any, ...]]) -> Iterator[Occurrence]:
    """(doc key, (position, ImageOutcome[, crawl rank])) -> the occurrence of a checked
    image. Without a rank the document key orders it."""
    doc_key, value = item
    idx, outcome = value[0], value[1]
    rank = value[2] if len(value) > 2 else f"~|{doc_key}"
    if outcome.ok:
        ph = outcome.phash if outcome.phash is not None else -1
        yield rank, idx, doc_key, outcome.sha256 or "", ph


def reiterable(values: Iterable[Any]) -> Iterable[Any]:
    """Grouped values are read in two passes; a one-shot iterator would lose the second."""
    if iter(values) is values:
        raise TypeError("grouped values must be re-iterable")
    return values


def _mark(occ: Occurrence, filter_name: str, survivor: Occurrence, dist: int) -> Mark:
    return ((occ[2], occ[1]),
            (filter_name, survivor[:2], f"{survivor[2]}#{survivor[1]}", float(dist)))


def first_marks(item: tuple[Any, Iterable[Occurrence]], filter_name: str) -> Iterator[Any]:
    """A group of occurrences sharing one exact key -> a mark for each but the first, and
    the first on the _NEXT output. Two lazy passes: find the first, then mark the others."""
    occs = reiterable(item[1])
    first = min(occs)
    yield pvalue.TaggedOutput(_NEXT, first)
    for occ in occs:
        if occ != first:
            yield _mark(occ, filter_name, first, 0)


def _popcount(x: np.ndarray) -> np.ndarray:
    return np.bitwise_count(x)


def near_marks(item: tuple[Any, Iterable[Occurrence]], max_distance: int,
               max_compared: int = MAX_COMPARED) -> Iterator[Mark]:
    """A band group of distinct pHashes -> a mark for each member within ``max_distance`` of
    an earlier representative (the first one in order)."""
    occs = reiterable(item[1])
    head = heapq.nsmallest(max_compared, occs)  # lazy pass 1: a bounded heap
    if len(head) < 2:
        return
    reps: list[Occurrence] = []
    marks: dict[Occurrence, tuple[Occurrence, int]] = {}
    hashes = np.zeros(len(head), dtype=np.uint64)
    for occ in head:  # greedy over the first members, in order
        if reps:
            dist = _popcount(hashes[:len(reps)] ^ np.uint64(occ[4]))
            hit = np.flatnonzero(dist <= max_distance)
            if hit.size:
                marks[occ] = (reps[hit[0]], int(dist[hit[0]]))
                continue
        hashes[len(reps)] = occ[4]
        reps.append(occ)
    for occ, (rep, dist) in sorted(marks.items()):
        yield _mark(occ, PERCEPTUAL_FILTER, rep, dist)
    if len(head) < max_compared:
        # The whole group was in the head
        return
    last = head[-1]
    rep_hashes = hashes[:len(reps)]
    for occ in occs:  # lazy pass 2: members after the head meet the representatives only
        if occ <= last:
            continue
        dist = _popcount(rep_hashes ^ np.uint64(occ[4]))
        hit = np.flatnonzero(dist <= max_distance)
        if hit.size:
            yield _mark(occ, PERCEPTUAL_FILTER, reps[hit[0]], int(dist[hit[0]]))


def band_keys(occ: Occurrence, across_documents: bool, max_distance: int
              ) -> Iterator[tuple[tuple[str, bytes], Occurrence]]:
    from filters.phash import phash_bands

    for band in phash_bands(occ[4], max_distance):
        yield ("" if across_documents else occ[2], band), occ


class DuplicateImages(beam.PTransform):
    """(doc key, (position, ImageOutcome[, crawl rank])) -> (doc key, (position, filter,
    survivor "key#pos", distance)) marks, one per duplicate occurrence."""

    def __init__(self, icfg: dict[str, Any], shuffle: Shuffle = RUNNER) -> None:
        super().__init__()
        self.icfg, self.sh = icfg, shuffle

    def expand(self, outcomes):
        icfg, sh = self.icfg, self.sh
        across = icfg["across_documents"]
        d = icfg["max_distance"]

        def scope(occ: Occurrence) -> str:
            return "" if across else occ[2]

        occs = [outcomes | "DupOccurrences" >> beam.FlatMap(occurrences)]
        marks = []
        if icfg["exact"]:
            with_sha = occs[0] | "DupHasSha" >> beam.Partition(
                lambda o, _: 0 if o[3] else 1, 2)
            exact = (
                sh.group("DupSha", with_sha[0]
                         | "DupShaKey" >> beam.Map(lambda o: ((scope(o), o[3]), o)))
                | "DupShaMarks" >> beam.FlatMap(first_marks, EXACT_FILTER).with_outputs(
                    _NEXT, main="marks")
            )
            marks.append(exact.marks)
            # Survivors of two stages, kept apart (see Shuffle.group).
            occs = [exact[_NEXT], with_sha[1]]
        if icfg["perceptual"]:
            keyed = [o | f"DupHasPhash{i}" >> beam.Filter(lambda o: o[4] >= 0)
                     | f"DupPhashKey{i}" >> beam.Map(lambda o: ((scope(o), o[4]), o))
                     for i, o in enumerate(occs)]
            equal = (
                sh.group("DupPhash", *keyed)
                | "DupPhashMarks" >> beam.FlatMap(first_marks, PERCEPTUAL_FILTER).with_outputs(
                    _NEXT, main="marks")
            )
            marks.append(equal.marks)
            marks.append(
                sh.group("DupBand", Spread(equal[_NEXT], functools.partial(
                    band_keys, across_documents=across, max_distance=d)), min_values=2)
                | "DupBandMarks" >> beam.FlatMap(near_marks, d)
            )
        if not marks:
            return outcomes | "DupNone" >> beam.FlatMap(lambda _: ())
        return (
            sh.combine("DupFirstMark", tuple(marks), min)  # a few marks per image at most
            | "DupByDoc" >> beam.MapTuple(lambda at, m: (at[0], (at[1], m[0], m[2], m[3])))
        )

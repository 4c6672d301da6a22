"""Near-duplicate clustering over MinHash signatures: the pure reference of what the Beam dedup
stage does, used by the benchmark and the tests.

1. LSH: each signature is cut into ``bands`` bands of ``rows`` values; documents sharing any
   band exactly (``filters.minhash.band_keys_batch``) are candidates. With 40 x 5 a pair of
   Jaccard J becomes a candidate with probability 1 - (1 - J^5)^40: 0.9994 at J = 0.7, 0.72
   at 0.5 (verification sorts those out), 0.09 at 0.3.
2. Verification: a candidate pair is kept when its estimated Jaccard (share of equal signature
   values) is at least ``threshold``.
3. Connected components of the kept pairs; every document maps to the smallest doc id of its
   component, so the result never depends on input order.

Targets: copies of word 5-gram Jaccard >= 0.7 are merged (recall >= 0.99, a page with 3% of
its words deleted sits near 0.75) and pairs at J <= 0.5 are not (>= 0.99). With 200 values the
estimate's standard deviation is sqrt(J (1 - J) / 200): 0.032 at J = 0.7 and 0.035 at 0.5, so
a threshold of 0.6 sits 3.1 sd below the first (99.9% pass) and 2.8 sd above the second
(0.25% pass, and only for pairs right at 0.5). bench/dedup_bench.py draws the S-curve.
Shorter shingles were tried: 3-grams raise the similarity of lightly edited copies but also
of pairs near 0.5, and separate the two worse than 5-grams with more values.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from filters.minhash import band_keys_batch, estimate_jaccard

DEFAULT_NGRAM = 5
DEFAULT_BANDS = 40
DEFAULT_ROWS = 5
DEFAULT_THRESHOLD = 0.6


def verified(a_sig: np.ndarray, b_sig: np.ndarray, threshold: float = DEFAULT_THRESHOLD
             ) -> bool:
    """True when two signatures' estimated Jaccard similarity is at least ``threshold``."""
    return estimate_jaccard(a_sig, b_sig) >= threshold


def buckets(sigs: dict[str, np.ndarray], bands: int = DEFAULT_BANDS,
            rows: int = DEFAULT_ROWS) -> dict[bytes, list[str]]:
    """LSH buckets holding two or more documents: band key -> sorted doc ids."""
    ids = sorted(sigs)
    if not ids:
        return {}
    keys = band_keys_batch(np.stack([sigs[i] for i in ids]), bands, rows)
    out: dict[bytes, list[str]] = defaultdict(list)
    for doc_id, doc_keys in zip(ids, keys):
        for key in doc_keys:
            out[key].append(doc_id)
    return {k: v for k, v in out.items() if len(v) > 1}


class _Components:
    """Union-find whose root is always the smallest id of its set."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        root = x
        while self.parent.get(root, root) != root:
            root = self.parent[root]
        while x != root:  # path compression
            self.parent[x], x = root, self.parent.get(x, x)
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            lo, hi = min(ra, rb), max(ra, rb)
            self.parent[hi] = lo


def verified_pairs(sigs: dict[str, np.ndarray], bands: int = DEFAULT_BANDS,
                   rows: int = DEFAULT_ROWS, threshold: float = DEFAULT_THRESHOLD,
                   star: bool = False, heads: int | None = None) -> set[tuple[str, str]]:
    """Candidate pairs (a < b) that pass verification.

    By default every pair of a bucket is checked. ``heads=k`` checks each member only against
    the bucket's k smallest ids, as the Beam stage does to bound the work per member however
    large the bucket (``star=True`` is ``heads=1``); members then also connect through other
    buckets."""
    pairs: set[tuple[str, str]] = set()
    if star:
        heads = 1
    for members in buckets(sigs, bands, rows).values():
        mat = np.stack([sigs[m] for m in members])
        for i in range(len(members) - 1 if heads is None else min(heads, len(members) - 1)):
            agree = np.count_nonzero(mat[i + 1:] == mat[i], axis=1) / mat.shape[1]
            for j in np.flatnonzero(agree >= threshold):
                pairs.add((members[i], members[i + 1 + int(j)]))
    return pairs


def clusters(sigs: dict[str, np.ndarray], bands: int = DEFAULT_BANDS, rows: int = DEFAULT_ROWS,
             threshold: float = DEFAULT_THRESHOLD, star: bool = False,
             heads: int | None = None) -> dict[str, str]:
    """Every doc id -> the survivor of its near-duplicate cluster (its smallest doc id)."""
    comp = _Components()
    for a, b in verified_pairs(sigs, bands, rows, threshold, star, heads):
        comp.union(a, b)
    return {doc_id: comp.find(doc_id) for doc_id in sigs}

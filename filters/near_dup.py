"""Near-duplicate clustering over MinHash signatures: the pure reference of what the Beam dedup
stage does, used by the benchmark and the tests.

1. LSH: each signature is cut into ``bands`` bands of ``rows`` values; documents sharing any
   band exactly (``filters.minhash.band_keys_batch``) are candidates. With 14 x 8 a pair of
   Jaccard J becomes a candidate with probability 1 - (1 - J^8)^14: 0.92 at J = 0.8, 0.99 at
   0.85, 0.05 at 0.5.
2. Verification: a candidate pair is kept when its estimated Jaccard (share of equal signature
   values) is at least ``threshold``.
3. Connected components of the kept pairs; every document maps to the smallest doc id of its
   component, so the result never depends on input order.

Why ``DEFAULT_THRESHOLD`` is 0.7 while the duplicates we mean to remove are those of true
Jaccard >= 0.8 (OmniCorpus's threshold): with 112 values the estimate's standard deviation is
sqrt(J (1 - J) / 112), 0.038 at J = 0.8. Verifying at 0.8 would drop about half of the pairs
sitting at 0.8; at 0.7 (2.6 sd below) 99.5% of them pass, while a pair at J = 0.5 passes with
probability about 1e-5. LSH already gives up some recall near 0.8, so verification should not
cost more. Pairs between 0.5 and 0.8 are a grey zone either way.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from filters.minhash import band_keys_batch, estimate_jaccard

DEFAULT_BANDS = 14
DEFAULT_ROWS = 8
DEFAULT_THRESHOLD = 0.7


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
                   star: bool = False) -> set[tuple[str, str]]:
    """Candidate pairs (a < b) that pass verification.

    ``star=False`` checks every pair of a bucket. ``star=True`` checks only the bucket's
    smallest id against the others, as the Beam stage does to stay linear in bucket size;
    members then connect through the head or through other buckets."""
    pairs: set[tuple[str, str]] = set()
    for members in buckets(sigs, bands, rows).values():
        mat = np.stack([sigs[m] for m in members])
        heads = 1 if star else len(members) - 1
        for i in range(heads):
            agree = np.count_nonzero(mat[i + 1:] == mat[i], axis=1) / mat.shape[1]
            for j in np.flatnonzero(agree >= threshold):
                pairs.add((members[i], members[i + 1 + int(j)]))
    return pairs


def clusters(sigs: dict[str, np.ndarray], bands: int = DEFAULT_BANDS, rows: int = DEFAULT_ROWS,
             threshold: float = DEFAULT_THRESHOLD, star: bool = False) -> dict[str, str]:
    """Every doc id -> the survivor of its near-duplicate cluster (its smallest doc id)."""
    comp = _Components()
    for a, b in verified_pairs(sigs, bands, rows, threshold, star):
        comp.union(a, b)
    return {doc_id: comp.find(doc_id) for doc_id in sigs}

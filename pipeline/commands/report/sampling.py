"""Deterministic, bounded sampling: an item is in the sample when its seeded hash is among the
k smallest seen, so the sample depends on the seed and the items, never on the order they are
read in, and memory holds k items whatever the corpus size."""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Iterable
from typing import Any


def rank(seed: int, key: str) -> int:
    """A 64-bit seeded hash of ``key``: the sampling order."""
    digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8,
                             key=str(seed).encode()).digest()
    return int.from_bytes(digest, "big")


def in_seeded_order(seed: int, names: Iterable[str]) -> list[str]:
    """``names`` in the order of their seeded hash: which files a bounded read opens first."""
    return sorted(names, key=lambda n: (rank(seed, n), n))


class BottomK:
    """The k items with the smallest sort keys seen so far (ties broken by the key itself)."""

    def __init__(self, k: int) -> None:
        self.k = max(0, k)
        self._heap: list[tuple[Any, int, Any]] = []  # max-heap through negated keys
        self._n = 0

    def would_keep(self, sort_key: Any) -> bool:
        """Whether an item with ``sort_key`` would enter now (to skip reading its payload)."""
        if len(self._heap) < self.k:
            return self.k > 0
        return _Neg(sort_key) > self._heap[0][0]

    def worst(self) -> Any:
        """The largest sort key kept when full (what a newcomer must beat), else None."""
        return self._heap[0][0].key if len(self._heap) >= self.k > 0 else None

    def add(self, sort_key: Any, item: Any) -> None:
        if not self.would_keep(sort_key):
            return
        self._n += 1
        entry = (_Neg(sort_key), self._n, item)
        if len(self._heap) < self.k:
            heapq.heappush(self._heap, entry)
        else:
            heapq.heapreplace(self._heap, entry)

    def items(self) -> list[Any]:
        """The kept items, smallest sort key first."""
        return [item for _, _, item in sorted(self._heap, key=lambda e: e[0].key)]


class _Neg:
    """Reverses the order of any comparable key, so heapq's min-heap keeps the largest on top."""

    __slots__ = ("key",)

    def __init__(self, key: Any) -> None:
        self.key = key

    def __lt__(self, other: _Neg) -> bool:
        return other.key < self.key

    def __gt__(self, other: _Neg) -> bool:
        return self.key < other.key

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Neg) and self.key == other.key

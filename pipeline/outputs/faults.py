"""Deterministic crash points for the kill-and-rerun tests.

``M3W_FAULT`` names where the process dies with ``os._exit(137)`` (what SIGKILL looks like to
the parent), so a test can interrupt a build at a chosen step instead of after a guessed sleep:

- ``after_tmp_shard[:N]``: the N-th shard (default 1st) this process writes is complete under
  its temporary name and not yet published.
- ``mid_images:N``: the N-th element leaving the image stage in this process.

Unset (always, outside tests), every hook is a no-op costing one dict lookup.
"""

from __future__ import annotations

import os
import threading

ENV = "M3W_FAULT"
EXIT_CODE = 137

_lock = threading.Lock()
_seen: dict[str, int] = {}


def _armed(point: str) -> int | None:
    spec = os.environ.get(ENV, "")
    if not spec:
        return None
    name, _, n = spec.partition(":")
    if name != point:
        return None
    return int(n) if n else 1


def hit(point: str) -> None:
    """Count one pass through ``point``; exit the process on the armed pass."""
    target = _armed(point)
    if target is None:
        return
    with _lock:
        _seen[point] = _seen.get(point, 0) + 1
        if _seen[point] >= target:
            os._exit(EXIT_CODE)


def passthrough(element: object, point: str) -> object:
    """A Map body: count the element at ``point`` and return it unchanged."""
    hit(point)
    return element

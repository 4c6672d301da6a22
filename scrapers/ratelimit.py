"""Per-host politeness: a minimum gap between two requests to the same host.

Thread-safe: each caller reserves the next free slot for its host under a lock, then
sleeps outside it, so threads for one host queue up while other hosts proceed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

_PRUNE_AT = 4096  # hosts remembered before stale slots are dropped


class HostRateLimiter:
    """`wait(host)` returns once at least `interval` seconds separate this request's start
    from the previous one to the same host (in this process)."""

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.interval = max(0.0, float(interval))
        self._clock = clock
        self._sleep = sleep
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def reserve(self, host: str, deadline: float | None = None) -> float | None:
        """Book the next slot for `host`; return seconds to wait, or None (nothing booked)
        if the slot would start after `deadline` (a clock value)."""
        key = host.lower()
        with self._lock:
            now = self._clock()
            slot = max(now, self._next.get(key, now))
            if deadline is not None and slot > deadline:
                return None
            if self.interval > 0:
                self._next[key] = slot + self.interval
                if len(self._next) > _PRUNE_AT:
                    self._next = {h: t for h, t in self._next.items() if t > now}
            return slot - now

    def wait(self, host: str, deadline: float | None = None) -> bool:
        """Sleep until `host` may be contacted; False (no sleep) if that is past `deadline`."""
        delay = self.reserve(host, deadline)
        if delay is None:
            return False
        if delay > 0:
            self._sleep(delay)
        return True

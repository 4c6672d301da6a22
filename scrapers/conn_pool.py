"""Idle HTTP connections kept per host for the fetcher, so a host's images share connections.

Why: opening a connection per request costs a TCP handshake and, over HTTPS, a TLS handshake
(a few milliseconds of CPU on each side), and a host serving many images sees one new
connection per image. A connection is reused only for the same scheme, host, port and vetted
addresses (a re-resolved host that moved gets new connections), only after its response was
read to the end, and only while it has been idle less than ``max_idle_s``: servers close idle
keep-alive connections after 5 to 60 seconds, and a connection they closed is found out on
the next request (the fetcher then retries once on a new one).
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Hashable

IDLE_PER_HOST = 8  # idle connections kept per host (a fetch thread holds one while busy)
MAX_IDLE_S = 15.0


class ConnectionPool:
    """Thread-safe store of idle connections by key; a taken connection belongs to its taker
    until it is given back or closed."""

    def __init__(self, per_key: int = IDLE_PER_HOST, max_idle_s: float = MAX_IDLE_S) -> None:
        self.per_key, self.max_idle_s = per_key, max_idle_s
        self._idle: dict[Hashable, list[tuple[http.client.HTTPConnection, float]]] = {}
        self._lock = threading.Lock()

    def take(self, key: Hashable) -> http.client.HTTPConnection | None:
        """The most recently used idle connection for ``key`` still fresh enough, or None."""
        stale = []
        found = None
        now = time.monotonic()
        with self._lock:
            idle = self._idle.get(key, [])
            while idle:
                conn, since = idle.pop()
                if now - since < self.max_idle_s and conn.sock is not None:
                    found = conn
                    break
                stale.append(conn)
            if not idle:
                self._idle.pop(key, None)
        for conn in stale:
            conn.close()
        return found

    def give(self, key: Hashable, conn: http.client.HTTPConnection) -> None:
        """Keep ``conn`` (its response read to the end) for the next request to ``key``."""
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < self.per_key:
                idle.append((conn, time.monotonic()))
                return
        conn.close()

    def idle(self, key: Hashable) -> int:
        with self._lock:
            return len(self._idle.get(key, []))

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn, _ in conns:
                conn.close()

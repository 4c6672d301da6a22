"""robots.txt: fetched once per origin (scheme://host:port), cached, checked per URL.

Policy for robots.txt fetch outcomes (our choice, documented here):
  * 2xx       -> parse it and obey it for our user agent, as RFC 9309 reads it: the most
                 specific user-agent group applies (else `*`), `*` and `$` are patterns,
                 the longest matching rule wins and Allow wins a tie (Protego; the stdlib
                 parser takes the first match and treats `*` and `$` literally).
  * 4xx       -> no rules: allow everything (RFC 9309, "unavailable").
  * 5xx, timeouts, DNS or connection failures -> allow everything. RFC 9309 says to
    assume a full disallow on 5xx; we deliberately allow, because an image host whose
    robots.txt errors usually still serves its images, and one failed robots fetch must
    not cost a whole host. The per-host rate limit still applies.
  * a refused origin (private address, ...) -> allow here; the page fetch itself is
    refused by the address guard anyway.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

from protego import Protego

# robots URL -> (status or None when unreachable, body or None)
RobotsFetch = Callable[[str], tuple[int | None, bytes | None]]

MAX_ROBOTS_BYTES = 512 * 1024  # RFC 9309: parse at least 500 KiB


class RobotsPolicy:
    """The rules of one robots.txt; `None` rules allow everything."""

    def __init__(self, rules: Protego | None) -> None:
        self._rules = rules

    def can_fetch(self, user_agent: str, url: str) -> bool:
        if self._rules is None:
            return True
        return bool(self._rules.can_fetch(url, user_agent))


ALLOW_ALL = RobotsPolicy(None)


def parse_robots(body: bytes) -> RobotsPolicy:
    text = body[:MAX_ROBOTS_BYTES].decode("utf-8", errors="replace")
    try:
        return RobotsPolicy(Protego.parse(text))
    except Exception:  # an unparseable file has no rules we could obey
        return ALLOW_ALL


def policy_for(status: int | None, body: bytes | None) -> RobotsPolicy:
    if status is not None and 200 <= status < 300 and body:
        return parse_robots(body)
    return ALLOW_ALL  # 4xx, 5xx, unreachable, empty: see the module docstring


class RobotsCache:
    """Thread-safe cache of parsed robots.txt per origin; concurrent callers for one
    origin wait for a single fetch."""

    def __init__(self, fetch: RobotsFetch, user_agent: str, max_origins: int = 10000) -> None:
        self._fetch = fetch
        self.user_agent = user_agent
        self.max_origins = max_origins
        self._cache: OrderedDict[str, RobotsPolicy] = OrderedDict()
        self._pending: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def _get(self, origin: str) -> RobotsPolicy:
        while True:
            with self._lock:
                rp = self._cache.get(origin)
                if rp is not None:
                    self._cache.move_to_end(origin)
                    return rp
                event = self._pending.get(origin)
                if event is None:
                    event = self._pending[origin] = threading.Event()
                    owner = True
                else:
                    owner = False
            if not owner:
                event.wait()
                continue  # the owner filled the cache (or failed: then we retry)
            try:
                try:
                    status, body = self._fetch(origin + "/robots.txt")
                except Exception:  # an unreachable robots.txt allows (see docstring)
                    status, body = None, None
                rp = policy_for(status, body)
                with self._lock:
                    self._cache[origin] = rp
                    while len(self._cache) > self.max_origins:
                        self._cache.popitem(last=False)
                return rp
            finally:
                with self._lock:
                    self._pending.pop(origin, None)
                event.set()

    def allowed(self, origin: str, url: str) -> bool:
        """May our user agent fetch `url` (which lives on `origin`)?"""
        return self._get(origin).can_fetch(self.user_agent, url)

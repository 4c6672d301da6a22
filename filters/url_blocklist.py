"""Page URL blocklists: blocked domains (with all their subdomains) and URL substrings.

OBELICS and most web corpora remove adult and opted-out sites this way. Lists can hold
millions of domains, so a lookup is one set probe per suffix of the host ("a.b.example.com",
"b.example.com", "example.com", "com"): a handful of probes whatever the list size.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from filters.base import Drop, Filter, register
from filters.text_stats import TextItem


def normalize_domain(entry: str) -> str:
    """A list entry as a bare lower-case host: scheme, path, port, "www." and dots trimmed,
    so "https://WWW.Example.com/x" and "example.com." both give "example.com"."""
    d = entry.strip().lower()
    if "://" in d:
        d = urlsplit(d).hostname or ""
    d = d.split("/", 1)[0]
    if d.count(":") == 1:  # host:port (an IPv6 literal has several colons)
        d = d.split(":", 1)[0]
    d = d.strip(".")
    return d[4:] if d.startswith("www.") else d


@lru_cache(maxsize=16)
def load_domains(path: str) -> frozenset[str]:
    """Domains of a list file, one per line; '#' starts a comment. Hosts-file lines
    ("0.0.0.0 example.com") give their last field. Cached per path and process."""
    out = set()
    with Path(path).open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            fields = line.split("#", 1)[0].split()
            if fields:
                d = normalize_domain(fields[-1])
                if d:
                    out.add(d)
    return frozenset(out)


def host_suffixes(host: str) -> Iterable[str]:
    """"a.b.c" -> "a.b.c", "b.c", "c"."""
    parts = host.split(".")
    return (".".join(parts[i:]) for i in range(len(parts)))


@register
class UrlBlocklist(Filter):
    """Drops a document whose URL's host is, or is a subdomain of, a listed domain
    (``blocked_domain``, detail = the listed domain), or whose URL contains one of
    ``url_substrings``, compared case-insensitively (``blocked_url``, detail = the substring).
    Measures: ``blocked_domain`` and ``blocked_url`` (1.0 or 0.0) and ``match``."""

    key, name, level = "url_blocklist", "url_blocklist/v1", "document"
    reasons = ("blocked_domain", "blocked_url")

    def __init__(self, domains: list[str] | tuple[str, ...] = (),
                 domain_files: list[str] | tuple[str, ...] = (),
                 url_substrings: list[str] | tuple[str, ...] = ()) -> None:
        if isinstance(domains, str) or isinstance(domain_files, str) \
                or isinstance(url_substrings, str):
            raise ValueError("domains, domain_files and url_substrings must be lists")
        blocked = {d for d in map(normalize_domain, domains) if d}
        for path in domain_files:
            blocked |= load_domains(str(path))
        self.domains = frozenset(blocked)
        self.substrings = tuple(s.lower() for s in url_substrings if s)

    def blocked_domain(self, url: str) -> str:
        """The listed domain covering ``url``'s host, or ""."""
        if not self.domains:
            return ""
        try:
            host = urlsplit(url).hostname or ""
        except ValueError:  # a malformed URL (bad IPv6 literal, port) has no usable host
            return ""
        host = host.strip(".")
        for suffix in host_suffixes(host):
            if suffix in self.domains:
                return suffix
        return ""

    def measure(self, item: TextItem) -> dict[str, Any]:
        domain = self.blocked_domain(item.url)
        lowered = item.url.lower()
        sub = next((s for s in self.substrings if s in lowered), "")
        return {"blocked_domain": float(bool(domain)), "blocked_url": float(bool(sub)),
                "match": domain or sub}

    def judge(self, measures: dict[str, Any]) -> Drop | None:
        if measures["blocked_domain"]:
            return self._drop("blocked_domain", 1.0, measures["match"])
        if measures["blocked_url"]:
            return self._drop("blocked_url", 1.0, measures["match"])
        return None

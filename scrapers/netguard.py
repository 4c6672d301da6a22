"""Decide whether a URL may be fetched, and pin the addresses it may be fetched from.

A URL is vetted once: the host is resolved with getaddrinfo (under a time limit) and EVERY
address must be globally routable (or explicitly allowed). The caller then connects to one
of the vetted addresses itself, so a second DNS lookup can never swap in a private address
(DNS rebinding).
"""

from __future__ import annotations

import ipaddress
import re
import socket
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# (host, port) -> list of IP address strings; injectable so tests never touch real DNS.
Resolver = Callable[[str, int], list[str]]

SCHEMES = {"http": 80, "https": 443}
MAX_URL_LENGTH = 4096

# Addresses that embed an IPv4 address which is what actually gets reached.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052 well-known prefix
_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")  # RFC 2765 IPv4-translated (SIIT)
# Not global, though the ipaddress module of some Python versions says they are: deprecated
# site-local, NAT64 local-use (its IPv4 mapping is the operator's choice), Teredo (the client
# address is obfuscated and reached through a relay), SRv6 SIDs and the 3fff::/20
# documentation block.
_NOT_GLOBAL = tuple(ipaddress.ip_network(n) for n in (
    "fec0::/10", "64:ff9b:1::/48", "2001::/32", "5f00::/16", "3fff::/20"))
DNS_TIMEOUT = 5.0  # seconds; getaddrinfo itself has no limit we can set
# Anything that looks like an IPv4 literal in some base (decimal, octal, hex, short forms).
_NUMERIC_HOST = re.compile(r"^[0-9a-fx.]+$", re.I)
_HOST_CHARS = re.compile(r"^[a-z0-9._-]+$", re.I)


class Refused(Exception):
    """The URL may not be fetched; `reason` is one of the fetcher's reason codes."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Target:
    """A vetted URL: connect only to `addresses`, send `host` in Host/SNI."""

    url: str
    scheme: str
    host: str  # ASCII (IDNA) host name or IP literal, no brackets
    port: int
    path: str  # request target: path plus query, never empty
    addresses: tuple[str, ...]

    @property
    def origin(self) -> str:
        """scheme://host[:port] — the robots.txt and cache key."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = SCHEMES[self.scheme] == self.port
        return f"{self.scheme}://{host}" + ("" if default else f":{self.port}")


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    out: list[str] = []
    for family, _type, _proto, _name, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6):
            addr = str(sockaddr[0])
            if addr not in out:
                out.append(addr)
    return out


def resolve_with_timeout(resolver: Resolver, host: str, port: int, timeout: float | None
                         ) -> list[str]:
    """`resolver(host, port)` bounded by `timeout` seconds (None or 0: unbounded).

    The lookup runs in a daemon thread: a stuck getaddrinfo cannot be cancelled, but the
    caller stops waiting for it and the thread ends with the resolver's own retries."""
    if not timeout:
        return resolver(host, port)
    box: dict[str, object] = {}
    done = threading.Event()

    def run() -> None:
        try:
            box["value"] = resolver(host, port)
        except BaseException as exc:  # handed to the caller
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name="m3w-dns", daemon=True).start()
    if not done.wait(timeout):
        raise TimeoutError(f"DNS lookup took over {timeout}s")
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64 or ip in _TRANSLATED:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    # Deprecated IPv4-compatible form ::a.b.c.d (but not :: or ::1 themselves).
    if int(ip) >> 32 == 0 and int(ip) > 1:
        return ipaddress.IPv4Address(int(ip))
    return None


def is_public(ip: IPAddress) -> bool:
    """True when `ip` is a globally routable unicast address (and so is any IPv4 it embeds)."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id or ip.is_site_local or any(ip in net for net in _NOT_GLOBAL):
            return False
        inner = _embedded_v4(ip)
        if inner is not None and not is_public(inner):
            return False
    bad = (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast
           or ip.is_reserved or ip.is_unspecified or not ip.is_global)
    return not bad


def parse_networks(cidrs: Iterable[str]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network,
                                                   ...]:
    return tuple(ipaddress.ip_network(c.strip(), strict=False) for c in cidrs)


def _numeric_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """Decode IPv4 written in an odd base or short form (`2130706433`, `0x7f.1`, `0177.0.0.1`)."""
    if not _NUMERIC_HOST.match(host):
        return None
    try:
        packed = socket.inet_aton(host)
    except (OSError, ValueError):
        return None
    return ipaddress.IPv4Address(packed)


def _ascii_host(host: str) -> str:
    host = host.rstrip(".")
    if not host:
        raise Refused("bad_url", "empty host")
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise Refused("bad_url", f"bad host name: {exc}") from None
    if len(host) > 253 or not _HOST_CHARS.match(host):
        raise Refused("bad_url", f"bad host name {host[:80]!r}")
    return host.lower()


def request_path(path: str, query: str) -> str:
    # Keep existing %-escapes; escape spaces, controls and non-ASCII (as UTF-8).
    target = quote(path or "/", safe="/%:@!$&'()*+,;=-._~")
    if query:
        target += "?" + quote(query, safe="/%:@!$&'()*+,;=-._~?")
    return target


class NetGuard:
    """Vets URLs. `allow_private` turns the address check off entirely; `allowed_networks`
    (CIDRs) lets through just those ranges, e.g. 127.0.0.0/8 for a local demo server."""

    def __init__(self, allow_private: bool = False, allowed_networks: Sequence[str] = (),
                 resolver: Resolver | None = None, dns_timeout: float | None = DNS_TIMEOUT
                 ) -> None:
        self.allow_private = allow_private
        self.allowed = parse_networks(allowed_networks)
        self.resolver = resolver or system_resolver
        self.dns_timeout = dns_timeout

    def address_allowed(self, ip: IPAddress) -> bool:
        if self.allow_private or is_public(ip):
            return True
        plain = ip
        if isinstance(ip, ipaddress.IPv6Address):
            plain = ip.ipv4_mapped or ipaddress.IPv6Address(int(ip))  # drops any scope id
        return any(plain.version == net.version and plain in net for net in self.allowed)

    def _check_ip(self, ip: IPAddress, shown: str) -> None:
        if not self.address_allowed(ip):
            raise Refused("private_address", f"{shown} -> {ip} is not a public address")

    def vet(self, url: str) -> Target:
        """Parse, resolve and check `url`; raise Refused, or return the pinned Target."""
        if not isinstance(url, str) or not url.strip():
            raise Refused("bad_url", "empty URL")
        url = url.strip()
        if len(url) > MAX_URL_LENGTH:
            raise Refused("bad_url", f"URL longer than {MAX_URL_LENGTH} characters")
        if any(ord(c) < 0x20 or c == "\x7f" for c in url):
            raise Refused("bad_url", "control character in URL")
        try:
            parts = urlsplit(url)
            port = parts.port
            raw_host = parts.hostname or ""
        except ValueError as exc:
            raise Refused("bad_url", str(exc)) from None
        scheme = parts.scheme.lower()
        if scheme not in SCHEMES:
            if not scheme:
                raise Refused("bad_url", "no scheme")
            raise Refused("unsupported_scheme", scheme[:20])
        if not raw_host:
            raise Refused("bad_url", "no host")
        if port is None:
            port = SCHEMES[scheme]
        if port == 0:
            raise Refused("bad_url", "port 0")
        path = request_path(parts.path, parts.query)

        literal: IPAddress | None
        try:
            literal = ipaddress.ip_address(raw_host)
        except ValueError:
            literal = None
        if literal is not None:
            if isinstance(literal, ipaddress.IPv4Address) and str(literal) != raw_host:
                raise Refused("bad_url", f"non-canonical IPv4 {raw_host!r}")
            self._check_ip(literal, raw_host)
            host = str(literal)
            return Target(url, scheme, host, port, path, (host,))

        tricky = _numeric_ipv4(raw_host.rstrip("."))
        if tricky is not None:
            # Browsers and libc read these as IPv4; refuse them outright (private first).
            self._check_ip(tricky, raw_host)
            raise Refused("bad_url", f"non-canonical IPv4 {raw_host!r} ({tricky})")

        host = _ascii_host(raw_host)
        try:
            addresses = resolve_with_timeout(self.resolver, host, port, self.dns_timeout)
        except (OSError, UnicodeError, ValueError) as exc:  # TimeoutError is an OSError
            raise Refused("dns_error", f"{host}: {exc}") from None
        if not addresses:
            raise Refused("dns_error", f"{host}: no addresses")
        vetted: list[str] = []
        for addr in addresses:
            try:
                ip = ipaddress.ip_address(addr)
            except ValueError:
                raise Refused("dns_error", f"{host}: bad address {addr!r}") from None
            self._check_ip(ip, host)  # one bad address refuses the whole host
            vetted.append(str(ip))
        return Target(url, scheme, host, port, path, tuple(vetted))

    def check(self, url: str) -> str | None:
        """Reason code if `url` would be refused, else None."""
        try:
            self.vet(url)
        except Refused as exc:
            return exc.reason
        return None

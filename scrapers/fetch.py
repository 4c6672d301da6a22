"""Polite, address-safe HTTP(S) GET for images and pages.

Every hop (the first URL and each redirect) is vetted by NetGuard before any connection,
and the connection goes to a vetted IP address (Host header and TLS SNI carry the name),
so DNS rebinding cannot redirect us to a private address. Bodies are streamed under a
byte cap, also after gzip/deflate decoding. A host's requests share keep-alive connections
(``scrapers.conn_pool``). Fetcher is thread-safe; `fetch` never raises.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
import zlib
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import urldefrag, urljoin

from scrapers.conn_pool import ConnectionPool
from scrapers.netguard import NetGuard, Refused, Resolver, Target
from scrapers.ratelimit import HostRateLimiter
from scrapers.robots import MAX_ROBOTS_BYTES, RobotsCache

FETCH_REASONS = (
    "bad_url", "unsupported_scheme", "private_address", "dns_error", "robots_disallowed",
    "http_status", "redirect_loop", "too_many_redirects", "timeout", "too_large",
    "connection_error", "empty_body",
)

REDIRECTS = {301, 302, 303, 307, 308}
_CHUNK = 64 * 1024


@dataclass
class FetchConfig:
    timeout: float = 10.0  # seconds per socket read
    connect_timeout: float = 5.0  # TCP connect (and TLS handshake)
    dns_timeout: float = 5.0  # one host name lookup
    deadline: float = 30.0  # whole fetch of one URL: retries, redirects and waits included
    retries: int = 2  # extra attempts on connection errors, timeouts, 429 and 5xx
    backoff: float = 0.5  # first retry delay; doubles each attempt
    backoff_max: float = 8.0  # longest single retry delay (also caps Retry-After)
    max_bytes: int = 20_000_000  # body cap, raw and after decoding
    max_redirects: int = 5
    per_host_interval: float = 1.0  # minimum gap between two requests to one host
    user_agent: str = "m3w/0.1"
    respect_robots: bool = True
    allow_private: bool = False  # True turns the address guard off (tests, trusted nets)
    allowed_networks: list[str] = field(default_factory=list)  # CIDRs let through anyway
    ca_file: str | None = None  # extra CA bundle for HTTPS (e.g. a test certificate)


@dataclass
class FetchResult:
    url: str
    final_url: str
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    error: str | None = None  # one of FETCH_REASONS, None on success
    detail: str = ""
    elapsed: float = 0.0
    date: str = ""  # when it was fetched, as a WARC-Date (see crawl_date)

    @property
    def ok(self) -> bool:
        return self.error is None


class _Failure(Exception):
    def __init__(self, reason: str, detail: str, retryable: bool = False,
                 status: int | None = None) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail, self.retryable, self.status = reason, detail, retryable, status
        self.headers: dict[str, str] = {}


@dataclass
class _Response:
    status: int
    headers: dict[str, str]
    body: bytes | None


def open_socket(addresses: Iterable[str], port: int, timeout: float) -> socket.socket:
    """Connect to the first reachable vetted address; never resolves a name."""
    last: OSError | None = None
    for addr in addresses:
        family = socket.AF_INET6 if ":" in addr else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect((addr, port))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock
        except OSError as exc:
            sock.close()
            last = exc
    raise last or OSError("no address to connect to")


class _PinnedHTTP(http.client.HTTPConnection):
    """HTTPConnection whose Host header names `target.host` but which dials a vetted IP."""

    def __init__(self, target: Target, connect_timeout: float, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._addresses = target.addresses
        self._connect_timeout = connect_timeout

    def connect(self) -> None:
        self.sock = open_socket(self._addresses, self.port, self._connect_timeout)
        self.sock.settimeout(self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, target: Target, connect_timeout: float, timeout: float,
                 context: ssl.SSLContext) -> None:
        super().__init__(target.host, target.port, timeout=timeout, context=context)
        self._addresses = target.addresses
        self._connect_timeout = connect_timeout

    def connect(self) -> None:
        raw = open_socket(self._addresses, self.port, self._connect_timeout)
        try:  # certificate and SNI are checked against the real host name
            self.sock = self._context.wrap_socket(raw, server_hostname=self.host)
        except BaseException:
            raw.close()
            raise
        self.sock.settimeout(self.timeout)


class _Decoder:
    """Content-Encoding decoder whose output never exceeds `cap` bytes (gzip-bomb guard)."""

    def __init__(self, encoding: str, cap: int) -> None:
        self.kind = encoding.strip().lower()
        self.cap = cap
        self.size = 0
        self._parts: list[bytes] = []
        self._raw_fallback = self.kind == "deflate"  # some servers send raw deflate
        self._d = self._new() if self.kind in ("gzip", "x-gzip", "deflate") else None

    def _new(self, wbits: int = 47) -> zlib._Decompress:  # 47: zlib or gzip header
        return zlib.decompressobj(wbits)

    def _add(self, out: bytes) -> None:
        self.size += len(out)
        if self.size > self.cap:
            raise _Failure("too_large", f"decoded body over {self.cap} bytes")
        self._parts.append(out)

    def feed(self, data: bytes) -> None:
        if self._d is None:
            self._add(data)
            return
        while data:
            try:
                out = self._d.decompress(data, self.cap - self.size + 1)
            except zlib.error as exc:
                if self._raw_fallback and self.size == 0:
                    self._raw_fallback = False
                    self._d = self._new(-15)
                    continue
                raise _Failure("connection_error", f"bad {self.kind} body: {exc}") from None
            self._raw_fallback = False
            self._add(out)  # a full-length output means more than the cap: raises
            data = b""
            if self._d.eof and self._d.unused_data.startswith(b"\x1f\x8b"):
                data, self._d = self._d.unused_data, self._new()  # next gzip member

    def result(self) -> bytes:
        if self._d is not None and not self._d.eof:
            self._add(self._d.flush())
        return b"".join(self._parts)


def _classify(exc: Exception) -> _Failure | None:
    """Transport exception -> failure with a reason code; None for anything else (a bug)."""
    if isinstance(exc, _Failure):
        return exc
    if isinstance(exc, TimeoutError):
        return _Failure("timeout", f"{type(exc).__name__}: {exc}", retryable=True)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return _Failure("connection_error", f"TLS: {exc}")
    if isinstance(exc, (OSError, http.client.HTTPException, ValueError)):
        return _Failure("connection_error", f"{type(exc).__name__}: {exc}", retryable=True)
    return None


def _headers(resp: http.client.HTTPResponse) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in resp.getheaders():
        key = name.lower()
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


MAX_CLOCK_SKEW = 86400.0  # seconds a server's Date may differ from ours and still be used


def crawl_date(headers: dict[str, str], now: float | None = None) -> str:
    """When a response was fetched, as a WARC-Date (``2024-03-01T12:00:00Z``): the server's
    ``Date`` header when it parses and lies within a day of our clock (the origin's own view
    of the moment, as archives record it), else our clock."""
    now = time.time() if now is None else now
    when = now
    value = (headers or {}).get("date", "").strip()
    if value:
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            parsed = None
        if parsed is not None:
            if parsed.tzinfo is None:  # HTTP dates are GMT
                parsed = parsed.replace(tzinfo=timezone.utc)
            stamp = parsed.timestamp()
            if abs(stamp - now) <= MAX_CLOCK_SKEW:
                when = stamp
    return datetime.fromtimestamp(int(when), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _retry_after(headers: dict[str, str]) -> float | None:
    try:
        return max(0.0, float(headers.get("retry-after", "").strip()))
    except ValueError:
        return None  # HTTP-date form: use our own backoff


class Fetcher:
    """Thread-safe polite fetcher. One instance per process/worker shares its rate limiter
    and robots cache across threads."""

    def __init__(self, config: FetchConfig | None = None, resolver: Resolver | None = None
                 ) -> None:
        self.config = config or FetchConfig()
        c = self.config
        self.guard = NetGuard(c.allow_private, c.allowed_networks, resolver, c.dns_timeout)
        self.limiter = HostRateLimiter(c.per_host_interval)
        self.robots = RobotsCache(self._fetch_robots, c.user_agent)
        self._ssl = ssl.create_default_context(cafile=c.ca_file)
        self.pool = ConnectionPool()

    def close(self) -> None:
        """Close the idle connections (the fetcher stays usable)."""
        self.pool.close()

    # -- one HTTP exchange -------------------------------------------------------------
    def _exchange(self, target: Target, deadline: float, cap: int, truncate: bool = False
                  ) -> _Response:
        c = self.config
        if not self.limiter.wait(target.host, deadline):
            raise _Failure("timeout", "per-host wait would pass the deadline")
        left = deadline - time.monotonic()
        if left <= 0:
            raise _Failure("timeout", "deadline passed")
        read_timeout = min(c.timeout, left)
        key = (target.scheme, target.host, target.port, target.addresses)
        conn = self.pool.take(key)
        status: int | None = None
        headers: dict[str, str] = {}
        keep = False
        try:
            if conn is not None:
                try:
                    conn.timeout = read_timeout
                    conn.sock.settimeout(read_timeout)
                    sock, resp = self._request(conn, target)
                except (ConnectionError, http.client.BadStatusLine, ssl.SSLError):
                    conn.close()  # the server closed it while it was idle: one new try
                    conn = None
            if conn is None:
                conn = self._connect(target, min(c.connect_timeout, left), read_timeout)
                sock, resp = self._request(conn, target)
            status, headers = resp.status, _headers(resp)
            if not 200 <= resp.status < 300:
                return _Response(resp.status, headers, None)  # body not needed
            body = self._read_body(sock, resp, headers, deadline, cap, truncate)
            # Reusable when the body was read to its end (a chunked body closes the response;
            # a counted one leaves nothing to read) and neither side asked to close.
            done = resp.isclosed() or resp.length == 0
            keep = done and not resp.will_close and conn.sock is not None
            if keep:
                resp.close()  # frees the connection for its next request; the socket stays
            return _Response(resp.status, headers, body)
        except Exception as exc:
            failure = _classify(exc)
            if failure is None:
                raise
            if status is not None:  # keep what we learnt before the body failed
                failure.status, failure.headers = status, headers
            raise failure from None
        finally:
            if conn is not None:
                if keep:
                    self.pool.give(key, conn)
                else:
                    conn.close()

    def _connect(self, target: Target, connect_timeout: float, read_timeout: float
                 ) -> http.client.HTTPConnection:
        if target.scheme == "https":
            return _PinnedHTTPS(target, connect_timeout, read_timeout, self._ssl)
        return _PinnedHTTP(target, connect_timeout, read_timeout)

    def _request(self, conn: http.client.HTTPConnection, target: Target
                 ) -> tuple[socket.socket | None, http.client.HTTPResponse]:
        """Send the GET on ``conn``; (its socket, the response with its headers read)."""
        c = self.config
        conn.putrequest("GET", target.path, skip_accept_encoding=True)
        conn.putheader("User-Agent", c.user_agent)
        conn.putheader("Accept", "*/*")
        conn.putheader("Accept-Encoding", "gzip, deflate")
        conn.endheaders()
        sock = conn.sock  # getresponse() drops conn.sock when the server closes
        return sock, conn.getresponse()

    def _read_body(self, sock: socket.socket | None, resp: http.client.HTTPResponse,
                   headers: dict[str, str], deadline: float, cap: int, truncate: bool
                   ) -> bytes:
        declared = headers.get("content-length", "").strip()
        if declared.isdigit() and int(declared) > cap and not truncate:
            raise _Failure("too_large", f"content-length {declared} over {cap}")
        decoder = _Decoder(headers.get("content-encoding", ""), cap)
        raw = 0
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise _Failure("timeout", f"deadline passed after {raw} bytes", retryable=False)
            if sock is not None:  # no single read may outlast the deadline
                sock.settimeout(min(self.config.timeout, left))
            chunk = resp.read1(_CHUNK)
            if not chunk:
                break
            raw += len(chunk)
            if raw > cap:
                if truncate:
                    break
                raise _Failure("too_large", f"body over {cap} bytes")
            try:
                decoder.feed(chunk)
            except _Failure as exc:
                if truncate and exc.reason == "too_large":
                    break
                raise
        return decoder.result()

    def _exchange_retrying(self, target: Target, deadline: float, cap: int, retries: int,
                           truncate: bool = False) -> _Response:
        c = self.config
        attempt = 0
        while True:
            failure: _Failure | None = None
            resp: _Response | None = None
            try:
                resp = self._exchange(target, deadline, cap, truncate)
            except _Failure as exc:
                if not exc.retryable:
                    raise
                failure = exc
            hint = None
            if resp is not None:
                if resp.status != 429 and not 500 <= resp.status < 600:
                    return resp
                hint = _retry_after(resp.headers)
            delay = min(c.backoff_max, c.backoff * 2 ** attempt)
            if hint is not None:
                delay = max(delay, hint)  # a Retry-After over backoff_max ends the retries
            give_up = (attempt >= retries or delay > c.backoff_max
                       or time.monotonic() + delay >= deadline)
            if give_up:
                if failure is not None:
                    raise failure
                assert resp is not None
                return resp
            time.sleep(delay)
            attempt += 1

    # -- robots.txt ----------------------------------------------------------------------
    def _fetch_robots(self, url: str) -> tuple[int | None, bytes | None]:
        deadline = time.monotonic() + self.config.deadline
        try:
            resp = self._follow(url, deadline, MAX_ROBOTS_BYTES, retries=0, robots=False,
                                truncate=True, max_redirects=5)
        except (_Failure, Refused):
            return None, None
        return resp.status, resp.body

    # -- redirects -----------------------------------------------------------------------
    def _follow(self, url: str, deadline: float, cap: int, retries: int, robots: bool,
                truncate: bool = False, max_redirects: int | None = None,
                trail: list[str] | None = None) -> _Response:
        hops = self.config.max_redirects if max_redirects is None else max_redirects
        current = urldefrag(url.strip())[0]
        seen = {current}
        for hop in range(hops + 1):
            if trail is not None:
                trail.append(current)
            target = self.guard.vet(current)  # before any connection, on every hop
            if robots and not self.robots.allowed(target.origin, current):
                raise _Failure("robots_disallowed", f"robots.txt of {target.origin}")
            resp = self._exchange_retrying(target, deadline, cap, retries, truncate)
            location = resp.headers.get("location", "").strip()
            if resp.status not in REDIRECTS or not location:
                return resp
            try:
                nxt = urldefrag(urljoin(current, location))[0]
            except ValueError as exc:
                raise _Failure("bad_url", f"redirect to {location[:200]!r}: {exc}") from None
            if nxt in seen:
                raise _Failure("redirect_loop", f"{current} -> {nxt}", status=resp.status)
            if hop == hops:
                raise _Failure("too_many_redirects", f"more than {hops}", status=resp.status)
            seen.add(nxt)
            current = nxt
        raise AssertionError("unreachable")

    # -- public API ----------------------------------------------------------------------
    def fetch(self, url: str) -> FetchResult:
        """GET `url`. Never raises; failures come back with `error` set to a reason code."""
        start = time.monotonic()
        trail: list[str] = []
        result = FetchResult(url=url, final_url=url)
        if not isinstance(url, str):
            result.error, result.detail = "bad_url", f"not a string: {type(url).__name__}"
            return result
        try:
            resp = self._follow(url, start + self.config.deadline, self.config.max_bytes,
                                self.config.retries, self.config.respect_robots, trail=trail)
            result.status, result.headers = resp.status, resp.headers
            if not 200 <= resp.status < 300:
                result.error, result.detail = "http_status", f"HTTP {resp.status}"
            elif not resp.body:
                result.error, result.detail = "empty_body", "no bytes in the body"
            else:
                result.body = resp.body
        except Refused as exc:
            result.error, result.detail = exc.reason, exc.detail
        except _Failure as exc:
            result.error, result.detail, result.status = exc.reason, exc.detail, exc.status
            result.headers = exc.headers
        except Exception as exc:  # a bug or an odd server must not stop a whole batch
            result.error, result.detail = "connection_error", f"{type(exc).__name__}: {exc}"
        if trail:
            result.final_url = trail[-1]
        result.elapsed = time.monotonic() - start
        result.date = crawl_date(result.headers)
        return result

    def fetch_many(self, urls: Iterable[str], threads: int = 16) -> Iterator[FetchResult]:
        """Fetch concurrently; results come back in the order of `urls`. Reads `urls`
        lazily, keeping at most 2 * threads fetches in flight."""
        pool = ThreadPoolExecutor(max(1, threads), thread_name_prefix="fetch")
        window: deque[Future[FetchResult]] = deque()
        try:
            for url in urls:
                window.append(pool.submit(self.fetch, url))
                if len(window) >= 2 * max(1, threads):
                    yield window.popleft().result()
            while window:
                yield window.popleft().result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

"""Fetcher against real HTTP servers on 127.0.0.1 (tests.localserver)."""

from __future__ import annotations

import gzip
import shutil
import socket
import ssl
import subprocess
import threading
import time
import zlib

import pytest

import scrapers.fetch as fetch_mod
from scrapers.fetch import FETCH_REASONS, FetchConfig, Fetcher
from scrapers.ratelimit import HostRateLimiter
from scrapers.robots import RobotsCache
from tests.localserver import (
    LocalServer,
    Response,
    gzip_response,
    redirect,
    robots_txt,
    sequence,
    slow,
)

LOOPBACK = ["127.0.0.0/8"]
JPEG = b"\xff\xd8\xff\xe0" + b"pixels" * 100


def cfg(**kw) -> FetchConfig:
    base = dict(timeout=2.0, connect_timeout=1.0, deadline=5.0, retries=0, backoff=0.05,
                per_host_interval=0.0, respect_robots=False, allowed_networks=list(LOOPBACK),
                user_agent="m3w-test/1.0")
    base.update(kw)
    return FetchConfig(**base)


@pytest.fixture
def connections(monkeypatch):
    """Every address the fetcher dials, in order."""
    seen: list[tuple[str, int]] = []
    real = fetch_mod.open_socket

    def spy(addresses, port, timeout):
        addresses = list(addresses)
        seen.extend((a, port) for a in addresses)
        return real(addresses, port, timeout)

    monkeypatch.setattr(fetch_mod, "open_socket", spy)
    return seen


def test_ok() -> None:
    with LocalServer({"/a.jpg": (200, {"Content-Type": "image/jpeg", "X-Thing": "1"}, JPEG)}
                     ) as srv:
        res = Fetcher(cfg()).fetch(srv.url("/a.jpg"))
        req = srv.requests[0]
    assert res.ok and res.error is None and res.status == 200 and res.body == JPEG
    assert res.headers["content-type"] == "image/jpeg" and res.headers["x-thing"] == "1"
    assert res.final_url == res.url == srv.url("/a.jpg") and res.elapsed > 0
    assert req.headers["user-agent"] == "m3w-test/1.0"
    assert req.headers["host"] == f"127.0.0.1:{srv.port}"


def test_404_is_http_status() -> None:
    with LocalServer() as srv:
        res = Fetcher(cfg()).fetch(srv.url("/missing"))
    assert res.error == "http_status" and res.status == 404 and res.body is None


def test_redirect_chain() -> None:
    routes = {"/a": redirect("/b", 301), "/b": redirect("c?x=1", 307),
              "/c": (200, {}, JPEG)}
    with LocalServer(routes) as srv:
        res = Fetcher(cfg()).fetch(srv.url("/a"))
    assert res.ok and res.body == JPEG and res.final_url == srv.url("/c?x=1")


def test_redirect_loop() -> None:
    with LocalServer({"/x": redirect("/y"), "/y": redirect("/x#frag")}) as srv:
        res = Fetcher(cfg()).fetch(srv.url("/x"))
        assert srv.hits() == 2
    assert res.error == "redirect_loop"


def test_too_many_redirects() -> None:
    routes = {f"/r{i}": redirect(f"/r{i + 1}") for i in range(10)}
    with LocalServer(routes) as srv:
        res = Fetcher(cfg(max_redirects=3)).fetch(srv.url("/r0"))
        assert srv.hits() == 4
    assert res.error == "too_many_redirects"


def test_slow_headers_time_out() -> None:
    with LocalServer({"/slow": Response(200, {}, JPEG, delay=3.0)}) as srv:
        t0 = time.monotonic()
        res = Fetcher(cfg(timeout=0.5)).fetch(srv.url("/slow"))
        took = time.monotonic() - t0
    assert res.error == "timeout" and took < 1.5


def test_dripping_body_hits_deadline() -> None:
    # each read is well within the read timeout, but the deadline cuts the body off
    with LocalServer({"/drip": slow(b"x" * 400, chunk_size=20, chunk_delay=1.5)}) as srv:
        t0 = time.monotonic()
        res = Fetcher(cfg(timeout=3.0, deadline=0.5)).fetch(srv.url("/drip"))
        took = time.monotonic() - t0
    assert res.error == "timeout" and res.status == 200 and 0.45 < took < 1.2, took


def test_body_over_cap() -> None:
    streamed = Response(200, {}, iter([b"y" * 3000] * 5), content_length=False)
    with LocalServer({"/big": (200, {}, b"x" * 10_000), "/stream": streamed}) as srv:
        f = Fetcher(cfg(max_bytes=5000))
        assert f.fetch(srv.url("/big")).error == "too_large"
        assert f.fetch(srv.url("/stream")).error == "too_large"
        assert f.fetch(srv.url("/big")).status == 200


def test_gzip_bomb_is_too_large() -> None:
    bomb = gzip_response(b"\0" * 30_000_000)
    assert len(bytes(bomb.body)) < 100_000  # type: ignore[arg-type]
    with LocalServer({"/bomb": bomb}) as srv:
        res = Fetcher(cfg(max_bytes=1_000_000)).fetch(srv.url("/bomb"))
    assert res.error == "too_large"


def test_content_encodings_decoded() -> None:
    data = JPEG * 50
    routes = {
        "/gz": gzip_response(data),
        "/two": Response(200, {"Content-Encoding": "gzip"},
                         gzip.compress(data[:100]) + gzip.compress(data[100:])),
        "/zlib": Response(200, {"Content-Encoding": "deflate"}, zlib.compress(data)),
        "/raw": Response(200, {"Content-Encoding": "deflate"},
                         zlib.compress(data)[2:-4]),  # raw deflate, as some servers send
    }
    with LocalServer(routes) as srv:
        f = Fetcher(cfg())
        for path in routes:
            res = f.fetch(srv.url(path))
            assert res.ok and res.body == data, path
        assert "gzip" in srv.requests[0].headers["accept-encoding"]


def test_redirect_to_private_refused_before_connecting(connections) -> None:
    routes = {"/meta": redirect("http://169.254.169.254/latest/meta-data/"),
              "/lan": redirect("http://10.0.0.1/x.jpg"),
              "/trick": redirect("http://0xa9fea9fe/")}
    with LocalServer(routes) as srv:
        f = Fetcher(cfg())
        results = [f.fetch(srv.url(p)) for p in routes]
    assert [r.error for r in results] == ["private_address"] * 3
    assert results[0].final_url == "http://169.254.169.254/latest/meta-data/"
    assert {addr for addr, _ in connections} == {"127.0.0.1"}


def test_loopback_refused_when_not_allowed(connections) -> None:
    with LocalServer({"/a.jpg": (200, {}, JPEG)}) as srv:
        res = Fetcher(cfg(allowed_networks=[])).fetch(srv.url("/a.jpg"))
        assert srv.hits() == 0
    assert res.error == "private_address" and connections == []


def test_connects_to_vetted_ip_without_second_lookup() -> None:
    calls: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        calls.append(host)
        return ["127.0.0.1"]

    with LocalServer({"/a.jpg": (200, {}, JPEG)}) as srv:
        res = Fetcher(cfg(), resolver=resolver).fetch(f"http://images.test:{srv.port}/a.jpg")
        host = srv.requests[0].headers["host"]
    assert res.ok and calls == ["images.test"] and host == f"images.test:{srv.port}"


def test_robots_disallow_and_cache() -> None:
    rules = ("User-agent: m3w-test\nDisallow: /private/\n\n"
             "User-agent: *\nDisallow: /\n")
    routes = {"/robots.txt": robots_txt(rules), "/private/a.jpg": (200, {}, JPEG),
              "/public/a.jpg": (200, {}, JPEG)}
    with LocalServer(routes) as srv:
        f = Fetcher(cfg(respect_robots=True))
        assert f.fetch(srv.url("/private/a.jpg")).error == "robots_disallowed"
        assert f.fetch(srv.url("/public/a.jpg")).ok
        assert f.fetch(srv.url("/public/a.jpg?again")).ok
        assert srv.hits("/robots.txt") == 1 and srv.hits("/private/a.jpg") == 0
        other = Fetcher(cfg(respect_robots=True, user_agent="otherbot/2"))
        assert other.fetch(srv.url("/public/a.jpg")).error == "robots_disallowed"


@pytest.mark.parametrize("robots", [(404, {}, b"nope"), (500, {}, b"oops")])
def test_robots_errors_allow(robots) -> None:
    with LocalServer({"/robots.txt": robots, "/a.jpg": (200, {}, JPEG)}) as srv:
        assert Fetcher(cfg(respect_robots=True)).fetch(srv.url("/a.jpg")).ok


def test_per_host_interval() -> None:
    with LocalServer({"/a.jpg": (200, {}, JPEG)}) as srv:
        f = Fetcher(cfg(per_host_interval=0.3))
        assert f.fetch(srv.url("/a.jpg")).ok and f.fetch(srv.url("/a.jpg")).ok
        list(f.fetch_many([srv.url("/a.jpg")] * 3, threads=3))
        times = sorted(r.time for r in srv.requests)
    gaps = [b - a for a, b in zip(times, times[1:])]
    # Arrival times at the server jitter under load; without the limiter the gaps are ~0.
    assert len(gaps) == 4 and min(gaps) >= 0.2, gaps


def test_retries_503_then_success() -> None:
    flaky = sequence((503, {}, b"busy"), (503, {"Retry-After": "0"}, b"busy"), (200, {}, JPEG))
    with LocalServer({"/a.jpg": flaky, "/down": (503, {}, b"x")}) as srv:
        f = Fetcher(cfg(retries=2))
        res = f.fetch(srv.url("/a.jpg"))
        assert res.ok and res.body == JPEG and srv.hits("/a.jpg") == 3
        down = f.fetch(srv.url("/down"))
        assert down.error == "http_status" and down.status == 503 and srv.hits("/down") == 3


def test_retry_after_too_long_gives_up() -> None:
    with LocalServer({"/busy": (429, {"Retry-After": "3600"}, b"")}) as srv:
        t0 = time.monotonic()
        res = Fetcher(cfg(retries=3)).fetch(srv.url("/busy"))
        assert time.monotonic() - t0 < 1.0 and srv.hits() == 1
    assert res.error == "http_status" and res.status == 429


def test_connection_refused_retried() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    res = Fetcher(cfg(retries=1)).fetch(f"http://127.0.0.1:{port}/x")
    assert res.error == "connection_error" and "Refused" in res.detail


def test_empty_body_and_bad_urls() -> None:
    with LocalServer({"/empty": (200, {}, b"")}) as srv:
        f = Fetcher(cfg())
        assert f.fetch(srv.url("/empty")).error == "empty_body"
    f = Fetcher(cfg())
    assert f.fetch("ftp://example.com/a").error == "unsupported_scheme"
    assert f.fetch("not a url").error == "bad_url"
    assert f.fetch(None).error == "bad_url"  # type: ignore[arg-type]
    assert set(FETCH_REASONS) >= {"bad_url", "timeout", "too_large", "empty_body"}


def test_fetch_many_preserves_order() -> None:
    delays = [0.3, 0.0, 0.2, 0.0, 0.1, 0.0]
    routes = {f"/{i}": Response(200, {}, str(i).encode(), delay=d) for i, d in enumerate(delays)}
    with LocalServer(routes) as srv:
        urls = [srv.url(f"/{i}") for i in range(len(delays))] + [srv.url("/nope")]
        results = list(Fetcher(cfg()).fetch_many(iter(urls), threads=3))
    assert [r.url for r in results] == urls
    assert [r.body for r in results[:-1]] == [str(i).encode() for i in range(len(delays))]
    assert results[-1].error == "http_status"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl tool")
def test_https_pinned_ip_checks_certificate_name(tmp_path) -> None:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=images.test", "-addext", "subjectAltName=DNS:images.test",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    with LocalServer({"/a.jpg": (200, {}, JPEG)}, ssl_context=ctx) as srv:
        f = Fetcher(cfg(ca_file=str(cert)), resolver=lambda host, port: ["127.0.0.1"])
        res = f.fetch(f"https://images.test:{srv.port}/a.jpg")
        assert res.ok and res.body == JPEG, res.detail
        assert srv.requests[0].headers["host"] == f"images.test:{srv.port}"
        wrong = f.fetch(f"https://127.0.0.1:{srv.port}/a.jpg")  # name does not match
    assert wrong.error == "connection_error" and "TLS" in wrong.detail


def test_rate_limiter_slots_and_deadline() -> None:
    now = [100.0]
    slept: list[float] = []
    lim = HostRateLimiter(2.0, clock=lambda: now[0], sleep=slept.append)
    assert lim.wait("a.example") and lim.wait("A.example") and lim.wait("b.example")
    assert slept == [2.0]  # second call for the same host waits; other hosts do not
    assert not lim.wait("a.example", deadline=103.0)  # next slot is 104: refused, not booked
    assert lim.reserve("a.example") == 4.0


def test_robots_cache_fetches_once_for_concurrent_callers() -> None:
    calls: list[str] = []
    gate = threading.Event()

    def fetch(url: str) -> tuple[int | None, bytes | None]:
        calls.append(url)
        gate.wait(2)
        return 200, b"User-agent: *\nDisallow: /no\n"

    cache = RobotsCache(fetch, "m3w-test/1")
    out: list[bool] = []
    threads = [threading.Thread(target=lambda: out.append(
        cache.allowed("http://h.example", "http://h.example/no/x"))) for _ in range(5)]
    for t in threads:
        t.start()
    time.sleep(0.1)
    gate.set()
    for t in threads:
        t.join(5)
    assert out == [False] * 5 and calls == ["http://h.example/robots.txt"]
    assert cache.allowed("http://h.example", "http://h.example/yes")


def _clients(srv: LocalServer) -> set[tuple[str, int]]:
    return {r.client for r in srv.requests}  # one (address, port) per connection


def test_a_hosts_requests_share_keep_alive_connections() -> None:
    routes = {f"/{i}.jpg": (200, {}, JPEG + bytes([i])) for i in range(12)}
    with LocalServer(routes, keep_alive=True) as srv:
        f = Fetcher(cfg())
        results = [f.fetch(srv.url(f"/{i}.jpg")) for i in range(6)]
        threaded = list(f.fetch_many((srv.url(f"/{i}.jpg") for i in range(6, 12)), threads=3))
        f.close()
        assert f.pool.idle(("http", "127.0.0.1", srv.port, ("127.0.0.1",))) == 0
        clients = _clients(srv)
    assert [r.body for r in results + threaded] == [JPEG + bytes([i]) for i in range(12)]
    assert 1 <= len(clients) <= 4  # one for the sequence, at most one more per thread


def test_a_server_that_says_close_gets_a_connection_per_request() -> None:
    with LocalServer({"/a.jpg": (200, {}, JPEG)}) as srv:  # answers Connection: close
        f = Fetcher(cfg())
        assert all(f.fetch(srv.url("/a.jpg")).ok for _ in range(3))
        assert len(_clients(srv)) == 3


def test_a_connection_dropped_while_idle_is_replaced_without_a_retry() -> None:
    """The server hangs up after the first answer without saying so: the next request finds
    the kept connection dead and goes out once more on a new one (retries stay at 0)."""
    routes = {"/first.jpg": Response(200, {}, JPEG, hang_up=True), "/next.jpg": (200, {}, JPEG)}
    with LocalServer(routes, keep_alive=True) as srv:
        f = Fetcher(cfg(retries=0))
        assert f.fetch(srv.url("/first.jpg")).ok
        time.sleep(0.2)  # let the hang-up arrive
        res = f.fetch(srv.url("/next.jpg"))
        assert res.ok and res.body == JPEG, res.detail
        assert len(_clients(srv)) == 2 and srv.hits("/next.jpg") == 1


def test_unfinished_bodies_never_go_back_to_the_pool() -> None:
    routes = {"/big.jpg": (200, {}, JPEG * 50), "/404": (404, {}, b"gone")}
    with LocalServer(routes, keep_alive=True) as srv:
        f = Fetcher(cfg(max_bytes=len(JPEG)))
        assert f.fetch(srv.url("/big.jpg")).error == "too_large"
        assert f.fetch(srv.url("/404")).error == "http_status"
        assert f.pool.idle(("http", "127.0.0.1", srv.port, ("127.0.0.1",))) == 0

"""A small threaded HTTP(S) server on 127.0.0.1 for tests: no traffic leaves the machine.

    from tests.localserver import LocalServer, Response, redirect, robots_txt

    routes = {
        "/ok.jpg": (200, {"Content-Type": "image/jpeg"}, jpeg_bytes),  # plain tuple
        "/moved": redirect("/ok.jpg"),                                 # Response object
        "/robots.txt": robots_txt("User-agent: *\\nDisallow: /private/\\n"),
        "/echo": lambda req: Response(200, {}, req.path.encode()),     # callable
    }
    with LocalServer(routes) as srv:
        fetch(srv.url("/moved"))
        assert srv.hits("/ok.jpg") == 1

A route is `(status, headers, body)`, a `Response`, or a callable taking the `Request`
and returning either. Lookup tries the path with its query string, then without it;
anything else is a 404. Every request is recorded in `srv.requests`.

Bounds, so a broken test cannot hang: after `max_requests` requests every answer is a
503; after `max_seconds` the server shuts itself down; slow responses stop sleeping as
soon as the server closes.
"""

from __future__ import annotations

import gzip
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Headers = Mapping[str, str] | Iterable[tuple[str, str]]


@dataclass
class Response:
    """What a route answers. `body` may be bytes or an iterable of byte chunks (streamed,
    no Content-Length). `delay` sleeps before the status line; `chunk_size` and
    `chunk_delay` drip the body out slowly."""

    status: int = 200
    headers: Headers = field(default_factory=dict)
    body: bytes | Iterable[bytes] = b""
    delay: float = 0.0
    chunk_size: int = 0  # 0: write the body in one piece
    chunk_delay: float = 0.0
    content_length: bool = True  # False: omit it and end the body by closing
    hang_up: bool = False  # keep-alive servers: close afterwards without saying so


@dataclass
class Request:
    method: str
    path: str  # as sent, query string included
    headers: dict[str, str]  # lower-case names
    body: bytes
    time: float  # time.monotonic() when the request line arrived
    client: tuple[str, int]


Handler = Callable[[Request], Any]
Route = Response | tuple[int, Headers, bytes] | Handler


def redirect(location: str, status: int = 302) -> Response:
    return Response(status, {"Location": location}, b"")


def robots_txt(text: str, status: int = 200) -> Response:
    return Response(status, {"Content-Type": "text/plain"}, text.encode())


def html(text: str, status: int = 200) -> Response:
    return Response(status, {"Content-Type": "text/html; charset=utf-8"}, text.encode())


def gzip_response(data: bytes, content_type: str = "application/octet-stream",
                  status: int = 200) -> Response:
    """`data` gzip-compressed with Content-Encoding: gzip (e.g. for gzip-bomb tests)."""
    body = gzip.compress(data, compresslevel=9)
    return Response(status, {"Content-Type": content_type, "Content-Encoding": "gzip"}, body)


def slow(body: bytes, chunk_size: int = 16, chunk_delay: float = 0.2, delay: float = 0.0,
         status: int = 200) -> Response:
    """Drip `body` out `chunk_size` bytes at a time, sleeping `chunk_delay` between them."""
    return Response(status, {"Content-Type": "application/octet-stream"}, body, delay=delay,
                    chunk_size=chunk_size, chunk_delay=chunk_delay)


def sequence(*routes: Route) -> Handler:
    """Successive requests get successive answers; the last one repeats (e.g. 503, 200)."""
    lock = threading.Lock()
    count = [0]

    def handler(req: Request) -> Any:
        with lock:
            i = min(count[0], len(routes) - 1)
            count[0] += 1
        spec = routes[i]
        return spec(req) if callable(spec) else spec

    return handler


def _as_response(spec: Any) -> Response:
    if isinstance(spec, Response):
        return spec
    if isinstance(spec, tuple) and len(spec) == 3:
        return Response(int(spec[0]), spec[1], spec[2])
    raise TypeError(f"route must give a Response or (status, headers, body), not {spec!r}")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    timeout = 10  # seconds to read a request; a stuck client cannot pin a thread

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def _serve(self) -> None:
        owner = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        req = Request(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                      self.rfile.read(min(length, 1 << 20)) if length else b"",
                      time.monotonic(), self.client_address[:2])
        resp = owner._answer(req)
        # Keep-alive only where the body's end is known; a hang-up is a server dropping an
        # idle connection that its client still holds.
        self._silent_close = resp.hang_up
        self.close_connection = resp.hang_up or not (
            owner.keep_alive and resp.content_length and isinstance(resp.body, (bytes, bytearray)))
        if resp.delay and owner.stopping.wait(resp.delay):
            return
        try:
            self._write(resp, head_only=self.command == "HEAD")
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass  # the client gave up (size cap, timeout): expected in tests

    def _write(self, resp: Response, head_only: bool) -> None:
        stopping = self.server.owner.stopping
        self.send_response(resp.status)
        items = resp.headers.items() if isinstance(resp.headers, Mapping) else resp.headers
        names = set()
        for name, value in items:
            names.add(name.lower())
            self.send_header(name, value)
        body = resp.body
        if isinstance(body, (bytes, bytearray)) and resp.content_length:
            if "content-length" not in names:
                self.send_header("Content-Length", str(len(body)))
        if self.close_connection and not self._silent_close:
            self.send_header("Connection", "close")
        self.end_headers()
        if head_only:
            return
        chunks: Iterable[bytes]
        if isinstance(body, (bytes, bytearray)):
            size = resp.chunk_size or max(1, len(body))
            chunks = (bytes(body[i:i + size]) for i in range(0, len(body), size))
        else:
            chunks = body
        for i, chunk in enumerate(chunks):
            if i and resp.chunk_delay and stopping.wait(resp.chunk_delay):
                return
            self.wfile.write(chunk)
            self.wfile.flush()

    do_GET = do_HEAD = do_POST = _serve


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    owner: LocalServer


class LocalServer:
    """Context-managed HTTP server on 127.0.0.1 (random port) serving `routes`.
    Pass `ssl_context` (a server-side SSLContext) to serve HTTPS instead, and `keep_alive`
    to keep connections open after responses whose length is known (else every response
    says `Connection: close`)."""

    def __init__(self, routes: Mapping[str, Route] | None = None, *, max_requests: int = 500,
                 max_seconds: float = 60.0, ssl_context: ssl.SSLContext | None = None,
                 keep_alive: bool = False) -> None:
        self.routes: dict[str, Route] = dict(routes or {})
        self.keep_alive = keep_alive
        self.max_requests = max_requests
        self.max_seconds = max_seconds
        self.ssl_context = ssl_context
        self.stopping = threading.Event()
        self._requests: list[Request] = []
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._timer: threading.Timer | None = None
        self._port: int | None = None

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> LocalServer:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.owner = self
        if self.ssl_context is not None:
            # Handshake lazily, in the handler thread, so one stuck client cannot block accept().
            server.socket = self.ssl_context.wrap_socket(
                server.socket, server_side=True, do_handshake_on_connect=False)
        self._server = server
        self._port = int(server.server_address[1])
        self._thread = threading.Thread(target=server.serve_forever, kwargs={
            "poll_interval": 0.05}, name="localserver", daemon=True)
        self._thread.start()
        self._timer = threading.Timer(self.max_seconds, self.close)
        self._timer.daemon = True
        self._timer.start()
        return self

    def close(self) -> None:
        self.stopping.set()
        if self._timer is not None and self._timer is not threading.current_thread():
            self._timer.cancel()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- addresses -----------------------------------------------------------------------
    @property
    def port(self) -> int:
        assert self._port is not None, "server not started"
        return self._port  # still known after close, for messages and assertions

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def base_url(self) -> str:
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{self.host}:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.base_url + (path if path.startswith("/") else "/" + path)

    # -- routes and records --------------------------------------------------------------
    def route(self, path: str, spec: Route) -> None:
        with self._lock:
            self.routes[path] = spec

    @property
    def requests(self) -> list[Request]:
        with self._lock:
            return list(self._requests)

    def hits(self, path: str | None = None) -> int:
        """Requests seen for `path` (query string ignored), or in all when None."""
        reqs = self.requests
        if path is None:
            return len(reqs)
        return sum(1 for r in reqs if r.path.split("?", 1)[0] == path)

    def _answer(self, req: Request) -> Response:
        with self._lock:
            self._requests.append(req)
            over = len(self._requests) > self.max_requests
            spec = self.routes.get(req.path) or self.routes.get(req.path.split("?", 1)[0])
        if over:
            return Response(503, {}, b"request budget of the test server exhausted")
        if spec is None:
            return Response(404, {"Content-Type": "text/plain"}, b"not found")
        try:
            return _as_response(spec(req) if callable(spec) else spec)
        except Exception as exc:  # a broken handler shows up as a 500, not a hang
            return Response(500, {"Content-Type": "text/plain"}, repr(exc).encode())

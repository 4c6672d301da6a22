"""Putting a generated site where a build can read it: WARC files, a URL list, an HTTP server."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from pipeline.sample_site.site import Site, generate_site
from scrapers.warc_writer import WarcWriter

CRAWL_START = datetime(2024, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
ROBOTS = b"User-agent: *\nAllow: /\n"


def in_warc(url: str, share: float, seed: int = 0) -> bool:
    """Whether an image goes into the WARC: a stable choice by URL path, whatever the host."""
    h = hashlib.sha1(f"{seed}|{urlsplit(url).path}".encode()).digest()
    return int.from_bytes(h[:4], "big") / 2**32 < share


def _warc_names(path: str, files: int) -> list[str]:
    if files == 1:
        return [path]
    stem = path[:-len(".warc.gz")] if path.endswith(".warc.gz") else path
    return [f"{stem}-{i:05d}.warc.gz" for i in range(files)]


def _page_images(site: Site, url: str) -> list[str]:
    t = site.truth[url]
    return list(dict.fromkeys(t.images + list(t.rejected)))


def _images(w: WarcWriter, site: Site, urls: list[str], done: set[str], stamp: Any) -> None:
    for url in urls:
        ctype, data = site.images[url]
        w.write_response(url, data, headers=[("Content-Type", ctype)], date=stamp())
        done.add(url)


def write_site_warc(site: Site, path: str, images_in_warc: float = 0.5, seed: int = 0,
                    files: int = 1) -> dict[str, Any]:
    """Write every page and a stable share of the images, each response after its request.

    Records follow crawl order: a page, then those of its images that were not archived yet.
    With ``files`` > 1, pages are split over ``<stem>-00000.warc.gz`` ... Returns counts, the
    file paths (``paths``) and the image URLs archived (``warc_images``), which the server
    should not serve."""
    stored = {u for u in site.images if in_warc(u, images_in_warc, seed)}
    paths = _warc_names(path, files)
    urls = list(site.pages)
    per_file = -(-len(urls) // files)
    done: set[str] = set()
    records, t = 0, 0

    def stamp() -> str:
        nonlocal t
        t += 1
        return (CRAWL_START + timedelta(seconds=t)).strftime("%Y-%m-%dT%H:%M:%SZ")

    for k, name in enumerate(paths):
        os.makedirs(os.path.dirname(os.path.abspath(name)), exist_ok=True)
        chunk = urls[k * per_file:(k + 1) * per_file]
        with WarcWriter(name) as w:
            w.write_warcinfo({"software": "m3w sample site", "format": "WARC File Format 1.0",
                              "seed": site.seed}, filename=os.path.basename(name),
                             date=CRAWL_START.strftime("%Y-%m-%dT%H:%M:%SZ"))
            for url in chunk:
                w.write_response(url, site.pages[url],
                                 headers=[("Content-Type", site.page_types[url])], date=stamp())
                todo = [u for u in _page_images(site, url) if u in stored and u not in done]
                _images(w, site, todo, done, stamp)
            if k == len(paths) - 1:  # the last file takes the images no page refers to
                _images(w, site, sorted(stored - done), done, stamp)
            records += w.records
    return {"paths": paths, "pages": len(urls), "images_in_warc": len(done),
            "images_served": len(site.images) - len(done), "records": records,
            "bytes": sum(os.path.getsize(p) for p in paths), "warc_images": sorted(done)}


def write_url_list(site: Site, path: str, only_kept: bool = False) -> int:
    """The page URLs, one per line (``only_kept``: just the pages a build should keep)."""
    urls = [u for u in site.pages if not (only_kept and site.truth[u].drop)]
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("".join(u + "\n" for u in urls))
    return len(urls)


class SiteServer:
    """A threaded HTTP server for a site's pages and images, plus a robots.txt allowing all.

    It binds on creation, so the port (``base_url``) is known before the site is generated:
    ``srv = SiteServer(); site = generate_site(base_url=srv.base_url); srv.serve(site)``.
    Requests are matched by path, so any host name for the same port works. Images in
    ``exclude`` (those archived in the WARC) answer 404, like any unknown path."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._routes: dict[str, tuple[str, bytes]] = {}
        self._site: Site | None = None
        self.hits: dict[str, int] = {}
        routes, hits = self._routes, self.hits

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _answer(self, body: bool) -> None:
                path = unquote(urlsplit(self.path).path)
                hit = routes.get(path)
                hits[path] = hits.get(path, 0) + 1
                ctype, data = hit or ("text/plain", b"not found\n")
                self.send_response(200 if hit else 404)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if body:
                    try:
                        self.wfile.write(data)
                    except (BrokenPipeError, ConnectionResetError):
                        pass

            def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
                self._answer(True)

            def do_HEAD(self) -> None:  # noqa: N802
                self._answer(False)

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._routes["/robots.txt"] = ("text/plain", ROBOTS)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://{self._server.server_address[0]}:{self.port}"

    @property
    def site(self) -> Site | None:
        return self._site

    @site.setter
    def site(self, site: Site) -> None:
        """``srv.site = site`` serves all of it (``serve`` can leave the WARC's images out)."""
        self.serve(site)

    def serve(self, site: Site, exclude: Iterable[str] = ()) -> None:
        """Serve ``site``'s pages and its images except ``exclude`` (URLs)."""
        skip = {urlsplit(u).path for u in exclude}
        routes = {urlsplit(u).path: (site.page_types[u], b) for u, b in site.pages.items()}
        routes.update((urlsplit(u).path, v) for u, v in site.images.items()
                      if urlsplit(u).path not in skip)
        routes["/robots.txt"] = ("text/plain", ROBOTS)
        self._routes.clear()
        self._routes.update(routes)
        self._site = site

    def start(self) -> SiteServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> SiteServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextmanager
def serve_site(site: Site, host: str = "127.0.0.1", port: int = 0,
               exclude: Iterable[str] = ()) -> Iterator[int]:
    """Serve ``site`` (minus ``exclude``) on a background thread; yields the bound port."""
    with SiteServer(host, port) as srv:
        srv.serve(site, exclude)
        yield srv.port


@dataclass
class Demo:
    """What ``prepare_demo`` made: the site, its server, WARC paths, URL list and counts."""

    site: Site
    server: SiteServer
    warc_paths: list[str]
    url_list: str
    summary: dict[str, Any] = field(default_factory=dict)


@contextmanager
def prepare_demo(out_dir: str, seed: int = 0, n_pages: int = 220, images_in_warc: float = 0.5,
                 files: int = 1, host: str = "127.0.0.1") -> Iterator[Demo]:
    """Bind a server, generate the site for its address, write ``site.warc.gz`` and ``urls.txt``
    under ``out_dir``, and serve the images the WARC lacks until the block ends."""
    os.makedirs(out_dir, exist_ok=True)
    with SiteServer(host) as srv:
        site = generate_site(seed, n_pages, srv.base_url)
        summary = write_site_warc(site, os.path.join(out_dir, "site.warc.gz"), images_in_warc,
                                  seed, files)
        srv.serve(site, exclude=summary["warc_images"])
        url_list = os.path.join(out_dir, "urls.txt")
        write_url_list(site, url_list)
        yield Demo(site, srv, summary["paths"], url_list, summary)


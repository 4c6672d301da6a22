"""URL lists: pages fetched politely from a real local server, archived to WARC, rebuilt."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from pipeline.cli import main
from tests.imagegen import image_bytes
from tests.localserver import LocalServer, robots_txt
from tests.warcgen import NO_TEXT_CURATION_YAML, PROSE, page


@pytest.fixture(scope="module")
def site():
    routes = {
        "/robots.txt": robots_txt("User-agent: *\nDisallow: /private-area/\n"),
        "/a.html": (200, {"Content-Type": "text/html; charset=utf-8"},
                    page("A", [PROSE, PROSE], ["/img/a.jpg"])),
        "/b.html": (200, {"Content-Type": "text/html"}, page("B", [PROSE, PROSE], ["/img/b.png"])),
        "/private-area/c.html": (200, {"Content-Type": "text/html"}, page("C", [PROSE], [])),
        "/data.json": (200, {"Content-Type": "application/json"}, b"{}"),
        "/img/a.jpg": (200, {"Content-Type": "image/jpeg"}, image_bytes(320, 240)),
        "/img/b.png": (200, {"Content-Type": "image/png"}, image_bytes(200, 150, "PNG")),
    }
    with LocalServer(routes, max_seconds=300) as srv:
        yield srv


def _build(tmp_path, site, urls, *extra):
    lst = tmp_path / "urls.txt"
    lst.write_text("# pages to fetch\n" + "\n".join(urls) + "\n")
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("fetch:\n  per_host_interval: 0.05\n  retries: 0\n  timeout: 2.0\n"
                   + NO_TEXT_CURATION_YAML)
    out = tmp_path / "out"
    code = main(["build", str(cfg), "--input", str(lst), "--output", str(out), "--no-progress",
                 *extra])
    return code, out


def test_url_list_is_fetched_archived_and_accounted(site, tmp_path, capsys):
    urls = [site.url("/a.html"), site.url("/b.html"), site.url("/private-area/c.html"),
            site.url("/missing.html"), site.url("/data.json"), "http://10.1.2.3/x.html"]
    code, out = _build(tmp_path, site, urls, "--allow-network", "127.0.0.0/8")
    assert code == 0
    capsys.readouterr()
    main(["stats", str(out), "--json"])
    t = json.loads(capsys.readouterr().out)["totals"]
    assert t["records_read"] == 6 and t["html_records"] == 2 and t["documents"] == 2
    reasons = {(r["url"].rsplit("/", 1)[-1], r["reason"])
               for r in pq.read_table(str(out / "rejects")).to_pylist()}
    assert ("c.html", "fetch_robots_disallowed") in reasons
    assert ("missing.html", "fetch_http_status") in reasons
    assert ("data.json", "non_html") in reasons
    assert ("x.html", "fetch_private_address") in reasons
    # the crawl is archived, and a build from the archive gives the same documents
    warcs = sorted((out / "crawl").glob("*.warc.gz"))
    assert warcs
    out2 = tmp_path / "from_warc"
    assert main(["build", str(tmp_path / "cfg.yaml"), "--input", str(out / "crawl" / "*.warc.gz"),
                 "--output", str(out2), "--allow-network", "127.0.0.0/8", "--no-progress"]) == 0
    m1 = json.loads((out / "manifest.json").read_text())["sources"]["interleaved"]["samples"]
    m2 = json.loads((out2 / "manifest.json").read_text())["sources"]["interleaved"]["samples"]
    assert m1 == m2 == 2


def test_loopback_is_refused_unless_allowed(site, tmp_path):
    before = site.hits()
    code, out = _build(tmp_path, site, [site.url("/a.html")])
    assert code == 0
    rows = pq.read_table(str(out / "rejects")).to_pylist()
    assert [r["reason"] for r in rows] == ["fetch_private_address"]
    assert site.hits() == before  # refused before any connection


def test_fetched_pages_carry_their_final_url_and_crawl_date(site, tmp_path):
    from datetime import datetime, timezone

    from apache_beam.pvalue import TaggedOutput

    from pipeline.config import load_config
    from pipeline.stages.read import FetchPagesFn, archive_name
    from scrapers.warc_read import iter_records
    from tests.localserver import redirect

    site.routes["/old"] = redirect("/a.html", 301)
    cfg = load_config()["fetch"]
    cfg.update(allowed_networks=["127.0.0.0/8"], per_host_interval=0.0, retries=0)
    fn = FetchPagesFn(cfg, str(tmp_path), 10**7)
    fn.setup()
    before = datetime.now(timezone.utc).replace(microsecond=0)
    old, direct = site.url("/old"), site.url("/a.html")
    out = list(fn.process((0, [old, direct, old, site.url("/missing.html")])))
    after = datetime.now(timezone.utc)
    recs = [r for r in out if not isinstance(r, TaggedOutput)]
    # the URL named twice and the missing page come back as one list of read rejects
    (rejects,) = [o.value for o in out if isinstance(o, TaggedOutput)]
    assert sorted((r.stage, r.reason) for r in rejects) == [
        ("read", "duplicate_url"), ("read", "fetch_http_status")]
    by_requested = {r.meta.get("requested_url", r.url): r for r in recs}
    assert set(by_requested) == {old, direct}
    moved = by_requested[old]
    assert moved.url == direct and moved.kind == "html"  # links resolve against the final URL
    assert by_requested[direct].meta == {}
    for r in recs:
        when = datetime.strptime(r.date, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        assert before <= when <= after
    # the archive names the final URL at the fetch time; a rebuild reads back the same
    name = archive_name([old, direct, site.url("/missing.html")])
    assert moved.source == name
    with open(tmp_path / name, "rb") as fh:
        archived = {r.offset: r for r in iter_records(fh, name) if r.kind == "html"}
    assert (archived[moved.offset].url, archived[moved.offset].date) == (direct, moved.date)


def test_crawl_date_prefers_a_sane_server_date():
    from scrapers.fetch import crawl_date

    now = 1_700_000_000.0  # 2023-11-14T22:13:20Z
    assert crawl_date({}, now) == "2023-11-14T22:13:20Z"
    assert crawl_date({"date": "Tue, 14 Nov 2023 22:10:00 GMT"}, now) == "2023-11-14T22:10:00Z"
    assert crawl_date({"date": "Thu, 01 Jan 1970 00:00:00 GMT"}, now) == "2023-11-14T22:13:20Z"
    assert crawl_date({"date": "yesterday-ish"}, now) == "2023-11-14T22:13:20Z"

"""The whole `m3w build` on generated WARCs and a real local HTTP server, bad input included."""

from __future__ import annotations

import hashlib
import io
import json
import os

import pyarrow.parquet as pq
import pytest
import webdataset as wds
from PIL import Image

from pipeline.cli import main
from tests.imagegen import image_bytes, png_bomb, truncated_jpeg
from tests.localserver import Response, redirect, robots_txt
from tests.warcgen import NO_TEXT_CURATION_YAML, PROSE, page, warc_bytes


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, server):
    base = server.base_url
    routes = {
        "/robots.txt": robots_txt("User-agent: *\nAllow: /\n"),
        "/http.png": (200, {"Content-Type": "image/png"}, image_bytes(160, 120, "PNG", 3)),
        "/loop": redirect("/loop"),
        "/private": redirect("http://10.0.0.1/x.jpg"),
        "/slow.jpg": Response(200, {"Content-Type": "image/jpeg"}, image_bytes(100, 100),
                              delay=2.0),
    }
    for path, route in routes.items():
        server.route(path, route)
    d = tmp_path_factory.mktemp("warcs")
    good = page("Harbour", [PROSE, PROSE, PROSE], [f"{base}/warc.jpg", "/http.png"])
    small_only = page("Small", [PROSE, PROSE], ["/tiny.jpg", "/wide.jpg"])
    broken = page("Broken", [PROSE] * 7, ["/corrupt.jpg", "/bomb.png", "/404.jpg", "/loop",
                                          "/private", "/slow.jpg"])
    records = [
        {"type": "warcinfo"},
        {"type": "request", "url": f"{base}/good"},
        {"url": f"{base}/good", "body": good},
        {"url": f"{base}/warc.jpg", "body": image_bytes(400, 300, "JPEG", 1),
         "ctype": "image/jpeg"},
        {"url": f"{base}/small", "body": small_only},
        {"url": f"{base}/tiny.jpg", "body": image_bytes(30, 30), "ctype": "image/jpeg"},
        {"url": f"{base}/wide.jpg", "body": image_bytes(900, 100), "ctype": "image/jpeg"},
        {"url": f"{base}/broken", "body": broken},
        {"url": f"{base}/corrupt.jpg", "body": truncated_jpeg(), "ctype": "image/jpeg"},
        {"url": f"{base}/bomb.png", "body": png_bomb(), "ctype": "image/png"},
        {"url": f"{base}/empty", "body": b""},
        {"url": f"{base}/huge", "body": b"<html><body><p>" + b"word " * 10_500_000},
        {"url": f"{base}/charset", "body": "<html><p>caf\xe9 cr\xe8me " .encode("latin-1")
         + PROSE.encode() + b"\xff\xfe\x00</p></html>",
         "ctype": "text/html; charset=x-no-such-charset"},
        {"url": f"{base}/style.css", "body": b"p{}", "ctype": "text/css"},
        {"type": "revisit", "url": f"{base}/good"},
    ]
    (d / "a.warc.gz").write_bytes(warc_bytes(records))
    truncated = warc_bytes([{"url": f"{base}/t{i}", "body": page("T", [PROSE], [])}
                            for i in range(3)])
    (d / "b.warc.gz").write_bytes(truncated[:-50])
    return d, base


def _build(corpus, out, *extra):
    d, _ = corpus
    cfg = d / "cfg.yaml"
    cfg.write_text("fetch:\n  timeout: 0.5\n  deadline: 1.5\n  retries: 0\n"
                   "  per_host_interval: 0.0\nextract:\n  max_page_bytes: 10000000\n"
                   + NO_TEXT_CURATION_YAML)
    return main(["build", str(cfg), "--input", str(d / "*.warc.gz"), "--output", str(out),
                 "--allow-network", "127.0.0.0/8", "--no-progress", *extra])


def _stats(out, capsys):
    capsys.readouterr()
    assert main(["stats", str(out), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _shard_hashes(out):
    shard_dir = out / "shards" / "interleaved"
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in shard_dir.iterdir()}


@pytest.fixture(scope="module")
def built(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    assert _build(corpus, out) == 0
    return out


def test_stats_identities_hold(built, capsys):
    t = _stats(built, capsys)["totals"]
    assert t["records_read"] == t["html_records"] + t["image_records"] + t["skipped_records"]
    assert t["html_records"] == t["documents"] + t["rejected_documents"]
    # a.warc.gz: 15 records; b.warc.gz: 2 readable pages then one error record
    assert t["records_read"] == 18
    assert t["html_records"] == 8 and t["image_records"] == 5
    assert t["documents"] == 1
    # each identity compared counts taken apart (reader per file, image stage entry)
    checks = {c["identity"]: c for c in _stats(built, capsys)["checks"]}
    assert set(checks) == {"records", "documents", "images"}
    assert all(c["checked"] and c["ok"] for c in checks.values()), checks
    assert t["image_requests"] == t["images_stored"] + t["images_rejected"] > 0


def test_every_bad_input_is_a_reject_with_its_reason(built):
    table = pq.read_table(str(built / "rejects")).to_pylist()
    by_url = {(r["url"].rsplit("/", 1)[-1], r["reason"]) for r in table}
    expected = {
        ("tiny.jpg", "too_small"), ("wide.jpg", "aspect_ratio"),
        ("corrupt.jpg", "undecodable"), ("bomb.png", "decompression_bomb"),
        ("404.jpg", "http_status"), ("loop", "redirect_loop"), ("private", "private_address"),
        ("slow.jpg", "timeout"), ("empty", "empty"), ("huge", "too_large"),
        ("small", "too_few_images"), ("broken", "too_few_images"),
        ("style.css", "non_html"),
    }
    assert expected <= by_url, expected - by_url
    reasons = {r["reason"] for r in table}
    assert {"revisit", "warc_type"} <= reasons
    assert reasons & {"error", "truncated"}  # the cut-off b.warc.gz


def test_shards_read_back_and_images_decode_in_order(built, corpus):
    _, base = corpus
    urls = [str(p) for p in sorted((built / "shards" / "interleaved").glob("*.tar"))]
    samples = list(wds.WebDataset(urls, shardshuffle=False))
    assert len(samples) == 1
    doc = json.loads(samples[0]["json"])
    assert doc["url"] == f"{base}/good"
    images = [n for n in doc["nodes"] if n["type"] == "image"]
    assert [i["src"] for i in images] == [f"{base}/warc.jpg", f"{base}/http.png"]
    assert [n["type"] for n in doc["nodes"]][:4] == ["text", "text", "image", "text"]
    for node in images:
        im = Image.open(io.BytesIO(samples[0][node["member"]]))
        im.load()
        assert (im.width, im.height) == (node["width"], node["height"])
    manifest = json.loads((built / "manifest.json").read_text())
    assert manifest["sources"]["interleaved"]["samples"] == 1
    assert manifest["sources"]["interleaved"]["weight"] == 1.0


def test_rerun_after_a_killed_build_gives_the_same_shards(built, corpus, tmp_path):
    before = _shard_hashes(built)
    shard_dir = built / "shards" / "interleaved"
    # what a killed run leaves: a half-written temporary and a shard from an older layout
    (shard_dir / ("interleaved-00000-000.tar.tmp-" + "0" * 32)).write_bytes(b"partial")
    (shard_dir / "interleaved-00007-000.tar").write_bytes(b"stale")
    assert _build(corpus, built) == 0
    assert _shard_hashes(built) == before
    assert not [p for p in built.rglob("*") if ".tmp-" in p.name]


def test_another_config_in_the_same_directory_is_refused(built, corpus, tmp_path, capsys):
    d, _ = corpus
    other = tmp_path / "other.yaml"
    other.write_text("images:\n  min_side: 32\n")
    code = main(["build", str(other), "--input", str(d / "*.warc.gz"), "--output", str(built),
                 "--no-progress"])
    assert code == 2
    assert "another config" in capsys.readouterr().err
    assert os.path.exists(built / "manifest.json")


def test_inspect_prints_text_with_image_markers(built, corpus, capsys):
    _, base = corpus
    shard = next((built / "shards" / "interleaved").glob("*.tar"))
    capsys.readouterr()
    assert main(["inspect", str(shard), "-n", "1"]) == 0
    out = capsys.readouterr().out
    assert f"<image> 000.jpg 400x300 JPEG {base}/warc.jpg" in out
    assert f"<image> 001.jpg 160x120 JPEG {base}/http.png" in out
    assert "committee met" in out
    assert out.index("000.jpg") < out.index("001.jpg")


def test_stats_text_and_plot(built, tmp_path, capsys):
    png = tmp_path / "funnel.png"
    capsys.readouterr()
    assert main(["stats", str(built), "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "too_few_images" in out and "input 8 = kept 1 + rejected 7" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_parked_images_reach_the_shards_and_the_work_folder_is_gone(built):
    import webdataset as wds

    assert not (built / "_work").exists()
    stored = 0
    for sample in wds.WebDataset(sorted(str(p) for p in built.glob("shards/*/*.tar")),
                                 shardshuffle=False):
        doc = json.loads(sample["json"])
        for node in doc["nodes"]:
            if node["type"] == "image":  # the bytes themselves, not the path they were parked at
                data = sample[node["member"]]
                assert data[:2] == b"\xff\xd8" and len(data) > 100
                stored += 1
    assert stored > 0

"""image_text with TestPipeline: local files, a WebDataset, and a URL list through img2dataset
against a local HTTP server (which only this test's config allows)."""

from __future__ import annotations

import io
import json
import os
import tarfile
import time

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from PIL import Image

from pipeline.rejects import REJECTS
from pipeline.sources.image_text import GuardFn, download_reason
from pipeline.sources.pairs import add_pair_sources
from scrapers.pair_lists import PairItem
from tests.localserver import LocalServer
from tests.mediagen import image_bytes, truncated_jpeg
from tests.test_video import read_shards

OPTIONS = PipelineOptions(["--runner=FnApiRunner"])
SHARDS = {"max_samples": 100, "max_bytes": 10**9}


def run(cfg: dict, out: str, expected_rejects: list, n_kept: int) -> dict:
    with TestPipeline(options=OPTIONS) as p:
        shards, rejects, counts = add_pair_sources(p, cfg, out, None)
        rej = (rejects | beam.Flatten()
               | beam.Map(lambda r: (r.source.rsplit("/", 1)[-1], r.stage, r.filter, r.reason)))
        assert_that(rej, equal_to(expected_rejects), label="rejects")
        assert_that(counts[0] | "Sum" >> beam.CombinePerKey(sum),
                    equal_to([(("image_text", "out", ""), n_kept)]), label="counts")
    samples = read_shards(os.path.join(out, "shards", "image_text"))
    assert len(samples) == n_kept
    return {s["txt"].decode(): s for s in samples.values()}


def test_local_pairs_from_list_folder_and_webdataset(tmp_path):
    d = tmp_path / "in"
    (d / "folder").mkdir(parents=True)
    files = {"a.jpg": image_bytes(320, 240, "JPEG", 1), "b.png": image_bytes(200, 150, "PNG", 2),
             "c.webp": image_bytes(180, 120, "WEBP", 3), "bad.jpg": truncated_jpeg(),
             "tiny.png": image_bytes(20, 20, "PNG"), "wide.jpg": image_bytes(900, 100)}
    for name, data in files.items():
        (d / name).write_bytes(data)
    rows = [("a.jpg", "A gradient with noise, in JPEG."), ("b.png", "The same idea as a PNG."),
            ("c.webp", "And once more as WebP."), ("bad.jpg", "A cut-off JPEG file"),
            ("tiny.png", "A tiny image"), ("wide.jpg", "A very wide strip"),
            ("gone.jpg", "A missing file"), ("a.jpg", "IMG_1234.jpg"), ("a.jpg", "click here")]
    pq.write_table(pa.Table.from_pylist([{"image": f, "caption": c} for f, c in rows]),
                   d / "pairs.parquet")
    (d / "folder" / "x.jpg").write_bytes(image_bytes(100, 100, "JPEG", 4))
    (d / "folder" / "x.txt").write_text("A square from a folder\n")
    (d / "folder" / "y.jpg").write_bytes(image_bytes(100, 100, "JPEG", 5))  # no caption
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in [("s1.png", files["b.png"]), ("s1.txt", b"From a WebDataset shard"),
                           ("s2.txt", b"A sample with no image")]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    (d / "pairs.tar").write_bytes(buf.getvalue())
    cfg = {"sources": {"image_text": {"input": [str(d / "pairs.*"), str(d / "folder")]}},
           "shards": SHARDS}
    got = run(cfg, str(tmp_path / "out"), [
        ("pairs.parquet#3", "image_text", "image_check/v1", "undecodable"),
        ("pairs.parquet#4", "image_text", "image_check/v1", "too_small"),
        ("pairs.parquet#5", "image_text", "image_check/v1", "aspect_ratio"),
        ("pairs.parquet#6", "image_text", "image_check/v1", "missing"),
        ("pairs.parquet#7", "image_text", "caption/v1", "file_name"),
        ("pairs.parquet#8", "image_text", "caption/v1", "boilerplate"),
        ("y.jpg", "image_text", "caption/v1", "empty"),
        ("pairs.tar#s2", "image_text", "image_check/v1", "no_media"),
    ], 5)
    assert set(got) == {"A gradient with noise, in JPEG.", "The same idea as a PNG.",
                        "And once more as WebP.", "A square from a folder",
                        "From a WebDataset shard"}
    s = got["The same idea as a PNG."]
    meta = json.loads(s["json"])
    assert (meta["width"], meta["height"], meta["source"]) == (200, 150, "image_text")
    assert meta["meta"]["source_id"].endswith("pairs.parquet#1")
    assert Image.open(io.BytesIO(s["jpg"])).format == "JPEG"


def test_url_list_goes_through_img2dataset(tmp_path):
    routes = {
        "/a.jpg": (200, {"Content-Type": "image/jpeg"}, image_bytes(400, 300, "JPEG", 1)),
        "/b.png": (200, {"Content-Type": "image/png"}, image_bytes(300, 200, "PNG", 2)),
        "/c.webp": (200, {"Content-Type": "image/webp"}, image_bytes(256, 256, "WEBP", 3)),
        "/corrupt.jpg": (200, {"Content-Type": "image/jpeg"}, truncated_jpeg()[:300]),
        "/tiny.jpg": (200, {"Content-Type": "image/jpeg"}, image_bytes(30, 30)),
    }
    with LocalServer(routes, max_seconds=300) as srv:
        rows = [(srv.url("/a.jpg"), "A photo served over HTTP as JPEG."),
                (srv.url("/b.png"), "A PNG served over HTTP."),
                (srv.url("/c.webp"), "A WebP served over HTTP."),
                (srv.url("/missing.jpg"), "This one is not on the server"),
                (srv.url("/corrupt.jpg"), "A corrupt download"),
                (srv.url("/tiny.jpg"), "Too small to keep"),
                ("http://169.254.169.254/latest/meta-data", "Cloud metadata, never fetched"),
                ("ftp://example.com/x.jpg", "Not HTTP at all"),
                (srv.url("/a.jpg"), "logo")]
        (tmp_path / "urls.csv").write_text("url,caption\n" + "".join(
            f'{u},"{c}"\n' for u, c in rows))
        cfg = {"sources": {"image_text": {"input": [str(tmp_path / "urls.csv")],
                                          "download": {"processes": 1, "threads": 4}}},
               "fetch": {"allowed_networks": ["127.0.0.0/8"]}, "shards": SHARDS}
        got = run(cfg, str(tmp_path / "out"), [
            ("urls.csv#3", "image_text", "img2dataset/v1", "http_404"),
            ("urls.csv#4", "image_text", "img2dataset/v1", "undecodable"),
            ("urls.csv#5", "image_text", "image_check/v1", "too_small"),
            ("urls.csv#6", "image_text", "netguard/v1", "private_address"),
            ("urls.csv#7", "image_text", "netguard/v1", "unsupported_scheme"),
            ("urls.csv#8", "image_text", "caption/v1", "boilerplate"),
        ], 3)
        assert srv.hits("/a.jpg") == 1  # the boilerplate row was never downloaded
    meta = json.loads(got["A PNG served over HTTP."]["json"])
    assert meta["url"].endswith("/b.png") and meta["meta"]["downloader"] == "img2dataset"
    assert (meta["meta"]["orig_width"], meta["meta"]["orig_height"]) == (300, 200)
    assert len(meta["sha256"]) == 64


def test_loopback_is_refused_unless_allowed():
    item = PairItem("l#0", "x", url="http://127.0.0.1:9/x.jpg")
    for fetch_cfg, expected in [({}, [("l#0", "private_address")]),
                                ({"allowed_networks": ["127.0.0.0/8"]}, [])]:
        with TestPipeline(options=OPTIONS) as p:
            out = (p | beam.Create([item])
                   | beam.ParDo(GuardFn(fetch_cfg)).with_outputs(REJECTS, main="items"))
            assert_that(out[REJECTS] | beam.Map(lambda r: (r.source, r.reason)),
                        equal_to(expected))


def test_download_reasons():
    assert download_reason("failed_to_download", "HTTP Error 403: Forbidden") == ("http_403",
                                                                                  403.0)
    assert download_reason("failed_to_download", "<urlopen error timed out>")[0] == "timeout"
    assert download_reason("failed_to_download",
                           "<urlopen error [Errno 111] Connection refused>")[0] == \
        "connection_error"
    assert download_reason("failed_to_resize", "cannot identify image")[0] == "undecodable"
    assert download_reason(None, None)[0] == "missing_result"


def test_img2dataset_batch_time_limit(tmp_path):
    from pipeline.sources.common import source_defaults
    from pipeline.sources.image_text import BatchTimeout, run_img2dataset

    dcfg = {**source_defaults("image_text")["download"], "batch_timeout": 0.5}
    rows = [{"url": "http://127.0.0.1:9/x.jpg", "caption": "x", "m3w_id": "0"}]
    t = time.monotonic()
    with pytest.raises(BatchTimeout):
        run_img2dataset(rows, str(tmp_path), dcfg)  # its start-up alone takes longer
    assert time.monotonic() - t < 5

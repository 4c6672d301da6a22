"""`m3w report` without a browser: what the site holds, that it is reproducible and bounded,
that hostile page text stays text, and that damaged builds give an error naming the file."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipeline.cli import main
from pipeline.commands.report.documents import documents_body
from pipeline.commands.report.html import PAGES, reason_id
from pipeline.commands.report.loading import load_build
from pipeline.commands.report.media import MediaDir
from pipeline.commands.report.reject_sample import RejectSample, sample_rejects
from pipeline.commands.report.rejects import _example
from pipeline.commands.report.sampling import BottomK, in_seeded_order, rank
from pipeline.commands.report.shard_sample import Sample, SourceSample, sample_source
from pipeline.commands.report.thresholds import thresholds_for
from pipeline.config import load_config
from tests.reportgen import make_demo_build, shared_root

_SECTION = re.compile(r'<section class="reason[^"]*" id="([^"]+)">(.*?)</section>', re.S)
_LOCAL_REF = re.compile(r'<(?:img|script|link)\b[^>]*?\b(?:src|href)="([^"]*)"')


@pytest.fixture(scope="module")
def demo_build(tmp_path_factory) -> Path:
    return make_demo_build(shared_root(tmp_path_factory))


def _report(build: Path, out: Path, *extra: str) -> int:
    return main(["report", str(build), "--output", str(out), *extra])


def test_the_site_holds_every_reason_and_only_local_files(demo_build, tmp_path, capsys):
    out = tmp_path / "site"
    assert _report(demo_build, out, "--samples", "5") == 0
    assert str(out / "index.html") in capsys.readouterr().out
    pages = {p: (out / p).read_text(encoding="utf-8") for p, _ in PAGES}
    for name, text in pages.items():  # nothing from the network: every resource is a file
        for ref in _LOCAL_REF.findall(text):
            assert (out / ref).is_file(), (name, ref)
    sections = dict(_SECTION.findall(pages["rejects.html"]))
    rows = pq.read_table(str(demo_build / "rejects")).to_pylist()
    recorded = {(r["stage"], f"{r['filter']}:{r['reason']}") for r in rows}
    funnel = json.loads((demo_build / "stats" / "funnel.json").read_text())
    reasons = [(s["stage"], name, n) for s in funnel["stages"]
               for name, n in s["rejected_by_reason"].items()]
    assert len(reasons) > 20 and any(n for *_, n in reasons)
    for stage, name, n in reasons:
        body = sections[reason_id(stage, name)]  # every reason has its section
        assert f'href="rejects.html#{reason_id(stage, name)}"' in pages["index.html"]
        if n:
            assert (stage, name) in recorded
            assert 1 <= body.count('class="example"') <= 5, (stage, name)
    assert pages["documents.html"].count('<article class="doc"') == 5
    assert "✓ holds" in pages["index.html"] and "FAILED" not in pages["index.html"]


def test_examples_come_nearest_the_threshold_first(demo_build):
    build = load_build(str(demo_build))
    sample = sample_rejects(build, 3, seed=0)
    entry = sample.reasons[("image", "image_check/v1:too_small")]
    assert [t.path for t in entry.thresholds] == ["images.min_side"]
    values = sorted(entry.values, key=lambda v: abs(v - 64))
    shown = [r["value"] for r in entry.examples.items()]
    assert shown == values[:len(shown)] and shown
    assert any(r.get("record") for r in entry.examples.items())  # read back from the WARC


def test_the_same_seed_writes_the_same_site(demo_build, tmp_path):
    for name, seed in (("a", "1"), ("b", "1"), ("c", "2")):
        assert _report(demo_build, tmp_path / name, "--samples", "4", "--seed", seed) == 0
    for page in ("index.html", "rejects.html", "documents.html", "pairs.html"):
        assert (tmp_path / "a" / page).read_bytes() == (tmp_path / "b" / page).read_bytes()
    for chart in (tmp_path / "a" / "charts").iterdir():
        assert chart.read_bytes() == (tmp_path / "b" / "charts" / chart.name).read_bytes()
    assert (tmp_path / "a" / "documents.html").read_bytes() != \
        (tmp_path / "c" / "documents.html").read_bytes()


def test_sampling_is_bounded_and_independent_of_order(demo_build):
    items = [f"key-{i}" for i in range(500)]
    picks = []
    for order in (items, items[::-1], sorted(items, key=lambda k: rank(9, k))):
        keep = BottomK(7)
        for k in order:
            keep.add((rank(3, k), k), k)
        picks.append(keep.items())
    assert picks[0] == picks[1] == picks[2] and len(picks[0]) == 7
    build = load_build(str(demo_build))
    docs = sample_source(build, "interleaved", 6, seed=0)
    again = sample_source(build, "interleaved", 6, seed=0)
    assert [s.key for s in docs.samples] == [s.key for s in again.samples]
    assert len(docs.samples) == 6 and docs.seen >= 6


@pytest.fixture
def copy_of_build(demo_build, tmp_path) -> Path:
    dst = tmp_path / "build"
    shutil.copytree(demo_build, dst)
    return dst


def _error(build: Path, tmp_path: Path, capsys) -> str:
    capsys.readouterr()
    assert _report(build, tmp_path / "site") == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    return captured.err


def test_a_corrupt_shard_is_named(copy_of_build, tmp_path, capsys):
    manifest = json.loads((copy_of_build / "manifest.json").read_text())
    paths = [s["path"] for s in manifest["sources"]["interleaved"]["shards"]]
    shard = copy_of_build / in_seeded_order(0, paths)[0]  # the shard a seed-0 report opens first
    data = shard.read_bytes()
    shard.write_bytes(data[: len(data) // 2])  # cut inside a member
    err = _error(copy_of_build, tmp_path, capsys)
    assert str(shard) in err and "corrupt shard" in err
    shard.write_bytes(b"this is not a tar file at all" * 40)
    err = _error(copy_of_build, tmp_path, capsys)
    assert str(shard) in err and "corrupt shard" in err


def test_a_missing_or_broken_stats_file_is_named(copy_of_build, tmp_path, capsys):
    funnel = copy_of_build / "stats" / "funnel.json"
    saved = funnel.read_bytes()
    funnel.unlink()
    err = _error(copy_of_build, tmp_path, capsys)
    assert str(funnel) in err and "missing" in err
    funnel.write_bytes(saved[:40])
    assert str(funnel) in _error(copy_of_build, tmp_path, capsys)
    funnel.write_bytes(saved)
    summary = copy_of_build / "stats" / "summary-video_text.json"
    summary.unlink()
    assert str(summary) in _error(copy_of_build, tmp_path, capsys)


def test_a_corrupt_reject_file_is_named(copy_of_build, tmp_path, capsys):
    bad = sorted((copy_of_build / "rejects").glob("rejects-image-*.parquet"))[0]
    bad.write_bytes(b"PAR1 but not really")
    err = _error(copy_of_build, tmp_path, capsys)
    assert str(bad) in err and "reject file" in err


def test_a_folder_of_other_files_is_not_overwritten(demo_build, tmp_path, capsys):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    assert _report(demo_build, tmp_path / "mine") == 2
    assert "not written by m3w report" in capsys.readouterr().err
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)">'


def test_page_text_is_escaped_everywhere(tmp_path):
    doc = {"key": "k1", "url": "javascript:alert(3)", "title": HOSTILE, "language": HOSTILE,
           "meta": {HOSTILE: HOSTILE}, "source_file": HOSTILE,
           "nodes": [{"type": "text", "tag": "h2", "text": HOSTILE},
                     {"type": "text", "tag": f"p>{HOSTILE}", "text": "x"},
                     {"type": "image", "src": "javascript:alert(4)", "alt": HOSTILE,
                      "caption": HOSTILE, "member": "000.jpg", "width": HOSTILE}]}
    sample = SourceSample("interleaved", [Sample("k1", HOSTILE, doc, {"000.jpg": b"nope"})])
    rejects = RejectSample()
    rejects.dropped["k1"].append({"stage": "image", "filter": HOSTILE, "reason": HOSTILE,
                                  "value": None, "url": HOSTILE, "record": ""})
    media = MediaDir(str(tmp_path))
    html = documents_body(sample, rejects, media)
    row = {"source": HOSTILE, "url": "javascript:alert(5)", "detail": HOSTILE,
           "excerpt": HOSTILE, "value": 1.0, "closeness": 0.5}
    for stage in ("node", "filter", "image", "read"):
        html += _example(dict(row, filter=HOSTILE, reason="r"), stage, media)
    assert "<script" not in html and not re.search(r"<img[^>]*onerror", html)
    assert not re.search(r'href="javascript:', html)
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 10


def test_thresholds_come_from_the_config():
    cfg = load_config(None)
    [t] = thresholds_for(cfg, "image", "image_check/v1", "too_small")
    assert (t.path, t.value, t.kind) == ("images.min_side", 64, "min")
    paths = [t.path for t in thresholds_for(cfg, "filter", "gopher_quality/v1",
                                            "mean_word_length")]
    assert paths == ["filters.document.gopher_quality.min_mean_word_length",
                     "filters.document.gopher_quality.max_mean_word_length"]
    [t] = thresholds_for(cfg, "filter", "gopher_repetition/v1", "dup_5gram")
    assert t.path.endswith("max_dup_5gram") and t.value == 0.15
    [t] = thresholds_for(cfg, "image_text", "caption/v1", "too_many_words")
    assert t.path == "sources.image_text.caption.max_words" and t.value == 256
    assert thresholds_for(cfg, "dedup", "near_dedup/v1", "near_duplicate") == []

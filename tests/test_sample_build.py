"""End to end on the generated sample site: the build keeps what its ground truth says, with
the images at their places, whether they came from the WARC or over HTTP."""

from __future__ import annotations

import json

import pytest
import webdataset as wds

from pipeline.cli import main
from pipeline.sample_site import prepare_demo


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    root = tmp_path_factory.mktemp("sample")
    with prepare_demo(str(root / "input"), seed=3, n_pages=40) as demo:
        cfg = root / "cfg.yaml"
        cfg.write_text("fetch:\n  per_host_interval: 0.0\n  allowed_networks: [127.0.0.0/8]\n")
        assert main(["build", str(cfg), "--input", *demo.warc_paths, "--output",
                     str(root / "out"), "--no-progress"]) == 0
        docs = {}
        for s in wds.WebDataset(sorted(str(p) for p in (root / "out").glob("shards/*/*.tar")),
                                shardshuffle=False):
            doc = json.loads(s["json"])
            docs[doc["url"]] = (doc, s)
        yield demo.site, docs


def test_kept_pages_match_the_truth(build):
    site, docs = build
    pairs = {t.duplicate_of: u for u, t in site.truth.items() if t.drop == "near_duplicate"}
    for url, truth in site.truth.items():
        if truth.drop in ("garbage", "no_images", "non_english"):
            assert url not in docs, (url, truth.drop)
        if truth.drop == "near_duplicate":  # one of the two survives, whichever ranks first
            assert (url in docs) + (truth.duplicate_of in docs) == 1, url
    expected = [u for u, t in site.truth.items() if t.drop is None and u not in pairs]
    assert pairs and expected and set(expected) <= set(docs)


def test_images_are_the_main_content_ones_in_page_order(build):
    site, docs = build
    checked = 0
    for url, (doc, sample) in docs.items():
        truth = site.truth[url]
        want = [u for u in truth.images if truth.rejected.get(u) is None]
        got = [n["src"] for n in doc["nodes"] if n["type"] == "image"]
        assert got == want, url
        for n in doc["nodes"]:
            if n["type"] == "image":
                assert sample[n["member"]][:2] == b"\xff\xd8"  # stored as JPEG
        checked += 1
    assert checked >= 25


def test_paragraphs_keep_their_order_around_images(build):
    site, docs = build
    for url, (doc, _) in docs.items():
        text = "\n".join(n["text"] for n in doc["nodes"] if n["type"] == "text")
        pos = [text.find(p) for p in site.truth[url].paragraphs]
        assert -1 not in pos and pos == sorted(pos), url

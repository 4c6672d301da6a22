"""One config builds all four sources in one run, as the demo does, on generated media."""

from __future__ import annotations

import json

import pytest
import webdataset as wds
import yaml

from pipeline.cli import main
from pipeline.sample_site import prepare_demo
from pipeline.sample_site.media import write_pair_inputs


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("all")
    with prepare_demo(str(root / "input"), seed=5, n_pages=20) as demo:
        served = sorted(u for u, m in demo.site.image_meta.items()
                        if u not in set(demo.summary["warc_images"]) and m.kind == "photo")[:8]
        inputs = write_pair_inputs(str(root / "input"), served)
        cfg = {"fetch": {"allowed_networks": ["127.0.0.0/8"], "per_host_interval": 0.0},
               "sources": {"interleaved": {"input": list(demo.warc_paths)},
                           "alt_text": {"from": "interleaved"},
                           "image_text": {"input": [inputs["pairs"]]},
                           "video_text": {"input": [inputs["videos"]]}}}
        (root / "cfg.yaml").write_text(yaml.safe_dump(cfg))
        assert main(["build", str(root / "cfg.yaml"), "--output", str(root / "out"),
                     "--no-progress"]) == 0
    return root / "out"


def test_every_source_is_accounted_and_weighted(built, capsys):
    capsys.readouterr()
    assert main(["stats", str(built), "--json"]) == 0
    sources = json.loads(capsys.readouterr().out)["sources"]
    assert set(sources) == {"interleaved", "alt_text", "image_text", "video_text"}
    for name, s in sources.items():
        assert s["input"] == s["kept"] + s["rejected"], name
        assert s["kept"] == s["samples"] > 0, name
    assert {n: s["weight"] for n, s in sources.items()} == {
        "interleaved": 1.0, "alt_text": 0.2, "image_text": 0.2, "video_text": 0.03}
    assert sources["image_text"]["input"] == 9 and sources["video_text"]["input"] == 8
    assert sources["video_text"]["summary"]["frames_per_clip"] == {"3": 1, "5": 1, "8": 2}


def test_shards_read_back_and_frames_follow_the_clock(built):
    manifest = json.loads((built / "manifest.json").read_text())
    for name, src in manifest["sources"].items():
        urls = [str(built / s["path"]) for s in src["shards"]]
        samples = list(wds.WebDataset(urls, shardshuffle=False))
        assert len(samples) == src["samples"], name
        if name == "video_text":
            durations = []
            for s in samples:
                meta = json.loads(s["json"])
                n = len(meta["timestamps"])
                assert meta["timestamps"] == [float(i) for i in range(n)]  # 1 FPS from 0 s
                assert n == min(8, int(meta["duration"] + 1e-6))
                assert [f"{i:03d}.jpg" in s for i in range(n)] == [True] * n
                durations.append(round(meta["duration"]))
            assert sorted(durations) == [3, 5, 8, 12]
        elif name != "interleaved":
            assert all(s["jpg"][:2] == b"\xff\xd8" and s["txt"] for s in samples)

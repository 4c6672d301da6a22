"""A demo-like build for the report tests: a generated site of 60 pages (half its images in the
WARC, half served over HTTP), the demo's pair lists and clips, all four sources in one run.

The build is made once per test session and shared by the xdist workers of that session (a
file lock decides who builds), since it is the slow part."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import yaml

from pipeline.cli import main
from pipeline.commands.demo import DEMO_CONFIG
from pipeline.sample_site import prepare_demo
from pipeline.sample_site.media import write_pair_inputs

PAGES = 60


def make_demo_build(root: Path) -> Path:
    """Build into ``root/build`` (once: later calls, from any process, wait and reuse it)."""
    root.mkdir(parents=True, exist_ok=True)
    out = root / "build"
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / "done").exists():
            _build(root, out)
            (root / "done").write_text("ok\n")
    return out


def _build(root: Path, out: Path) -> None:
    with prepare_demo(str(root / "input"), seed=0, n_pages=PAGES) as demo:
        stored = set(demo.summary["warc_images"])
        served = sorted(u for u, m in demo.site.image_meta.items()
                        if u not in stored and m.kind == "photo")[:16]
        pairs = write_pair_inputs(str(root / "input"), served)
        cfg = dict(DEMO_CONFIG, sources={
            "interleaved": {"input": list(demo.warc_paths)},
            "alt_text": {"from": "interleaved"},
            "image_text": {"input": [pairs["pairs"]]},
            "video_text": {"input": [pairs["videos"]]},
        })
        (root / "cfg.yaml").write_text(yaml.safe_dump(cfg))
        code = main(["build", str(root / "cfg.yaml"), "--output", str(out), "--no-progress"])
        assert code == 0, f"the demo build failed with {code}"


def shared_root(tmp_path_factory) -> Path:
    """A folder of this test session that all its modules and xdist workers see."""
    base = tmp_path_factory.getbasetemp()
    return (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "report-demo"

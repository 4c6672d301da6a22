"""A build killed at a chosen step, then rerun, writes exactly what an uninterrupted build
writes, and no partial shard is ever visible under a final name.

The kill is deterministic: ``M3W_FAULT`` makes the build process exit with status 137 at a
named point (pipeline/outputs/faults.py) instead of after a guessed sleep."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from pipeline.cli import main
from tests.imagegen import image_bytes
from tests.warcgen import NO_TEXT_CURATION_YAML, PROSE, page, warc_bytes

SITE = "http://kill.test"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Two WARCs of pages whose images are in the WARCs too: the build needs no network."""
    d = tmp_path_factory.mktemp("kill_corpus")
    for f in range(2):
        records = []
        for i in range(4):
            n = f * 10 + i
            imgs = [f"{SITE}/img/{n}-{j}.jpg" for j in range(2)]
            records.append({"url": f"{SITE}/page/{n}",
                            "body": page(f"Page {n}", [PROSE, PROSE, PROSE], imgs)})
            for j, url in enumerate(imgs):
                records.append({"url": url, "body": image_bytes(320, 240, "JPEG", 100 * n + j),
                                "ctype": "image/jpeg"})
        (d / f"part-{f}.warc.gz").write_bytes(warc_bytes(records))
    cfg = d / "cfg.yaml"
    cfg.write_text(NO_TEXT_CURATION_YAML + "shards:\n  max_samples: 2\n")
    return d


def _args(corpus: Path, out: Path) -> list[str]:
    return ["build", str(corpus / "cfg.yaml"), "--input", str(corpus / "*.warc.gz"),
            "--output", str(out), "--no-progress"]


def _files(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*")) if p.is_file()}


def _killed_build(corpus: Path, out: Path, fault: str) -> None:
    env = dict(os.environ, M3W_FAULT=fault)
    proc = subprocess.run([sys.executable, "-m", "pipeline.cli", *_args(corpus, out)], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=300)
    assert proc.returncode == 137, proc.stderr.decode()[-2000:]


def _assert_final_shards_whole(out: Path, clean: Path) -> None:
    for shard in out.glob("shards/*/*.tar"):
        with tarfile.open(shard) as tar:  # a complete tar: every member readable
            for m in tar.getmembers():
                assert tar.extractfile(m).read() is not None
        # ...and exactly the shard the uninterrupted build wrote under that name
        assert shard.read_bytes() == (clean / shard.relative_to(out)).read_bytes()


@pytest.fixture(scope="module")
def clean(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("clean")
    assert main(_args(corpus, out)) == 0
    assert len(list(out.glob("shards/interleaved/*.tar"))) >= 4
    return out


def test_killed_between_temporary_shard_and_publish(corpus, clean, tmp_path):
    out = tmp_path / "out"
    _killed_build(corpus, out, "after_tmp_shard:2")
    shard_dir = out / "shards" / "interleaved"
    temps = [p for p in shard_dir.iterdir() if ".tmp-" in p.name]
    finals = [p for p in shard_dir.iterdir() if ".tmp-" not in p.name]
    assert len(temps) == 1  # the killed process stopped right before publishing this one
    assert len(finals) == 1  # the first shard was published whole
    assert not (out / "manifest.json").exists()
    _assert_final_shards_whole(out, clean)
    assert main(_args(corpus, out)) == 0
    assert _files(out) == _files(clean)


def test_killed_midway_through_the_image_stage(corpus, clean, tmp_path):
    out = tmp_path / "out"
    _killed_build(corpus, out, "mid_images:3")
    _assert_final_shards_whole(out, clean)
    assert not (out / "manifest.json").exists()
    assert list(out.glob("_work/spool/*.spool"))  # documents parked by the killed run
    assert main(_args(corpus, out)) == 0
    assert _files(out) == _files(clean)  # its spool files are gone with the rest of _work

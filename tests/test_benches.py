"""The benchmarks behind the README's figures still run against today's pipeline, report what
they measured, and leave no build behind. (Their speed and memory are read by people from
`make bench`; here only that they work and that their own checks hold.)"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _bench(tmp_path: Path, script: str, *args: str) -> str:
    env = dict(os.environ, TMPDIR=str(tmp_path), HF_HUB_OFFLINE="1")
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / script), *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_build_bench_measures_a_whole_build_and_removes_it(tmp_path: Path) -> None:
    out = _bench(tmp_path, "build_bench.py", "--pages", "20")
    result = json.loads(out.strip().splitlines()[-1])
    assert result["pages"] == 20
    assert 0 < result["documents"] <= 20
    # images come both from the WARC and from the bench's own server on 127.0.0.1
    assert result["warc_images"] > 0 and result["served_images"] > 0
    assert 0 < result["images_stored"] <= result["images_checked"]
    assert result["image_path_calls"] > 0 and result["image_path_cpu_s"] > 0
    assert result["cpu_ms_per_page_outside_images"] > 0
    assert not list(tmp_path.glob("m3w-bench-*")), "the bench's build was left on disk"


def test_curation_bench_removes_every_planted_duplicate(tmp_path: Path) -> None:
    out = _bench(tmp_path, "curation_bench.py", "--sizes", "400", "--stages", "baseline", "all")
    m = re.search(r"duplicates removed (\d+) of (\d+) planted; survivors (\d+) vs (\d+) "
                  r"originals", out)
    assert m, out
    removed, planted, kept, originals = map(int, m.groups())
    assert planted > 0 and removed == planted and kept == originals
    assert not list(tmp_path.glob("m3w-curation-*"))


def test_scale_bench_builds_each_size_from_its_own_warcs(tmp_path: Path) -> None:
    out = _bench(tmp_path, "scale_bench.py", "--sizes", "40", "80", "--pages-per-warc", "40",
                 "--workdir", str(tmp_path / "scale"))
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert [r["pages"] for r in rows] == [40, 80]  # size N reads the first N / 40 WARCs
    assert len(list((tmp_path / "scale" / "warcs").glob("chunk-*.warc.gz"))) == 2
    for r in rows:
        assert 0 < r["documents"] <= r["pages"] and r["images_stored"] > 0
        assert r["peak_rss_mb"] > 0 and r["image_path_calls"] > 0

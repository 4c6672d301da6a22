"""The same build on Beam's multi-process local runner (real worker processes, elements
crossing process boundaries through the coders) gives byte-identical outputs to the
in-process runner's; so does it through Beam's portable job API, as Flink and Spark run it;
and groups made through run files (pipeline.file_shuffle) give the same outputs as the
runner's own shuffle, on the local runner and in the portable run's worker process."""

from __future__ import annotations

import hashlib

from pipeline.cli import main
from pipeline.run import PORTABLE_HERE
from pipeline.sample_site import prepare_demo

PARALLEL = ["--direct_num_workers=2", "--direct_running_mode=multi_processing"]


def _digests(out) -> dict[str, str]:
    """Every output file's bytes, by path; the manifest's versions and the funnel are data
    too, so they are compared whole."""
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*")) if p.is_file()}


def test_parallel_and_portable_runners_write_the_same_bytes(tmp_path):
    with prepare_demo(str(tmp_path / "input"), seed=5, n_pages=30, files=2) as demo:
        cfg = tmp_path / "cfg.yaml"
        cfg.write_text("fetch:\n  per_host_interval: 0.0\n  allowed_networks: [127.0.0.0/8]\n"
                       "sources:\n  alt_text: {}\n")
        outs = []
        runs = (("serial", []), ("parallel", PARALLEL), ("portable", PORTABLE_HERE))
        for name, beam_args in runs:
            out = tmp_path / name
            argv = ["build", str(cfg), "--input", *demo.warc_paths, "--output", str(out),
                    "--no-progress"]
            assert main(argv + (["--", *beam_args] if beam_args else [])) == 0
            outs.append(_digests(out))
        # The same build with the shuffle mode named: the runner's own on the local runner, and
        # groups through run files on the portable one, as `files` runs on a cluster's workers.
        # Only the config (and so the manifest naming it) differs.
        base = cfg.read_text()
        for mode, beam_args in (("runner", []), ("files", PORTABLE_HERE)):
            cfg.write_text(base + f"shuffle:\n  mode: {mode}\n")
            out = tmp_path / f"{mode}_shuffle"
            argv = ["build", str(cfg), "--input", *demo.warc_paths, "--output", str(out),
                    "--no-progress"]
            assert main(argv + (["--", *beam_args] if beam_args else [])) == 0
            outs.append(_digests(out))
    serial, parallel, portable, *named_modes = outs
    assert any(p.startswith("shards/interleaved/") for p in serial)
    assert any(p.startswith("shards/alt_text/") for p in serial)
    assert serial == parallel
    assert serial == portable
    for named in named_modes:
        assert named["manifest.json"] != serial["manifest.json"]
        assert {p: d for p, d in named.items() if p != "manifest.json"} == \
            {p: d for p, d in serial.items() if p != "manifest.json"}

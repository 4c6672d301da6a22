"""Shuffle volume of a build: bytes of the elements entering every GroupByKey (CoGroupByKey and
CombinePerKey included), per transform, per input page; and, when groups are made through run
files (``shuffle.mode: files``, pipeline/file_shuffle.py), the bytes written to those files.

Usage: python bench/shuffle_bench.py [--pages 2000] [--workdir /tmp/m3w-scale]
                                     [--shuffle auto|files|runner]

Reads the WARC chunks of bench/scale_bench.py (pages and photos, generated on first use), runs
the build graph on the in-process runner and reads Beam's own per-collection figures: element
counts and sampled encoded sizes of each grouping's input, as the runner encodes them (with
the coders the build registers, in the runner's own wrapping, which can be larger than what a
shuffle service stores). A combine's input is counted whole, although a runner shrinks it
before the shuffle (combiner lifting), so those rows are upper bounds. Old and new builds are
measured the same way, so the rows compare.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

GBK = "beam:transform:group_by_key:v1"


def grouped_inputs(proto) -> dict[str, str]:
    """PCollection id -> name of the GroupByKey transform it enters."""
    out = {}
    for t in proto.components.transforms.values():
        if t.spec.urn == GBK:
            for pcoll in t.inputs.values():
                out[pcoll] = t.unique_name
    return out


def measured_bytes(result) -> dict[str, tuple[int, float]]:
    """PCollection id -> (elements, mean encoded bytes)."""
    from apache_beam.metrics import monitoring_infos as mi

    counts: dict[str, int] = defaultdict(int)
    sizes: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for info in result.monitoring_infos():
        pcoll = info.labels.get("PCOLLECTION")
        if not pcoll:
            continue
        if info.urn == mi.ELEMENT_COUNT_URN:
            counts[pcoll] += mi.extract_counter_value(info)
        elif info.urn == mi.SAMPLED_BYTE_SIZE_URN:
            n, total, _lo, _hi = mi.extract_distribution(info)
            sizes[pcoll][0] += n
            sizes[pcoll][1] += total
    return {p: (counts[p], sizes[p][1] / sizes[p][0] if sizes[p][0] else 0.0) for p in counts}


def stage_of(name: str) -> str:
    """A readable stage label: the outermost transforms of a GroupByKey's full name."""
    parts = [p for p in name.split("/") if p not in ("GroupByKey", "CoGroupByKeyImpl")]
    return "/".join(parts[:3])


def run_file_bytes(out: str) -> dict[str, tuple[int, int]]:
    """Group label -> (run files, bytes) under the build's shuffle folder."""
    from pipeline.file_shuffle import SHUFFLE_DIR

    root = os.path.join(out, SHUFFLE_DIR)
    found = {}
    for label in sorted(os.listdir(root)) if os.path.isdir(root) else ():
        files = [os.path.join(root, label, f) for f in os.listdir(os.path.join(root, label))]
        found[label] = (len(files), sum(os.path.getsize(f) for f in files))
    return found


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=2000)
    ap.add_argument("--pages-per-warc", type=int, default=2000)
    ap.add_argument("--workdir", default="/tmp/m3w-scale")
    ap.add_argument("--shuffle", default="auto", choices=("auto", "files", "runner"))
    ap.add_argument("--all", action="store_true",
                    help="also list the largest collections, grouped or not")
    a = ap.parse_args()
    import apache_beam as beam

    from bench.scale_bench import ensure_chunks
    from pipeline.build import build_graph
    from pipeline.config import load_config
    from pipeline.run import pipeline_options

    k = -(-a.pages // a.pages_per_warc)
    paths = ensure_chunks(a.workdir, k, a.pages_per_warc, 2)
    cfg = load_config(overrides={"sources": {"interleaved": {"input": paths}},
                                 "fetch": {"enabled": False},
                                 "shuffle": {"mode": a.shuffle}})
    scratch = tempfile.TemporaryDirectory(prefix="m3w-shuffle-")  # removed when main ends
    out = scratch.name
    p = beam.Pipeline(options=pipeline_options([]))
    build_graph(p, cfg, out)
    grouped = grouped_inputs(p.to_runner_api())
    result = p.run()
    result.wait_until_finish()
    sizes = measured_bytes(result)
    pages = a.pages_per_warc * k
    rows: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    for pcoll, gbk in grouped.items():
        n, mean = sizes.get(pcoll, (0, 0.0))
        rows[stage_of(gbk)][0] += n
        rows[stage_of(gbk)][1] += n * mean
    total = sum(b for _, b in rows.values())
    print(f"{pages} pages; bytes entering each GroupByKey (sampled encoded sizes)\n")
    print(f"{'grouping':<58} {'elements':>10} {'MB':>9} {'bytes/page':>11}")
    for name, (n, b) in sorted(rows.items(), key=lambda kv: -kv[1][1]):
        print(f"{name[:58]:<58} {int(n):>10} {b / 1e6:>9.1f} {b / pages:>11.0f}")
    print(f"{'total':<58} {'':>10} {total / 1e6:>9.1f} {total / pages:>11.0f}")
    runs = run_file_bytes(out)
    if runs:
        print("\nbytes written to run files (groups made outside the runner's shuffle)\n")
        print(f"{'group':<58} {'files':>10} {'MB':>9} {'bytes/page':>11}")
        for name, (n, b) in sorted(runs.items(), key=lambda kv: -kv[1][1]):
            print(f"{name[:58]:<58} {n:>10} {b / 1e6:>9.1f} {b / pages:>11.0f}")
        run_total = sum(b for _, b in runs.values())
        print(f"{'total':<58} {'':>10} {run_total / 1e6:>9.1f} {run_total / pages:>11.0f}")
    if a.all:
        names = {pid: pc.unique_name for pid, pc in
                 p.to_runner_api().components.pcollections.items()}
        print("\nlargest collections (all edges)")
        top = sorted(sizes.items(), key=lambda kv: -kv[1][0] * kv[1][1])[:20]
        for pid, (n, mean) in top:
            print(f"{names.get(pid, pid)[:58]:<58} {n:>10} {n * mean / 1e6:>9.1f}")


if __name__ == "__main__":
    main()

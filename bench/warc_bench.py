"""WARC reading benchmark: the fast path for plain gzip members (``scrapers.warc_fast``)
against warcio alone, on the same files.

Usage: python bench/warc_bench.py [--pages 2000] [--rounds 3] [--warc PATH ...]

Without ``--warc``, a generated site of ``--pages`` pages is written with its photos stored in
the WARC, as ``bench/scale_bench.py`` writes its chunks. With ``--warc`` (Common Crawl files,
for example) those files are read instead. For each reader the bench prints the CPU time of
reading every record in order, and of reading up to 2,000 image records again at their offsets
as the image stage does: the best of ``--rounds``, the readers taking turns. Before any timing
it checks that the two readers give equal records, offsets and file statuses, so no figure
comes from a reader that read something else.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import scrapers.warc_read as wr  # noqa: E402


def read_all(paths: list[str], fast: bool) -> tuple[list[wr.WebRecord], list[tuple[int, bool]]]:
    recs, statuses = [], []
    for path in paths:
        status = wr.ReadStatus()
        with open(path, "rb") as fh:
            recs += list(wr.iter_records(fh, path, status=status, fast=fast))
        statuses.append((status.records, status.clean))
    return recs, statuses


def read_through(paths: list[str], fast: bool) -> None:
    """Every record read and dropped, as the build's reader hands them on."""
    for path in paths:
        with open(path, "rb") as fh:
            for _ in wr.iter_records(fh, path, fast=fast):
                pass


def read_again(located: list[tuple[str, int]], fast: bool) -> list[wr.WebRecord]:
    handles: dict[str, object] = {}
    try:
        out = []
        for path, offset in located:
            fh = handles.get(path) or handles.setdefault(path, open(path, "rb"))
            out.append(wr.read_record_at(fh, offset, path, fast=fast))
        return out
    finally:
        for fh in handles.values():
            fh.close()


def cpu_of(fn: Callable[..., object], *args: object) -> float:
    started = time.process_time()
    fn(*args)
    return time.process_time() - started


def generated(pages: int, folder: str) -> list[str]:
    from pipeline.sample_site import generate_site, write_site_warc

    path = os.path.join(folder, "site.warc.gz")
    site = generate_site(seed=0, n_pages=pages, base_url="http://bench.example")
    write_site_warc(site, path, images_in_warc=1.0, seed=0)
    return [path]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--warc", nargs="*", default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="m3w-warc-bench-") as folder:
        paths = args.warc or generated(args.pages, folder)
        fast = read_all(paths, True)
        if fast != read_all(paths, False):
            sys.exit("the fast path read these files differently from warcio: no figures")
        recs = fast[0]
        located = [(r.path, r.offset) for r in recs if r.kind == "image" and r.payload][:2000]
        if read_again(located, True) != read_again(located, False):
            sys.exit("a record read again differs between the readers: no figures")
        mb = sum(os.path.getsize(p) for p in paths) / 1e6
        row = {"files": len(paths), "megabytes": round(mb, 1), "records": len(recs),
               "images_read_again": len(located)}
        readers = {"fast": True, "warcio": False}
        best = {(name, step): float("inf") for name in readers for step in ("read", "again")}
        for _ in range(args.rounds):  # the readers take turns: the machine's speed drifts
            for name, on in readers.items():
                best[name, "read"] = min(best[name, "read"],
                                         cpu_of(read_through, paths, on))
                best[name, "again"] = min(best[name, "again"],
                                          cpu_of(read_again, located, on))
        for name in readers:
            row[f"{name}_read_s"] = round(best[name, "read"], 3)
            row[f"{name}_records_per_cpu_s"] = round(len(recs) / best[name, "read"])
            row[f"{name}_read_again_ms"] = round(
                1000 * best[name, "again"] / max(1, len(located)), 3)
    print(f"{row['files']} file(s), {row['megabytes']} MB, {row['records']} records "
          f"(read equally by both readers)")
    print(f"{'reader':8s} {'read s':>8s} {'records/CPU-s':>14s} {'again ms/record':>16s}")
    for name in ("fast", "warcio"):
        print(f"{name:8s} {row[f'{name}_read_s']:8.3f} {row[f'{name}_records_per_cpu_s']:14d} "
              f"{row[f'{name}_read_again_ms']:16.3f}")
    print(json.dumps(row))


if __name__ == "__main__":
    main()

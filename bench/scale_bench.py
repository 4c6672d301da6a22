"""Corpus-scale benchmark: the whole interleaved build on generated sites whose pages and photos
are all stored in WARC files, at growing sizes, to show how cost and memory grow.

Usage: python bench/scale_bench.py [--sizes 10000 100000] [--pages-per-warc 2000]
                                   [--workdir /tmp/m3w-scale] [--workers 1]
                                   [--check-runners 2]

Pages come in chunks of ``--pages-per-warc``: chunk k is the sample site with seed k on its own
host, written once to ``WORKDIR/warcs/chunk-0000k.warc.gz`` and reused by every size (size N
reads the first N / chunk files). Generation runs before the clock starts. Every build runs in
a fresh child process with fetching off (every image is in the WARCs), so the figures are the
build's alone: CPU seconds, peak resident memory of the child, documents and checked images
per CPU-second, and (one worker) the image path's own rate and the CPU a page costs outside
it (``build_bench.cpu_split``). Memory per size is the quantity to watch: it should stay flat
as the corpus grows, as a worker of a distributed runner would hold it.

``--check-runners N`` builds each size a second time on Beam's multi-process local runner with N
worker processes (``WORKDIR/out-SIZE-Np``), and ``--check-portable`` through Beam's portable job
API with the worker in a process of its own, as Flink and Spark run it
(``WORKDIR/out-SIZE-portable``, the runner's own shuffle). Each compares every output file's
bytes with the in-process build's; the bench exits non-zero when any differs.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from build_bench import cpu_split  # noqa: E402  (bench/ is this script's folder)
from children import result_of  # noqa: E402


def chunk_path(workdir: str, k: int) -> str:
    return os.path.join(workdir, "warcs", f"chunk-{k:05d}.warc.gz")


def _write_chunk(args: tuple[str, int, int]) -> str:
    from pipeline.sample_site import generate_site, write_site_warc

    workdir, k, pages = args
    path = chunk_path(workdir, k)
    if not os.path.exists(path):
        site = generate_site(seed=k, n_pages=pages, base_url=f"http://site{k:05d}.example")
        tmp = path + ".partial.warc.gz"
        write_site_warc(site, tmp, images_in_warc=1.0, seed=k)
        os.replace(tmp, path)
    return path


def ensure_chunks(workdir: str, n_chunks: int, pages: int, procs: int) -> list[str]:
    os.makedirs(os.path.join(workdir, "warcs"), exist_ok=True)
    todo = [(workdir, k, pages) for k in range(n_chunks)]
    with mp.get_context("fork").Pool(procs) as pool:
        return pool.map(_write_chunk, todo)


def runner_args(processes: int | str) -> list[str]:
    """Beam arguments for a build in one process, N local worker processes or "portable"."""
    from pipeline.run import PORTABLE_HERE

    if processes == "portable":
        return list(PORTABLE_HERE)
    if processes > 1:
        return [f"--direct_num_workers={processes}", "--direct_running_mode=multi_processing"]
    return []


def _build(paths: list[str], out: str, beam_args: list[str], q) -> None:
    from pipeline import progress
    from pipeline.config import load_config
    from pipeline.run import run_build

    cfg = load_config(overrides={"sources": {"interleaved": {"input": paths}},
                                 "fetch": {"enabled": False}})
    t0 = time.perf_counter()
    funnel = run_build(cfg, out, beam_args, progress=False, overwrite=True)
    # The build's own peak (and its worker processes', when it has any), measured here: the
    # parent's children include the processes that generated the inputs.
    peak_kb = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    q.put((time.perf_counter() - t0, funnel["totals"],
           {s["stage"]: s for s in funnel["stages"]}, progress.snapshot(), peak_kb))


def measure(paths: list[str], out: str, processes: int | str) -> dict:
    """One build in a fresh child (``runner_args(processes)``): its wall time, CPU time, peak
    RSS and funnel totals."""
    ctx = mp.get_context("spawn")  # nothing of this process's memory is inherited
    q = ctx.Queue()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    child = ctx.Process(target=_build, args=(paths, out, runner_args(processes), q))
    child.start()
    wall, totals, stages, counts, peak_kb = result_of(child, q, f"the build of {out}")
    child.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    image_stage = stages.get("image", {"rejected_by_reason": {}})
    checked = totals.get("images_stored", 0) + sum(
        n for r, n in image_stage["rejected_by_reason"].items()
        if not r.startswith("image_rules"))
    return {
        "pages": totals["html_records"], "documents": totals["documents"],
        "images_stored": totals.get("images_stored", 0), "images_checked": checked,
        "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
        "documents_per_cpu_s": round(totals["documents"] / cpu, 1),
        "pages_per_cpu_s": round(totals["html_records"] / cpu, 1),
        "images_per_cpu_s": round(checked / cpu, 1),
        "peak_rss_mb": round(peak_kb / 1024, 1),
        **(cpu_split(cpu, totals["html_records"], counts) if processes == 1 else {}),
    }


def digests(out: str) -> dict[str, str]:
    """Every output file's SHA-256, by its path under ``out``."""
    from scrapers.video import sha256_file

    return {os.path.relpath(os.path.join(folder, name), out):
            sha256_file(os.path.join(folder, name))
            for folder, _, names in os.walk(out) for name in names}


def compare_outputs(a: str, b: str) -> tuple[list[str], int]:
    """(the output files that differ between builds ``a`` and ``b``, those missing in one
    included; the number of files ``a`` wrote)."""
    da, db = digests(a), digests(b)
    return sorted(p for p in da.keys() | db.keys() if da.get(p) != db.get(p)), len(da)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--pages-per-warc", type=int, default=2000)
    ap.add_argument("--workdir", default="/tmp/m3w-scale")
    ap.add_argument("--workers", type=int, default=1, help="local runner processes")
    ap.add_argument("--gen-procs", type=int, default=2)
    ap.add_argument("--check-runners", type=int, default=0, metavar="N",
                    help="build each size again with N processes and compare the outputs")
    ap.add_argument("--check-portable", action="store_true",
                    help="build each size again through the portable job API and compare")
    a = ap.parse_args()
    sizes = sorted(a.sizes)
    n_chunks = -(-sizes[-1] // a.pages_per_warc)
    t0 = time.perf_counter()
    paths = ensure_chunks(a.workdir, n_chunks, a.pages_per_warc, a.gen_procs)
    print(f"inputs: {n_chunks} WARC files of {a.pages_per_warc} pages "
          f"({sum(os.path.getsize(p) for p in paths) / 1e9:.2f} GB) ready in "
          f"{time.perf_counter() - t0:.0f} s", flush=True)
    rows, differ = [], []
    for size in sizes:
        k = -(-size // a.pages_per_warc)
        out = os.path.join(a.workdir, f"out-{size}")
        builds: list[tuple[str, int | str]] = [(out, a.workers)]
        if a.check_runners > 1:
            builds.append((f"{out}-{a.check_runners}p", a.check_runners))
        if a.check_portable:
            builds.append((f"{out}-portable", "portable"))
        for folder, processes in builds:
            res = measure(paths[:k], folder, processes)
            res["size"], res["processes"] = size, processes
            rows.append(res)
            print(json.dumps(res), flush=True)
        for folder, processes in builds[1:]:
            bad, n_files = compare_outputs(out, folder)
            differ += bad
            how = "through the portable job API" if processes == "portable" else \
                f"in {processes} processes"
            print(f"{size} pages, against the build {how}: "
                  + (f"{len(bad)} files differ: {bad[:5]}" if bad else
                     f"all {n_files} output files identical"), flush=True)
    print(f"\n{'pages':>9} {'procs':>8} {'docs':>8} {'images':>8} {'cpu s':>8} {'docs/cpu-s':>11} "
          f"{'imgs/cpu-s':>11} {'path img/s':>11} {'ms/page':>8} {'peak MB':>9} {'vs first':>9}")
    for r in rows:  # path img/s: the image path's own rate; ms/page: CPU outside it
        print(f"{r['pages']:>9} {r['processes']:>8} {r['documents']:>8} "
              f"{r['images_stored']:>8} {r['cpu_s']:>8} "
              f"{r['documents_per_cpu_s']:>11} {r['images_per_cpu_s']:>11} "
              f"{r.get('image_path_images_per_cpu_s', '-'):>11} "
              f"{r.get('cpu_ms_per_page_outside_images', '-'):>8} "
              f"{r['peak_rss_mb']:>9} {r['peak_rss_mb'] / rows[0]['peak_rss_mb']:>8.2f}x")
    if differ:
        sys.exit(f"outputs differ between runners: {len(differ)} files")


if __name__ == "__main__":
    main()

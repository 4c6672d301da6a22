"""Build throughput on the generated sample site: documents/s per core, images/s, peak memory.

Usage: python bench/build_bench.py [--pages 400] [--workers 1]
Runs the real `m3w build` (local runner) on a generated site: pages and half of the images in
a WARC, the other half fetched from a server on 127.0.0.1 (generated and served by a child
process, so neither is counted as the build's CPU time). Then a 10-page build measures the
start-up cost every build pays, so the CPU a page costs can be told apart from it.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _serve(pages: int, seed: int, tmp: str, q) -> None:
    from pipeline.sample_site import prepare_demo

    with prepare_demo(tmp, seed=seed, n_pages=pages) as demo:
        q.put((demo.warc_paths, demo.summary["images_in_warc"], demo.summary["images_served"]))
        time.sleep(3600)


def cpu_split(cpu: float, pages: int, counts: dict[str, int]) -> dict[str, float]:
    """A build's CPU split into the image path (decode, resize, hash, statistics, encode, as
    timed by the image stage on its threads) and the rest, per page. In-process builds only:
    worker processes keep their own counts."""
    from pipeline import progress

    image_cpu = counts.get(progress.IMAGE_PATH_CPU_US, 0) / 1e6
    calls = counts.get(progress.IMAGE_PATH_CALLS, 0)
    return {
        "image_path_cpu_s": round(image_cpu, 2), "image_path_calls": calls,
        "image_path_images_per_cpu_s": round(calls / image_cpu, 1) if image_cpu else 0.0,
        "cpu_ms_per_page_outside_images": round((cpu - image_cpu) / max(pages, 1) * 1000, 2),
    }


def startup_cpu(tmp: str, pages: int = 10) -> float:
    """CPU seconds of a build of ``pages`` generated pages (images in the WARC), run after
    the measured one: what any build costs before its records (graph construction, the
    runner's plan, a bundle processor per stage), with imports and models already loaded."""
    from pipeline.config import load_config
    from pipeline.run import run_build
    from pipeline.sample_site import generate_site, write_site_warc

    warc = os.path.join(tmp, "startup.warc.gz")
    write_site_warc(generate_site(seed=1, n_pages=pages, base_url="http://startup.example"),
                    warc, images_in_warc=1.0, seed=1)
    cfg = load_config(overrides={"sources": {"interleaved": {"input": [warc]}}})
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    run_build(cfg, os.path.join(tmp, "startup-out"), [], progress=False)
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    return r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=1, help="local runner processes")
    a = ap.parse_args()
    from pipeline import progress
    from pipeline.config import load_config
    from pipeline.run import run_build

    scratch = tempfile.TemporaryDirectory(prefix="m3w-bench-")  # removed when main ends
    tmp = scratch.name
    q = mp.get_context("fork").Queue()
    server = mp.get_context("fork").Process(target=_serve, args=(a.pages, a.seed, tmp, q),
                                            daemon=True)
    server.start()
    warcs, in_warc, served = q.get(timeout=300)
    cfg = load_config(overrides={
        "sources": {"interleaved": {"input": list(warcs)}},
        "fetch": {"allowed_networks": ["127.0.0.0/8"], "per_host_interval": 0.0},
    })
    beam_args = []
    if a.workers > 1:
        beam_args = [f"--direct_num_workers={a.workers}", "--direct_running_mode=multi_processing"]
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    funnel = run_build(cfg, os.path.join(tmp, "out"), beam_args, progress=False)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    server.terminate()
    cpu = (r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime)
    if a.workers > 1:  # worker processes are children of the build
        cpu += c1.ru_utime + c1.ru_stime - c0.ru_utime - c0.ru_stime
    t = funnel["totals"]
    pages = t["html_records"]
    split = cpu_split(cpu, pages, progress.snapshot()) if a.workers == 1 else {}
    image_stage = next(s for s in funnel["stages"] if s["stage"] == "image")
    # images decoded or fetched: not those the extractor skipped by rule (logos, pixels...)
    images = t["images_stored"] + sum(n for r, n in image_stage["rejected_by_reason"].items()
                                      if not r.startswith("image_rules"))
    result = {
        "pages": pages, "documents": t["documents"], "images_checked": images,
        "images_stored": t["images_stored"], "warc_images": in_warc,
        "served_images": served, "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2), "pages_per_s": round(pages / wall, 1),
        "pages_per_cpu_s": round(pages / cpu, 1),
        "documents_per_cpu_s": round(t["documents"] / cpu, 1),
        "images_per_s": round(images / wall, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        **split,
    }
    print(f"build: {pages} pages -> {t['documents']} documents, {t['images_stored']} images "
          f"stored of {images} checked, in {wall:.1f}s wall / {cpu:.1f}s CPU")
    print(f"  pages/s {result['pages_per_s']}  pages per CPU-s {result['pages_per_cpu_s']}  "
          f"documents per CPU-s {result['documents_per_cpu_s']}  images/s {result['images_per_s']}"
          f"  peak RSS {result['peak_rss_mb']} MB")
    if split:
        print(f"  image path: {split['image_path_images_per_cpu_s']} images per CPU-s of its "
              f"own ({split['image_path_cpu_s']} s); outside it "
              f"{split['cpu_ms_per_page_outside_images']} ms CPU a page")
    if split:
        fixed = startup_cpu(tmp)
        result["startup_cpu_s"] = round(fixed, 2)
        result["cpu_ms_per_page_outside_images_less_startup"] = round(
            split["cpu_ms_per_page_outside_images"] - fixed / max(pages, 1) * 1000, 2)
        print(f"  start-up (a 10-page build): {fixed:.2f} s CPU; outside the image path less "
              f"start-up: {result['cpu_ms_per_page_outside_images_less_startup']} ms a page")
    print(json.dumps(result))


if __name__ == "__main__":
    main()

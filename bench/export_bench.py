"""Export speed and memory: `m3w export` of one build to every format, each in a fresh process.

Usage: python bench/export_bench.py --build DIR [--out /tmp/m3w-export] [--max-rows 10000]
       python bench/export_bench.py --build DIR --pages 2000   # build DIR first if it is empty

For each format (obelics, obelics with --embed-images, mmc4, and hf when the build has pair
sources) the export runs in a fresh child process, which measures its own resource usage
around the export call (imports excluded): CPU seconds (user + system), resident memory once
imported and at its peak, and the documents (or pairs) written per CPU-second, i.e. per core.
The export reads one shard at a time and writes bounded files, so peak memory should not
depend on the size of the build: compare it across builds of different sizes. ``--pages N``
builds DIR from a generated site of N pages with every image in the WARC (fetching off), when
DIR holds no manifest.json yet.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

RUNS = (("obelics", ()), ("obelics+embed", ("--embed-images",)), ("mmc4", ()), ("hf", ()))


def ensure_build(build: str, pages: int, workdir: str) -> None:
    """Build ``build`` from a generated site of ``pages`` pages, unless it is built already."""
    if os.path.exists(os.path.join(build, "manifest.json")):
        return
    if not pages:
        sys.exit(f"{build} holds no build: give --pages N to make one")
    from pipeline.config import load_config
    from pipeline.run import run_build
    from pipeline.sample_site import generate_site, write_site_warc

    warc = os.path.join(workdir, "site.warc.gz")
    site = generate_site(seed=0, n_pages=pages, base_url="http://bench.example")
    write_site_warc(site, warc, images_in_warc=1.0)
    cfg = load_config(overrides={"sources": {"interleaved": {"input": [warc]},
                                             "alt_text": {"from": "interleaved"}},
                                 "fetch": {"enabled": False}})
    run_build(cfg, build, progress=False, overwrite=True)


# The child's peak memory is read from /proc (VmHWM): getrusage's maxrss would carry the peak
# of the process it was forked from (this one, after building) across exec.
CHILD = """
import argparse, json, resource, sys
from pipeline.commands.export import add_arguments, export_command
from pipeline.commands.export import job  # noqa: F401  (every import before the clock)

def peak_kb():
    try:
        with open("/proc/self/status") as fh:
            return int(next(x for x in fh if x.startswith("VmHWM:")).split()[1])
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

p = argparse.ArgumentParser()
add_arguments(p)
args = p.parse_args(sys.argv[1:])
before, base = resource.getrusage(resource.RUSAGE_SELF), peak_kb()
code = export_command(args, [])
after = resource.getrusage(resource.RUSAGE_SELF)
cpu = lambda r: r.ru_utime + r.ru_stime
print(json.dumps({"code": code, "cpu_s": cpu(after) - cpu(before),
                  "base_rss_kb": base, "peak_rss_kb": peak_kb()}))
"""


def measure(build: str, fmt: str, extra: tuple[str, ...], out: str, max_rows: int) -> dict:
    """One export in a fresh child process: wall and CPU seconds of the export itself (imports
    excluded), the resident memory once imported and at its peak, what it wrote."""
    shutil.rmtree(out, ignore_errors=True)
    argv = [build, "--format", fmt, "--output", out, "--max-rows", str(max_rows), *extra]
    env = dict(os.environ, PYTHONPATH=ROOT, HF_HUB_OFFLINE="1")
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CHILD, *argv], env=env, check=True,
                          capture_output=True, text=True)
    wall = time.perf_counter() - t0
    child = json.loads(done.stdout.strip().splitlines()[-1])
    if child["code"] != 0:
        raise RuntimeError(f"export {' '.join(argv)} failed: {done.stderr}")
    with open(os.path.join(out, "export.json"), encoding="utf-8") as fh:
        summary = json.load(fh)
    cpu = child["cpu_s"]
    return {"wall_s": wall, "cpu_s": cpu, "base_rss_mb": child["base_rss_kb"] / 1024,
            "peak_rss_mb": child["peak_rss_kb"] / 1024,
            "samples": summary["samples"], "images": summary["images"],
            "files": len(summary["files"]),
            "out_mb": sum(f["bytes"] for f in summary["files"]) / 1e6,
            "per_cpu_s": summary["samples"] / cpu if cpu else 0.0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True, help="a build's output directory")
    ap.add_argument("--out", default=None, help="scratch folder for the exports")
    ap.add_argument("--max-rows", type=int, default=10_000)
    ap.add_argument("--pages", type=int, default=0,
                    help="build --build first from a generated site of this many pages")
    args = ap.parse_args()
    own = None if args.out else tempfile.TemporaryDirectory(prefix="m3w-export-bench-")
    scratch = args.out or own.name  # our own is removed when main ends
    ensure_build(args.build, args.pages, scratch)
    with open(os.path.join(args.build, "manifest.json"), encoding="utf-8") as fh:
        built = set(json.load(fh)["sources"])
    print(f"build {args.build}: sources {', '.join(sorted(built))}")
    print(f"{'format':<15}{'samples':>9}{'images':>9}{'files':>7}{'out MB':>9}{'wall s':>8}"
          f"{'CPU s':>8}{'per core/s':>12}{'base MB':>9}{'peak MB':>9}")
    for name, extra in RUNS:
        fmt = name.split("+")[0]
        wanted = {"alt_text", "image_text"} if fmt == "hf" else {"interleaved"}
        if not wanted & built:
            print(f"{name:<15}(no {' or '.join(sorted(wanted))} source in the build)")
            continue
        r = measure(args.build, fmt, extra, os.path.join(scratch, name), args.max_rows)
        print(f"{name:<15}{r['samples']:>9}{r['images']:>9}{r['files']:>7}{r['out_mb']:>9.1f}"
              f"{r['wall_s']:>8.1f}{r['cpu_s']:>8.1f}{r['per_cpu_s']:>12.0f}"
              f"{r['base_rss_mb']:>9.0f}{r['peak_rss_mb']:>9.0f}")
    print("per core/s: documents (hf: pairs) written per CPU-second of the export itself "
          "(imports excluded); base MB: resident memory once imported; peak MB: its maximum; "
          "wall s: the whole child process")


if __name__ == "__main__":
    main()

"""How long `m3w report` takes on a build, and how much memory it holds.

Usage: python bench/report_bench.py --build DIR [--samples 50] [--seed 0] [--output OUT]
                                    [--repeat 1]

The report runs in a fresh child process (`python -m pipeline.cli report DIR ...`), so the
figures are its alone: wall seconds and the child's peak resident memory. Run it on builds of
growing size (say 2,000 and 20,000 documents): the report reads the stats files whole but only
a bounded, seeded sample of shards and rejects, so both figures should stay about flat.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def build_size(build: str) -> dict[str, int]:
    """Documents, shards and reject rows of a build, from its manifest and funnel."""
    with open(os.path.join(build, "manifest.json"), encoding="utf-8") as fh:
        manifest = json.load(fh)
    with open(os.path.join(build, "stats", "funnel.json"), encoding="utf-8") as fh:
        funnel = json.load(fh)
    sources = manifest.get("sources", {})
    return {
        "documents": int(sources.get("interleaved", {}).get("samples", 0)),
        "samples": sum(int(s.get("samples", 0)) for s in sources.values()),
        "shards": sum(len(s.get("shards", [])) for s in sources.values()),
        "rejects": sum(int(s.get("rejected", 0)) for s in funnel.get("stages", [])),
    }


def run_once(build: str, out: str, samples: int, seed: int) -> tuple[float, float]:
    """(wall seconds, peak RSS in MiB) of one `m3w report` child process."""
    cmd = [sys.executable, "-m", "pipeline.cli", "report", build, "--output", out,
           "--samples", str(samples), "--seed", str(seed)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    stdout, stderr = proc.stdout.read(), proc.stderr.read()
    proc.stdout.close()
    proc.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"m3w report failed ({code}):\n{stdout}{stderr}")
    peak = usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)  # -> MiB
    return seconds, peak


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", required=True, metavar="DIR", help="a finished build")
    ap.add_argument("--samples", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--output", metavar="DIR", help="where the report goes (default: a temp dir)")
    ap.add_argument("--repeat", type=int, default=1, help="runs; the fastest is reported")
    args = ap.parse_args()
    size = build_size(args.build)
    print(f"build {args.build}: {size['documents']:,} documents, {size['samples']:,} samples "
          f"in {size['shards']:,} shards, {size['rejects']:,} rejects")
    runs = []
    with tempfile.TemporaryDirectory(prefix="m3w-report-bench-") as tmp:
        out = args.output or os.path.join(tmp, "report")
        for i in range(max(1, args.repeat)):
            seconds, peak = run_once(args.build, out, args.samples, args.seed)
            runs.append((seconds, peak))
            print(f"run {i + 1}: {seconds:.2f} s, peak RSS {peak:,.0f} MiB")
    seconds = min(s for s, _ in runs)
    peak = max(p for _, p in runs)
    print(f"m3w report --samples {args.samples}: {seconds:.2f} s wall, peak RSS {peak:,.0f} MiB"
          f" ({size['documents']:,} documents)")
    print(json.dumps({"documents": size["documents"], "seconds": round(seconds, 2),
                      "peak_rss_mib": round(peak, 1), "samples": args.samples}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`m3w report DIR`: a static, self-contained HTML site showing a build as its readers and its
curators see it: the overview and funnel, the rejects by reason next to their thresholds, the
kept documents rendered, the pair sources, and the distributions.

It reads the small stats files whole and only a bounded, seeded sample of shards and rejects
(``sample_source``, ``sample_rejects``), so time and memory do not grow with the corpus. The
site needs no server and nothing from the network: pages, ``static/`` (the shipped CSS and
script), ``charts/`` (SVG drawn by matplotlib) and ``media/`` (images) open from ``file://``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time

from pipeline.commands.report.loading import ReportError

MARKER = ".m3w-report"  # marks a folder this command wrote, so it may clear it on a rerun
_OWNED = ("media", "charts", "static")
STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")


def _prepare(out: str) -> None:
    """Create ``out``, or clear what an earlier report wrote there; never touch a folder of
    other files."""
    if os.path.isdir(out) and os.listdir(out) and not os.path.exists(os.path.join(out, MARKER)):
        raise ReportError(f"{out}: exists and was not written by m3w report; choose another "
                          "--output")
    os.makedirs(out, exist_ok=True)
    for name in os.listdir(out):
        path = os.path.join(out, name)
        if name in _OWNED and os.path.isdir(path):
            shutil.rmtree(path)
        elif name.endswith(".html"):
            os.remove(path)
    with open(os.path.join(out, MARKER), "w", encoding="utf-8") as fh:
        fh.write("written by m3w report\n")
    shutil.copytree(STATIC, os.path.join(out, "static"))


def _write(out: str, name: str, text: str) -> None:
    with open(os.path.join(out, name), "w", encoding="utf-8") as fh:
        fh.write(text)


def build_report(build_dir: str, out: str, samples: int = 50, seed: int = 0) -> str:
    """Write the report of the build at ``build_dir`` into ``out``; returns index.html's path.
    Raises ReportError, naming the file, when a build file is missing or corrupt."""
    from pipeline.commands.report.charts import Charts
    from pipeline.commands.report.distributions import distributions_body
    from pipeline.commands.report.documents import documents_body
    from pipeline.commands.report.html import esc, page
    from pipeline.commands.report.loading import load_build
    from pipeline.commands.report.media import MediaDir
    from pipeline.commands.report.overview import overview_body
    from pipeline.commands.report.pairs import pairs_body
    from pipeline.commands.report.reject_sample import MAX_ROWS_PER_STAGE, sample_rejects
    from pipeline.commands.report.rejects import rejects_body
    from pipeline.commands.report.shard_sample import SourceSample, sample_source

    if samples < 1:
        raise ReportError("--samples must be at least 1")
    build = load_build(build_dir)
    kinds = {name: str(src.get("kind") or name) for name, src in build.sources.items()}
    shard_samples = {name: sample_source(build, name, samples, seed) for name in build.sources}
    docs = next((shard_samples[n] for n, k in kinds.items() if k == "interleaved"), None)
    doc_keys = frozenset(s.key for s in docs.samples) if docs else frozenset()
    rejects = sample_rejects(build, samples, seed, doc_keys, MAX_ROWS_PER_STAGE)

    _prepare(out)
    media, charts = MediaDir(out), Charts(out)
    name = "/".join(os.path.normpath(build_dir).split(os.sep)[-2:]) or build_dir
    read = ", ".join(f"{n} {s.seen:,} samples in {s.shards_read} of {s.shards_total} shards"
                     for n, s in shard_samples.items())
    rows_read = ", ".join(f"{st} {n:,}" for st, n in sorted(rejects.rows_read.items()))
    sampled = esc(f"Seed {seed}, up to {samples} samples per source and examples per reason. "
                  f"Shards read: {read or 'none'}. Reject rows read (at most "
                  f"{MAX_ROWS_PER_STAGE:,} per stage): {rows_read or 'none'}.")
    pairs = {n: s for n, s in shard_samples.items() if kinds[n] != "interleaved"}
    _write(out, "index.html", page("Overview", "index.html", overview_body(build, sampled), name))
    _write(out, "rejects.html", page("Rejects by stage and reason", "rejects.html",
                                     rejects_body(build, rejects, charts, media), name))
    _write(out, "documents.html", page("Documents", "documents.html", documents_body(
        docs or SourceSample("interleaved"), rejects, media), name))
    _write(out, "pairs.html", page("Pair sources", "pairs.html",
                                   pairs_body(pairs, kinds, media), name))
    _write(out, "distributions.html", page(
        "Distributions", "distributions.html",
        distributions_body(build.summaries, kinds, shard_samples, charts, build.config), name))
    return os.path.join(out, "index.html")


def default_output(build_dir: str) -> str:
    return os.path.join(build_dir, "report") if "://" not in build_dir else "report"


def report_command(args: argparse.Namespace) -> int:
    out = os.path.abspath(args.output or default_output(args.dir))
    t0 = time.perf_counter()
    try:
        index = build_report(args.dir, out, samples=args.samples, seed=args.seed)
    except ReportError as exc:
        print(f"m3w report: {exc}", file=sys.stderr)
        return 2
    print(f"report written in {time.perf_counter() - t0:.1f}s: {index}")
    return 0

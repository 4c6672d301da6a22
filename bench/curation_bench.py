"""Corpus-level curation benchmark: quality filters and deduplication as Beam stages on a
generated corpus with planted duplicates, at two sizes.

Usage: python bench/curation_bench.py [--sizes 10000 100000]

Each (size, stage) pair runs as its own `m3w`-style Beam pipeline in a fresh child process:
documents are generated inside the pipeline (nothing is held by the driver), pass through the
stage, and are counted. A stage's documents/s per core is the size divided by the run's CPU
time less that of the generate-and-count baseline. Peak memory is the child's peak RSS. The
stages group as a build does (``shuffle.mode: auto``: through run files on the local runner);
peak memory as the corpus grows is the figure to watch.

With ``--shuffle N`` it measures instead what the dedup stage sends through shuffles: N
generated documents pass through ``Deduplicate`` alone, and every GroupByKey and CombinePerKey
inside it gets a measuring branch on its input, summing the pickled size of each element
(Beam's coder pickles documents too). A CombinePerKey's input is counted before combiner
lifting, an upper bound of what it shuffles. ``--dedup-from FILE`` measures the
``Deduplicate`` of another copy of the module (e.g. an earlier version) the same way.

Planted duplicates (by document index, deterministic): 5% re-crawls of an earlier URL, 5%
exact copies (case and punctuation changed), 10% near copies (a few words edited), and one
boilerplate footer paragraph shared by every page of a domain.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing as mp
import os
import random
import resource
import sys
import time
from collections.abc import Iterator
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from children import result_of  # noqa: E402  (bench/ is this script's folder)

CHUNK = 500
DOMAINS = 500
STAGES = ("baseline", "filters", "dedup_exact", "dedup_near", "all")


def _u(i: int, salt: str) -> float:
    h = hashlib.blake2b(f"{salt}:{i}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") / 2**64


def role(i: int) -> str:
    if i < 50:
        return "original"
    r = _u(i, "role")
    return ("url_dup" if r < 0.05 else "text_dup" if r < 0.10 else "near_dup" if r < 0.20
            else "original")


def source_of(i: int) -> int:
    """The original a planted duplicate copies: the nearest earlier original."""
    j = i - 1 - int(_u(i, "src") * 40)
    while role(j) != "original":
        j -= 1
    return j


_VOCAB: list[str] = []
_GLUE = ("the", "of", "and", "to", "in", "a", "that", "with", "for", "was", "on", "by", "as",
         "at", "from", "have", "be", "it", "this", "which")


def _vocab() -> list[str]:
    """Content words of the sample site's English prose."""
    if not _VOCAB:
        import re

        from pipeline.sample_site import text

        rng = random.Random(7)
        words = set()
        for _ in range(3000):
            words.update(re.findall(r"[a-z]{3,}", text.sentence(rng, rng.choice(text.TOPICS))))
        _VOCAB.extend(sorted(words - set(_GLUE)))
    return _VOCAB


def _sentence(rng: random.Random) -> str:
    vocab = _vocab()
    words = []
    for _ in range(rng.randint(10, 18)):
        words.append(rng.choice(_GLUE) if rng.random() < 0.4 else rng.choice(vocab))
    return words[0].capitalize() + " " + " ".join(words[1:]) + "."


def base_paragraphs(i: int) -> list[str]:
    """About 2 KB of English words in random order: no phrase repeats, so every quality
    filter passes and only the planted duplicates are duplicates."""
    rng = random.Random(i)
    return [" ".join(_sentence(rng) for _ in range(rng.randint(3, 5)))
            for _ in range(rng.randint(4, 5))]


def footer(domain: int) -> str:
    return (f"Site {domain} is published by the Harbour Press Group. Read our privacy notice "
            f"and terms of use before you share any story from this site.")


def _edit(paragraphs: list[str], i: int) -> list[str]:
    """A near copy: one word in about 80 replaced (word 5-gram Jaccard about 0.85)."""
    rng = random.Random(-i)
    out = []
    for para in paragraphs:
        words = para.split()
        for _ in range(max(1, len(words) // 80)):
            words[rng.randrange(len(words))] = rng.choice(("river", "harbour", "season"))
        out.append(" ".join(words))
    return out


def make_doc(i: int):
    from schemas import Document, TextNode

    kind = role(i)
    src = i if kind == "original" else source_of(i)
    domain = src % DOMAINS
    paras = base_paragraphs(src)
    url = f"https://site{domain}.example/story/{i}"
    date = "2024-01-01T00:00:00Z"
    if kind == "url_dup":
        url, date = f"https://site{domain}.example/story/{src}", "2024-06-01T00:00:00Z"
        paras = paras[:-1] + [paras[-1] + " Updated in June."]
    elif kind == "text_dup":
        paras = [p.upper().replace(",", "") for p in paras]
    elif kind == "near_dup":
        paras = _edit(paras, i)
    nodes = [TextNode(p) for p in paras] + [TextNode(footer(domain))]
    return Document(url=url, nodes=nodes, key=f"{i:09d}", crawl_date=date)


def _chunk(c: int, n: int):
    for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
        yield make_doc(i)


def stage_config(stage: str, near: dict | None = None):
    from pipeline.config import load_config

    cfg = load_config(overrides={"dedup": {"near": near}} if near else None)
    off = {"enabled": False}
    if stage in ("baseline", "dedup_exact", "dedup_near"):
        for level in ("node", "document"):
            cfg["filters"][level] = {k: dict(v, enabled=False)
                                     for k, v in cfg["filters"][level].items()}
    if stage in ("baseline", "filters", "dedup_near"):
        for key in ("url", "text", "domain_paragraphs"):
            cfg["dedup"][key] = dict(cfg["dedup"][key], **off)
    if stage in ("baseline", "filters", "dedup_exact"):
        cfg["dedup"]["near"] = dict(cfg["dedup"]["near"], **off)
    return cfg


def _save(value, path: str) -> None:
    with open(path, "w") as fh:
        json.dump(value, fh)


def _load_dedup(path: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location("dedup_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _reasons(element) -> Iterator[tuple[str, int]]:
    """filter:reason of each reject in a reject element (one, or a batch)."""
    from pipeline.rejects import rejects_in

    for r in rejects_in(element):
        yield f"{r.filter}:{r.reason}", 1


def run_stage(n: int, stage: str, q, dedup_from: str | None = None,
              near: dict | None = None) -> None:
    import tempfile

    import apache_beam as beam

    from pipeline.build import curate_documents
    from pipeline.file_shuffle import Shuffle
    from pipeline.label_counts import count_labels
    from pipeline.run import pipeline_options

    cfg = stage_config(stage, near)
    if dedup_from:  # this child process builds with the other Deduplicate
        import pipeline.build

        other = _load_dedup(dedup_from).Deduplicate
        # an older Deduplicate takes no work folder
        pipeline.build.Deduplicate = lambda c, *_: other(c)
    opts = ["--direct_num_workers", "1"]  # one core: figures are per core
    parts: dict[str, list] = {"rejects": [], "counts": [], "shards": []}
    t0, c0 = time.time(), time.process_time()
    scratch = tempfile.TemporaryDirectory(prefix="m3w-curation-")
    tmp = scratch.name
    with beam.Pipeline(options=pipeline_options(opts)) as p:
        docs = (p | beam.Create(list(range((n + CHUNK - 1) // CHUNK)))
                | beam.Reshuffle() | beam.FlatMap(_chunk, n))
        kept = curate_documents(docs, cfg, parts, tmp, Shuffle.of(cfg, tmp))
        _ = (kept | "CountKept" >> beam.combiners.Count.Globally()
             | beam.Map(_save, os.path.join(tmp, "kept.json")))
        if parts["rejects"]:
            # Counted per bundle where the rejects are made, as the build's funnel is: a
            # Flatten of the streams themselves is held whole by the local runner (at 100,000
            # documents that was the peak of "all", not the curation).
            reasons = tuple(count_labels(rejects, f"CountReasons{i}", _reasons)
                            for i, rejects in enumerate(parts["rejects"]))
            _ = (reasons | beam.Flatten() | beam.CombinePerKey(sum)
                 | beam.combiners.ToList()
                 | beam.Map(lambda rs, path: _save(dict(rs), path),
                            os.path.join(tmp, "reasons.json")))
    cpu = time.process_time() - c0
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu += children.ru_utime + children.ru_stime
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    counts = {}
    for name in ("kept", "reasons"):
        path = os.path.join(tmp, f"{name}.json")
        if os.path.exists(path):
            with open(path) as fh:
                counts[name] = json.load(fh)
    scratch.cleanup()  # before reporting: the parent may start the next child at once
    q.put({"wall": time.time() - t0, "cpu": cpu, "peak_mb": peak, **counts})


def _shuffle_inputs(pipeline, scope: str) -> list[tuple[str, str, Any]]:
    """(kind, label, input PCollection) of every GroupByKey and CombinePerKey under the
    composite labelled ``scope`` (a CoGroupByKey's GroupByKey included; GroupByKeys inside a
    CombinePerKey are left to the combine)."""
    import apache_beam as beam
    from apache_beam.pipeline import PipelineVisitor

    found: list[tuple[str, str, Any]] = []

    class Visitor(PipelineVisitor):
        def __init__(self) -> None:
            self.combines: list[str] = []

        def enter_composite_transform(self, node) -> None:
            if (isinstance(node.transform, beam.CombinePerKey)
                    and node.full_label.startswith(scope)):
                self.combines.append(node.full_label)
                found.append(("combine", node.full_label, node.inputs[0]))

        def visit_transform(self, node) -> None:
            if (isinstance(node.transform, beam.GroupByKey) and node.full_label.startswith(scope)
                    and not any(node.full_label.startswith(c + "/") for c in self.combines)):
                found.append(("group", node.full_label, node.inputs[0]))

    pipeline.visit(Visitor())
    return found


def _count_bytes(element: Any, name: str) -> None:
    import pickle

    from apache_beam.metrics import Metrics

    Metrics.counter("shuffle_bytes", name).inc(len(pickle.dumps(element, protocol=5)))
    Metrics.counter("shuffle_elements", name).inc()


def shuffle_bytes(n: int, dedup_from: str | None, near: dict | None = None
                  ) -> dict[str, Any]:
    """Bytes and elements entering each shuffle of the dedup stage, per input document."""
    import apache_beam as beam
    from apache_beam.metrics import MetricsFilter
    from apache_beam.options.pipeline_options import PipelineOptions

    from pipeline.config import load_config

    if dedup_from:
        module = _load_dedup(dedup_from)
    else:
        from pipeline.stages import dedup as module
    p = beam.Pipeline(options=PipelineOptions(["--runner=FnApiRunner"]))
    docs = (p | beam.Create(list(range((n + CHUNK - 1) // CHUNK))) | beam.FlatMap(_chunk, n))
    cfg = load_config(overrides={"dedup": {"near": near}} if near else None)
    kept, _ = docs | "Dedup" >> module.Deduplicate(cfg)
    _ = kept | beam.combiners.Count.Globally()
    inputs = _shuffle_inputs(p, "Dedup/")
    for i, (kind, label, pcoll) in enumerate(inputs):
        _ = pcoll | f"Measure{i}" >> beam.Map(_count_bytes, f"{kind}:{label[len('Dedup/'):]}")
    result = p.run()
    result.wait_until_finish()
    rows: dict[str, dict[str, float]] = {}
    for c in result.metrics().query(MetricsFilter())["counters"]:
        if c.key.metric.namespace in ("shuffle_bytes", "shuffle_elements"):
            field = "bytes" if c.key.metric.namespace == "shuffle_bytes" else "elements"
            rows.setdefault(c.key.metric.name, {})[field] = c.committed / n
    return rows


def print_shuffle(n: int, rows: dict[str, dict[str, float]], title: str) -> None:
    print(f"\n{title}: shuffle input per document, {n:,} documents")
    print(f"{'shuffle':<58}{'bytes/doc':>11}{'elems/doc':>11}")
    for name, r in sorted(rows.items(), key=lambda kv: -kv[1].get("bytes", 0)):
        print(f"{name[:57]:<58}{r.get('bytes', 0):>11,.0f}{r.get('elements', 0):>11.2f}")
    for kind in ("group", "combine"):
        total = sum(r.get("bytes", 0) for k, r in rows.items() if k.startswith(kind))
        print(f"  total {kind}: {total:,.0f} bytes/doc")


def measure(n: int, stage: str, dedup_from: str | None = None, near: dict | None = None
            ) -> dict:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    proc = ctx.Process(target=run_stage, args=(n, stage, q, dedup_from, near))
    proc.start()
    out = result_of(proc, q, f"{stage} at {n:,} documents")
    proc.join()
    return out


def expected(n: int) -> dict[str, int]:
    roles = [role(i) for i in range(n)]
    return {r: roles.count(r) for r in ("original", "url_dup", "text_dup", "near_dup")}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--stages", nargs="+", default=list(STAGES), choices=STAGES)
    ap.add_argument("--shuffle", type=int, metavar="N",
                    help="measure the dedup stage's shuffle bytes on N documents instead")
    ap.add_argument("--dedup-from", metavar="FILE",
                    help="measure the Deduplicate of this module file (with --shuffle: as well)")
    ap.add_argument("--near", type=json.loads, metavar="JSON",
                    help='dedup.near values over the preset, e.g. {"bands": 40, "rows": 5}')
    a = ap.parse_args()
    if a.shuffle:
        if a.dedup_from:
            before = shuffle_bytes(a.shuffle, a.dedup_from, a.near)
            print_shuffle(a.shuffle, before, f"dedup from {a.dedup_from}")
        after = shuffle_bytes(a.shuffle, None, a.near)
        print_shuffle(a.shuffle, after, "pipeline.stages.dedup")
        if a.dedup_from:
            for kind in ("group", "combine"):
                b = sum(r.get("bytes", 0) for k, r in before.items() if k.startswith(kind))
                c = sum(r.get("bytes", 0) for k, r in after.items() if k.startswith(kind))
                print(f"{kind} bytes/doc: {b:,.0f} -> {c:,.0f} ({c / b if b else 0:.2f}x)")
        return
    results = {}
    for n in a.sizes:
        exp = expected(n)
        print(f"\n{n:,} documents: {exp['original']:,} originals, planted {exp['url_dup']:,} "
              f"re-crawled URLs, {exp['text_dup']:,} exact copies, {exp['near_dup']:,} near "
              "copies; every page carries its domain's footer paragraph")
        print(f"{'stage':<12}{'kept':>9}{'wall s':>9}{'cpu s':>9}{'docs/s/core':>13}"
              f"{'peak MB':>9}")
        base = None
        for stage in a.stages:
            r = measure(n, stage, a.dedup_from, a.near)
            results[(n, stage)] = r
            if stage == "baseline":
                base = r
            own = r["cpu"] - (base["cpu"] if base and stage != "baseline" else 0.0)
            rate = n / own if own > 0 else float("nan")
            print(f"{stage:<12}{r.get('kept', 0):>9,}{r['wall']:>9.1f}{r['cpu']:>9.1f}"
                  f"{rate:>13,.0f}{r['peak_mb']:>9,.0f}")
        if (n, "all") in results:
            reasons = results[(n, "all")].get("reasons", {})
            print("  rejects of 'all': " + json.dumps(reasons, sort_keys=True))
            removed = sum(reasons.get(k, 0) for k in (
                "url_dedup/v1:duplicate_url", "text_dedup/v1:duplicate_text",
                "near_dedup/v1:near_duplicate"))
            planted = exp["url_dup"] + exp["text_dup"] + exp["near_dup"]
            kept = results[(n, "all")].get("kept", 0)
            print(f"  duplicates removed {removed:,} of {planted:,} planted; survivors {kept:,} "
                  f"vs {exp['original']:,} originals ({kept - exp['original']:+,}); a copy "
                  "caught by a later step than planted counts there")
    if len(a.sizes) > 1:
        lo, hi = min(a.sizes), max(a.sizes)
        for stage in a.stages:
            if (lo, stage) in results and (hi, stage) in results:
                print(f"peak memory {stage}: {results[(lo, stage)]['peak_mb']:,.0f} MB at "
                      f"{lo:,} -> {results[(hi, stage)]['peak_mb']:,.0f} MB at {hi:,}")


if __name__ == "__main__":
    main()

"""Write a build's files: shards, rejects, funnel, summary and manifest (all via FileSystems)."""

from __future__ import annotations

import io
import json
import math
import zlib
from collections import Counter
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from pipeline.funnel import build_funnel
from pipeline.shard_writer import ShardInfo, write_atomic, write_bucket
from schemas import Document, Reject
from schemas.arrow import REJECT_SCHEMA

REJECTS_PER_FILE = 250_000


def stable_bucket(key: str, n: int) -> int:
    return zlib.crc32(key.encode("utf-8", "replace")) % n


def document_sample(item: tuple[Document, dict[str, bytes]]) -> tuple[str, dict[str, bytes]]:
    doc, images = item
    members = {"json": json.dumps(doc.to_dict(), ensure_ascii=False, sort_keys=True).encode()}
    members.update(images)
    return doc.key, members


class _SizeFn(beam.CombineFn):
    def create_accumulator(self):
        return (0, 0)

    def add_input(self, acc, sample):
        return acc[0] + 1, acc[1] + sum(len(v) for v in sample[1].values())

    def merge_accumulators(self, accs):
        return tuple(map(sum, zip(*accs))) if accs else (0, 0)

    def extract_output(self, acc):
        return acc


def _n_buckets(size: tuple[int, int], max_samples: int, max_bytes: int) -> int:
    return max(1, math.ceil(size[0] / max_samples), math.ceil(size[1] / max_bytes))


class WriteShards(beam.PTransform):
    """(key, {ext: bytes}) samples -> shards/<source>/*.tar; emits (source, ShardInfo).

    Samples are spread over N buckets by a hash of their key, N from the total count and bytes,
    so names and contents depend only on the data, never on the runner's bundling."""

    def __init__(self, out_dir: str, source: str, max_samples: int, max_bytes: int) -> None:
        super().__init__()
        self.out_dir, self.source = out_dir, source
        self.max_samples, self.max_bytes = max_samples, max_bytes

    def expand(self, samples):
        size = samples | "Size" >> beam.CombineGlobally(_SizeFn())
        ms, mb = self.max_samples, self.max_bytes

        def keyed(sample, size):
            return stable_bucket(sample[0], _n_buckets(size, ms, mb)), sample

        def write(group):
            bucket, items = group
            infos = write_bucket(self.out_dir, self.source, bucket, items, ms, mb)
            return [(self.source, info) for info in infos]

        return (
            samples
            | "Bucket" >> beam.Map(keyed, size=beam.pvalue.AsSingleton(size))
            | "GroupBucket" >> beam.GroupByKey()
            | "WriteTar" >> beam.FlatMap(write)
        )


def _reject_table(rows: Iterable[Reject]) -> bytes:
    rows = sorted(rows, key=lambda r: (r.stage, r.source, r.url, r.filter, r.reason))
    cols = {f.name: [getattr(r, f.name) for r in rows] for f in REJECT_SCHEMA}
    table = pa.Table.from_pydict(cols, schema=REJECT_SCHEMA)
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    return buf.getvalue()


class WriteRejects(beam.PTransform):
    """Rejects -> rejects/rejects-BBBBB.parquet, bucketed by source; emits relative paths."""

    def __init__(self, out_dir: str) -> None:
        super().__init__()
        self.out_dir = out_dir

    def expand(self, rejects):
        count = rejects | "Count" >> beam.combiners.Count.Globally()
        out_dir = self.out_dir

        def keyed(r, n):
            return stable_bucket(r.source, max(1, math.ceil(n / REJECTS_PER_FILE))), r

        def write(group):
            bucket, rows = group
            rel = f"rejects/rejects-{bucket:05d}.parquet"
            write_atomic(FileSystems.join(out_dir, rel), _reject_table(rows))
            return rel

        return (
            rejects
            | "Bucket" >> beam.Map(keyed, n=beam.pvalue.AsSingleton(count))
            | "Group" >> beam.GroupByKey()
            | "Write" >> beam.Map(write)
        )


def write_json(out_dir: str, rel: str, obj: Any) -> None:
    data = json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False).encode()
    write_atomic(FileSystems.join(out_dir, rel), data + b"\n")


def write_funnel(counts: list[tuple[tuple[str, ...], int]], out_dir: str,
                 declared: dict[str, dict[str, tuple[str, ...]]] | None = None
                 ) -> dict[str, Any]:
    funnel = build_funnel(counts, declared)
    write_json(out_dir, "stats/funnel.json", funnel)
    return funnel


def doc_summary(item: tuple[Document, dict[str, bytes]]) -> tuple[int, int, int, str, str]:
    doc, _ = item
    host = (urlsplit(doc.url).hostname or "").lower()
    n_text = sum(1 for n in doc.nodes if not hasattr(n, "src"))
    return len(doc.images), len(doc.text), n_text, host, doc.language or ""


class _AdditiveCombineFn(beam.CombineFn):
    """Accumulators are dicts of numbers and Counters, merged by adding them key by key."""

    def merge_accumulators(self, accs):
        out = self.create_accumulator()
        for a in accs:
            for k, v in a.items():
                out[k] = out[k] + v
        return out


class SummaryFn(_AdditiveCombineFn):
    """Distributions over kept documents: images per doc, text length, domains, languages."""

    def create_accumulator(self):
        return {"docs": 0, "images": Counter(), "chars": Counter(), "domains": Counter(),
                "languages": Counter(), "text_nodes": 0, "total_chars": 0, "total_images": 0}

    def add_input(self, acc, s):
        n_img, n_chars, n_text, host, lang = s
        acc["docs"] += 1
        acc["images"][min(n_img, 50)] += 1
        acc["chars"][_log_bucket(n_chars)] += 1
        acc["domains"][host] += 1
        acc["languages"][lang or "unknown"] += 1
        acc["text_nodes"] += n_text
        acc["total_chars"] += n_chars
        acc["total_images"] += n_img
        return acc

    def extract_output(self, acc):
        return {
            "documents": acc["docs"],
            "images": acc["total_images"],
            "text_chars": acc["total_chars"],
            "text_nodes": acc["text_nodes"],
            "images_per_document": {str(k): v for k, v in sorted(acc["images"].items())},
            "text_chars_histogram": {str(k): v for k, v in sorted(acc["chars"].items())},
            "top_domains": acc["domains"].most_common(50),
            "languages": dict(acc["languages"].most_common()),
        }


def _log_bucket(n: int) -> int:
    """Lower bound of n's power-of-two bucket (0, 1, 2, 4, 8, ...)."""
    return 0 if n <= 0 else 1 << (n.bit_length() - 1)


def pair_summary(sample: tuple[str, dict[str, bytes]]) -> dict[str, float]:
    """The numbers `m3w stats` shows for one pair sample, read from its members."""
    _, members = sample
    meta = json.loads(members.get("json", b"{}"))
    caption = members.get("txt", b"").decode("utf-8", "replace")
    out = {"caption_chars": len(caption), "caption_words": len(caption.split())}
    if meta.get("width") and meta.get("height"):
        out["short_side"] = min(meta["width"], meta["height"])
    if "timestamps" in meta:
        out["frames"] = len(meta["timestamps"])
        out["duration"] = float(meta.get("duration") or 0.0)
    return out


class PairSummaryFn(_AdditiveCombineFn):
    """Per pair source: count, means, and histograms of caption words, sizes, frames."""

    def create_accumulator(self):
        return {"samples": 0, "sums": Counter(), "caption_words": Counter(),
                "short_side": Counter(), "frames": Counter()}

    def add_input(self, acc, s):
        acc["samples"] += 1
        acc["sums"].update({k: v for k, v in s.items()})
        acc["caption_words"][_log_bucket(s["caption_words"])] += 1
        if "short_side" in s:
            acc["short_side"][_log_bucket(int(s["short_side"]))] += 1
        if "frames" in s:
            acc["frames"][int(s["frames"])] += 1
        return acc

    def extract_output(self, acc):
        n = max(acc["samples"], 1)
        return {
            "samples": acc["samples"],
            "means": {k: round(v / n, 3) for k, v in sorted(acc["sums"].items())},
            "caption_words_histogram": {str(k): v for k, v in sorted(acc["caption_words"].items())},
            "short_side_histogram": {str(k): v for k, v in sorted(acc["short_side"].items())},
            "frames_per_clip": {str(k): v for k, v in sorted(acc["frames"].items())},
        }


def manifest(cfg: dict[str, Any], cfg_hash: str, shards: list[tuple[str, ShardInfo]],
             rejects: list[str], versions: dict[str, str], weights: dict[str, float]
             ) -> dict[str, Any]:
    """manifest.json: one entry per built source, with its shards and loss weight."""
    from schemas import LAYOUT_VERSION

    sources: dict[str, Any] = {}
    for name, weight in weights.items():
        own = sorted((i for s, i in shards if s == name), key=lambda i: i.path)
        sources[name] = {
            "kind": name,
            "weight": weight,
            "samples": sum(i.samples for i in own),
            "shards": [{"path": i.path, "samples": i.samples, "bytes": i.bytes} for i in own],
        }
    return {"layout": LAYOUT_VERSION, "config": cfg, "config_hash": cfg_hash,
            "versions": versions, "sources": sources, "rejects": sorted(rejects)}

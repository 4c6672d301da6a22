"""The corpus-building DAG: inputs -> records -> documents -> images -> shards, plus the
rejects, the funnel, the summary and the manifest. The same graph runs on any Beam runner."""

from __future__ import annotations

from importlib import metadata
from typing import Any

import apache_beam as beam

from pipeline import funnel as fn
from pipeline.config import config_hash
from pipeline.extract_stage import REJECTS, ExtractFn
from pipeline.image_stage import ResolveImages
from pipeline.outputs import (
    SummaryFn,
    WriteRejects,
    WriteShards,
    doc_summary,
    document_sample,
    manifest,
    write_funnel,
    write_json,
)
from pipeline.read_stage import ReadInputs
from schemas import Reject
from scrapers.warc_read import WebRecord

READ_FILTER = "read/v1"


def versions() -> dict[str, str]:
    out = {}
    for dist in ("m3w", "apache-beam", "trafilatura", "selectolax", "pillow", "warcio",
                 "webdataset"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "unknown"
    return out


def skipped_reject(rec: WebRecord) -> Reject:
    return Reject(source=rec.source_id, stage="read", filter=READ_FILTER,
                  reason=rec.reason or "unknown", url=rec.url, detail=rec.detail)


def build_graph(p: beam.Pipeline, cfg: dict[str, Any], out_dir: str) -> None:
    """Add the whole build to pipeline ``p``. Writes everything under ``out_dir``."""
    src = cfg["sources"]["interleaved"]
    records = p | "Read" >> ReadInputs(list(src["input"]), cfg, out_dir)
    by_kind = records | "ByKind" >> beam.Partition(
        lambda r, _: {"html": 0, "image": 1}.get(r.kind, 2), 3)
    html, images, skipped = by_kind[0], by_kind[1], by_kind[2]

    extracted = html | "Extract" >> beam.ParDo(ExtractFn(cfg)).with_outputs(REJECTS, main="docs")
    docs = extracted.docs
    resolved = (docs, images) | "Images" >> ResolveImages(cfg)
    kept = resolved.kept

    rejects = (
        skipped | "SkippedToRejects" >> beam.Map(skipped_reject),
        extracted[REJECTS],
        resolved[REJECTS],
    ) | "AllRejects" >> beam.Flatten()

    samples = kept | "ToSamples" >> beam.Map(document_sample)
    shard_cfg = cfg["shards"]
    shards = samples | "WriteShards" >> WriteShards(
        out_dir, "interleaved", shard_cfg["max_samples"], shard_cfg["max_bytes"])
    reject_files = rejects | "WriteRejects" >> WriteRejects(out_dir)

    labels = (
        records | "L_read" >> beam.Map(lambda r: fn.record_label(r.kind))
        | "L_read_keep" >> beam.Filter(lambda lab: lab[2] != "skipped"),
        rejects | "L_rejects" >> beam.Map(fn.reject_label),
        docs | "L_extract" >> beam.Map(lambda _: fn.out_label("extract")),
        kept | "L_images" >> beam.FlatMap(
            lambda item: [fn.out_label("image")] * len(item[1])),
        kept | "L_document" >> beam.Map(lambda _: fn.out_label("document")),
        shards | "L_shard" >> beam.FlatMap(lambda s: [(("shard", "out", ""), s[1].samples)]),
    )
    unit_labels = labels[:5] | "UnitLabels" >> beam.Flatten()
    counts = (
        (unit_labels | "CountLabels" >> beam.combiners.Count.PerElement(), labels[5])
        | "AllCounts" >> beam.Flatten()
        | "SumCounts" >> beam.CombinePerKey(sum)
        | "CountList" >> beam.combiners.ToList()
    )
    _ = counts | "WriteFunnel" >> beam.Map(write_funnel, out_dir)

    summary = (
        kept | "Summarize" >> beam.Map(doc_summary)
        | "SummaryCombine" >> beam.CombineGlobally(SummaryFn())
    )
    _ = summary | "WriteSummary" >> beam.Map(
        lambda s: write_json(out_dir, "stats/summary.json", {"interleaved": s}))

    chash = config_hash(cfg)
    vers = versions()
    shard_list = shards | "ShardList" >> beam.combiners.ToList()
    reject_list = reject_files | "RejectList" >> beam.combiners.ToList()
    _ = shard_list | "WriteManifest" >> beam.Map(
        lambda sl, rl: write_json(out_dir, "manifest.json", manifest(cfg, chash, sl, rl, vers)),
        rl=beam.pvalue.AsSingleton(reject_list),
    )

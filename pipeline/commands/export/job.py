"""Running an export: shard by shard in this process, or as a Beam job over the shard list.

In this process one sink takes every shard in turn, so output files have the configured size
whatever the shards' sizes. As a Beam job each shard is one element, exported by one worker
into files named after it (a retried element rewrites the same files). Either way a worker
holds one sample, or one Parquet row group, at a time. ``OUT/export.json`` lists the files
written and the counts; a rerun first removes the files its predecessor listed there.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any

from apache_beam.io.filesystems import FileSystems

from pipeline.commands.export.hf import HfSink
from pipeline.commands.export.mmc4 import Mmc4Sink
from pipeline.commands.export.obelics import ObelicsSink
from pipeline.commands.export.sinks import FormatSink, Limits
from pipeline.outputs.manifest import read_json, write_json
from pipeline.outputs.tar import read_samples

SINKS = {"obelics": ObelicsSink, "mmc4": Mmc4Sink, "hf": HfSink}
SUMMARY = "export.json"
Shard = tuple[str, str]  # (source, shard path)


@dataclass
class ExportSpec:
    """What to export, and how; travels to Beam workers as it is."""

    build: str
    out: str
    fmt: str
    embed: bool = False
    limits: Limits = field(default_factory=Limits)

    def sink(self, stem: str) -> FormatSink:
        return SINKS[self.fmt](self.out, stem, self.limits, self.embed)


def export_shards(spec: ExportSpec, shards: list[Shard], stem: str) -> dict[str, Any]:
    """Export ``shards`` in order through one sink; its files and counts."""
    sink = spec.sink(stem)
    try:
        for source, path in shards:
            for sample in read_samples(path):
                sink.add(source, sample)
    except BaseException:
        sink.abort()
        raise
    files = [asdict(w) for w in sink.close()]
    return {"files": files, **sink.counts()}


def shard_stem(shard: Shard) -> str:
    return os.path.basename(shard[1]).rsplit(".", 1)[0]


def merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"files": [], "samples": 0, "images": 0, "skipped": 0}
    for part in parts:
        out["files"] += part["files"]
        for k in ("samples", "images", "skipped"):
            out[k] += part[k]
    out["files"].sort(key=lambda f: f["path"])
    return out


def write_summary(spec: ExportSpec, result: dict[str, Any], sources: list[str]) -> None:
    summary = {"format": spec.fmt, "build": spec.build, "sources": sources,
               "embed_images": spec.embed, **result}
    write_json(spec.out, SUMMARY, summary)


def remove_previous(out: str) -> None:
    """The files a previous export into ``out`` listed: a rerun with other sizes must not
    leave stale parts beside the new ones."""
    if not FileSystems.exists(FileSystems.join(out, SUMMARY)):
        return
    old = read_json(out, SUMMARY)
    stale = [FileSystems.join(out, f["path"]) for f in old.get("files", [])]
    stale = [p for p in stale if FileSystems.exists(p)]
    if stale:
        FileSystems.delete(stale)


def run_local(spec: ExportSpec, shards: list[Shard], sources: list[str]) -> dict[str, Any]:
    result = merge([export_shards(spec, shards, "part" if spec.fmt == "hf" else spec.fmt)])
    write_summary(spec, result, sources)
    return result


def run_beam(spec: ExportSpec, shards: list[Shard], sources: list[str],
             beam_args: list[str]) -> dict[str, Any]:
    """The same export as a Beam job: one element per shard, on the runner ``beam_args``
    name (Beam's in-process runner by default, as ``m3w build``)."""
    import apache_beam as beam

    from pipeline.run import pipeline_options

    with beam.Pipeline(options=pipeline_options(beam_args)) as p:
        _ = (
            p
            | "Shards" >> beam.Create(shards)
            | "Spread" >> beam.Reshuffle()
            | "Export" >> beam.Map(lambda s: export_shards(spec, [s], shard_stem(s)))
            | "Collect" >> beam.combiners.ToList()
            | "Summary" >> beam.Map(lambda parts: write_summary(spec, merge(parts), sources))
        )
    return read_json(spec.out, SUMMARY)

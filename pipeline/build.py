"""The corpus-building DAG: inputs -> records -> documents -> images -> shards, plus the
rejects, the funnel, the summary and the manifest. The same graph runs on any Beam runner.

A document's bytes cross no shuffle: documents, shard JSON and reject rows are parked in spool
files where they are made and only references go through the joins; image bytes are parked
too (README, "How a billion pages move through the DAG"). The summary and funnel branches
shuffle small tuples and per-bundle counts only.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from importlib import metadata
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from pipeline import coders
from pipeline import funnel as fn
from pipeline.catalog import declared_reasons
from pipeline.config import config_hash
from pipeline.file_shuffle import Shuffle
from pipeline.imports.embedded import EMBEDDED_DIR
from pipeline.imports.read import EMBEDDED, ImportCorpus
from pipeline.label_counts import count_each, count_labels
from pipeline.outputs import faults
from pipeline.outputs.image_store import IMAGES_DIR
from pipeline.outputs.manifest import manifest, write_funnel, write_inputs, write_json
from pipeline.outputs.reject_files import REJECT_BUCKETS, WriteRejects
from pipeline.outputs.shards import DEFAULT_BUCKETS_PER_INPUT, WriteShards, document_group
from pipeline.outputs.spool import one_key, park_batches, unpark_batches
from pipeline.outputs.summary import SummaryFn, TopDomains, doc_summary, with_top_domains
from pipeline.rejects import REJECTS, rejects_in
from pipeline.stages.decontam import DecontaminateText
from pipeline.stages.dedup import Deduplicate
from pipeline.stages.extract import ExtractFn
from pipeline.stages.filter import FilterDocuments
from pipeline.stages.images import ResolveImages
from pipeline.stages.read import BRANCHES, CORPUS, FILES, ReadInputs
from schemas import Reject, TextNode

coders.register()  # compact Document, Reject and WebRecord encodings wherever they shuffle


def versions() -> dict[str, str]:
    out = {}
    for dist in ("m3w", "apache-beam", "trafilatura", "selectolax", "pillow", "warcio",
                 "webdataset"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "unknown"
    return out


def count_out(pcoll: beam.PCollection, stage: str, name: str) -> beam.PCollection:
    """The funnel count of a stage's kept output: one per element."""
    return count_each(pcoll, f"Out_{name}", lambda _: fn.out_label(stage))


def _reject_counts(element: Reject | list[Reject]) -> Iterator[tuple]:
    """Each reject's reason; a node reject also takes its paragraph back out of the nodes."""
    for r in rejects_in(element):
        yield fn.reject_label(r), 1
        if r.stage == "node":
            yield fn.out_label("node"), -1


def _extract_image_requests(rejects: list[Reject]) -> Iterator[tuple]:
    """Images the extractor found and dropped by its rules (stage "image") count as image
    requests too: they are image rejects that never enter the image stage."""
    n = sum(1 for r in rejects if r.stage == "image")
    if n:
        yield fn.in_label("image"), n


def _extract_branch(records: beam.PCollection, i: int, cfg: dict[str, Any],
                    parts: dict[str, list]) -> tuple[beam.PCollection, beam.PCollection]:
    """One branch of the read records -> (documents, image records), extracted where it is
    read: a page's HTML never waits in a runner's buffer (ResolveImages projects the image
    records of each branch to their locations the same way)."""
    html, images = records | f"ByKind{i}" >> beam.Partition(
        lambda r, _: 0 if r.kind == "html" else 1, 2)
    parts["counts"].append(count_each(records, f"L_read{i}", lambda r: fn.record_label(r.kind)))
    extracted = html | f"Extract{i}" >> beam.ParDo(ExtractFn(cfg)).with_outputs(
        REJECTS, main="docs")
    parts["rejects"].append(extracted[REJECTS])
    parts["counts"].append(count_labels(
        extracted[REJECTS], f"L_image_in_extract{i}", _extract_image_requests))
    parts["counts"].append(count_out(extracted.docs, "extract", f"extract{i}"))
    return extracted.docs, images


def _import_branch(corpus: beam.PCollection, cfg: dict[str, Any], out_dir: str,
                   parts: dict[str, list]) -> tuple[beam.PCollection, ...]:
    """Corpus files (OBELICS, MMC4) -> (documents, embedded images, per-file counts). Each
    row read is counted as an html-like record that ends as a document (extract out) or as an
    extract reject, so the records and documents identities hold as for WARC pages."""
    imported = corpus | "Import" >> ImportCorpus(cfg, FileSystems.join(out_dir, EMBEDDED_DIR))
    rejects = imported[REJECTS]
    parts["rejects"].append(rejects)
    parts["counts"].append(count_each(imported["docs"], "L_import_read",
                                      lambda _: fn.record_label("html")))
    parts["counts"].append(count_labels(
        rejects, "L_import_read_rejected",
        lambda r: ((fn.record_label("html"), 1),) if r.stage == "extract" else ()))
    parts["counts"].append(count_out(imported["docs"], "extract", "import"))
    return imported["docs"], imported[EMBEDDED], imported["files"]


DOC_BATCH = 100  # documents parked under one reference before the Flatten of branches


def interleaved_graph(p: beam.Pipeline, cfg: dict[str, Any], out_dir: str,
                      parts: dict[str, list], sh: Shuffle) -> beam.PCollection:
    """Inputs -> kept (Document, {member: jpeg}) items; adds to parts' rejects and counts."""
    src = cfg["sources"]["interleaved"]
    read = p | "Read" >> ReadInputs(list(src["input"]), cfg, out_dir, flatten=False,
                                      shuffle=sh)
    parts["rejects"] += read[REJECTS]
    imported, embedded, imported_files = _import_branch(read[CORPUS], cfg, out_dir, parts)
    # Records read, counted by the reader per input file: one side of the records identity.
    files = (read[FILES], imported_files) | "InputFiles" >> beam.Flatten()
    parts["counts"].append(count_labels(files, "L_read_in",
                                        lambda f: ((fn.in_label("read"), int(f[1])),)))
    _ = (files | "InputList" >> beam.combiners.ToList()
         | "WriteInputs" >> beam.Map(write_inputs, out_dir))
    outs = [_extract_branch(b, i, cfg, parts) for i, b in enumerate(read[BRANCHES])]
    # Documents from different stages meet at a Flatten, which a runner may buffer whole:
    # each branch parks its documents in batches, and the Flatten carries one reference a
    # batch (about a byte a document), not one a document.
    parked = [park_batches(d, f"Park{i}", out_dir, one_key, DOC_BATCH)
              for i, d in enumerate([o[0] for o in outs] + [imported])]
    docs = unpark_batches(parked | "Documents" >> beam.Flatten(pipeline=p), "Unpark")
    images = [o[1] for o in outs] + [embedded]
    docs = curate_documents(docs, cfg, parts, out_dir, sh)

    # Image requests, counted where documents enter the image stage (plus the extractor's
    # image drops, above): the identity requests == stored + rejected compares this with
    # counts taken after the stage, on the kept documents and on the written rejects.
    parts["counts"].append(count_labels(docs, "L_image_in",
                                        lambda d: ((fn.in_label("image"), len(d.images)),)))
    # Checked images are parked in the build's work folder: only their paths cross the joins.
    resolved = (docs, *images) | "Images" >> ResolveImages(
        cfg, FileSystems.join(out_dir, IMAGES_DIR), out_dir, sh)
    kept = resolved.kept
    if os.environ.get(faults.ENV, "").startswith("mid_images"):
        kept = kept | "FaultPoint" >> beam.Map(faults.passthrough, "mid_images")
    parts["rejects"].append(resolved[REJECTS])
    parts["counts"].append(count_labels(kept, "L_images",
                                        lambda item: ((fn.out_label("image"), len(item[1])),)))
    parts["counts"].append(count_out(kept, "document", "document"))

    samples = kept | "ToSamples" >> beam.Map(document_group)
    shard_cfg = cfg["shards"]
    shards = samples | "WriteShards" >> WriteShards(
        out_dir, "interleaved", shard_cfg["max_samples"], shard_cfg["max_bytes"],
        shard_cfg.get("buckets_per_input", DEFAULT_BUCKETS_PER_INPUT), keyed=True, shuffle=sh)
    parts["shards"].append(shards)
    parts["counts"].append(count_labels(shards, "L_shard",
                                        lambda s: ((fn.out_label("shard"), s[1].samples),)))
    per_doc = kept | "Summarize" >> beam.Map(doc_summary)
    summary = per_doc | "SummaryCombine" >> beam.CombineGlobally(SummaryFn())
    top = per_doc | "TopDomains" >> TopDomains(shuffle=sh)
    _ = summary | "WriteSummary" >> beam.Map(
        lambda s, t: write_json(out_dir, "stats/summary-interleaved.json",
                                with_top_domains(s, t)),
        t=beam.pvalue.AsSingleton(top))
    return kept


def curate_documents(docs: beam.PCollection, cfg: dict[str, Any], parts: dict[str, list],
                     out_dir: str, sh: Shuffle) -> beam.PCollection:
    """Quality filters, deduplication and text decontamination, all before any image is
    fetched, each stage counted in the funnel when it runs."""
    # Text nodes entering curation; each node reject takes one back out (see build_graph).
    parts["counts"].append(count_labels(
        docs, "L_nodes",
        lambda d: ((fn.out_label("node"), sum(isinstance(n, TextNode) for n in d.nodes)),)))
    if any_enabled(cfg["filters"]["node"]) or any_enabled(cfg["filters"]["document"]):
        filtered = docs | "Filter" >> FilterDocuments(cfg)
        docs = filtered.docs
        parts["rejects"].append(filtered[REJECTS])
        parts["counts"].append(count_out(docs, "filter", "filter"))
    if any_enabled(cfg["dedup"], ("url", "text", "near", "domain_paragraphs")):
        docs, dedup_rejects = docs | "Dedup" >> Deduplicate(cfg, out_dir, sh)
        parts["rejects"].append(dedup_rejects)
        parts["counts"].append(count_out(docs, "dedup", "dedup"))
    if cfg["decontam"]["eval_texts"]:
        clean = docs | "Decontam" >> DecontaminateText(cfg)
        docs = clean.docs
        parts["rejects"].append(clean[REJECTS])
        parts["counts"].append(count_out(docs, "decontam", "decontam"))
    return docs


def any_enabled(section: dict[str, Any], keys: tuple[str, ...] | None = None) -> bool:
    return any(v and v.get("enabled", True) for k, v in section.items()
               if isinstance(v, dict) and (keys is None or k in keys))


def build_graph(p: beam.Pipeline, cfg: dict[str, Any], out_dir: str, local: bool = True
                ) -> None:
    """Add the whole build to pipeline ``p``. Writes everything under ``out_dir``. ``local``:
    ``p`` runs on the local runner (``shuffle.mode: auto`` then groups through files)."""
    parts: dict[str, list] = {"rejects": [], "counts": [], "shards": []}
    sh = Shuffle.of(cfg, out_dir, local)
    kept = None
    if "interleaved" in built_sources(cfg):
        kept = interleaved_graph(p, cfg, out_dir, parts, sh)
    if set(built_sources(cfg)) - {"interleaved"}:
        from pipeline.sources.pairs import add_pair_sources

        shards, rejects, counts = add_pair_sources(p, cfg, out_dir, kept, sh)
        parts["shards"] += shards
        parts["rejects"] += rejects
        parts["counts"] += counts

    # Each stage's rejects are counted and parked where they are made: no Flatten of rows.
    rejects = tuple(parts["rejects"])
    reject_files = rejects | "WriteRejects" >> WriteRejects(
        out_dir, cfg["shards"].get("reject_buckets", REJECT_BUCKETS), sh)
    parts["counts"] += [count_labels(r, f"L_rejects{i}", _reject_counts)
                        for i, r in enumerate(rejects)]

    counts = (
        tuple(parts["counts"])
        | "AllCounts" >> beam.Flatten(pipeline=p)
        | "SumCounts" >> beam.CombinePerKey(sum)
        | "CountList" >> beam.combiners.ToList()
    )
    declared = declared_reasons(cfg) if "interleaved" in built_sources(cfg) else {}
    _ = counts | "WriteFunnel" >> beam.Map(write_funnel, out_dir, declared)

    chash = config_hash(cfg)
    vers = versions()
    shards = tuple(parts["shards"]) | "AllShards" >> beam.Flatten(pipeline=p)
    shard_list = shards | "ShardList" >> beam.combiners.ToList()
    reject_list = reject_files | "RejectList" >> beam.combiners.ToList()
    weights = source_weights(cfg)
    _ = shard_list | "WriteManifest" >> beam.Map(
        lambda sl, rl: write_json(out_dir, "manifest.json",
                                  manifest(cfg, chash, sl, rl, vers, weights)),
        rl=beam.pvalue.AsSingleton(reject_list),
    )


def source_weights(cfg: dict[str, Any]) -> dict[str, float]:
    """Loss weight λ of each built source (config, else the source's default)."""
    out = {}
    for name in built_sources(cfg):
        if name == "interleaved":
            scfg = cfg["sources"][name]
        else:
            from pipeline.sources.common import source_config

            scfg = source_config(cfg, name)
        out[name] = float(scfg.get("weight", 1.0))
    return out


def built_sources(cfg: dict[str, Any]) -> list[str]:
    """The sources this config builds: interleaved when it has input, every pair source named
    (alt_text needs the interleaved one)."""
    sources = cfg["sources"]
    out = []
    if "interleaved" in sources and sources["interleaved"].get("input"):
        out.append("interleaved")
    for name in ("alt_text", "image_text", "video_text"):
        if name in sources and (name != "alt_text" or "interleaved" in out):
            out.append(name)
    return out

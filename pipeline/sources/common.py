"""What the pair sources share: alt_text (ALIGN-style, from the kept web pages), image_text
(LTIP-style pair lists) and video_text (VTP-style clip lists), each written to its own shards.

Each source's options are its `source_defaults(name)` overlaid with what the config gives
under `sources.<name>`.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterator
from typing import Any

import apache_beam as beam
from apache_beam import pvalue

from pipeline.file_shuffle import RUNNER, Shuffle
from pipeline.funnel import out_label
from pipeline.label_counts import count_each
from pipeline.outputs.shards import DEFAULT_BUCKETS_PER_INPUT, WriteShards
from pipeline.rejects import REJECTS, make_reject
from pipeline.sources.files import BEAM, expand_patterns
from scrapers.captions import CAPTION_FILTER, CaptionRules, check_caption, rules_from
from scrapers.pair_lists import ListOptions, PairItem, iter_items

LIST_FILTER = "pair_list/v1"
PAIR_SOURCES = ("alt_text", "image_text", "video_text")

_LIST_KEYS = {"url_column": "url", "path_column": None, "caption_column": "caption",
              "caption_lang": None, "base_dir": None, "keep_columns": []}

DEFAULTS: dict[str, dict[str, Any]] = {
    "alt_text": {
        "from": "interleaved",
        "weight": 0.2,  # Flamingo: ALIGN 0.2
        "text_sources": ["alt", "caption"],  # ImageNode fields tried in this order
        "max_shared": 10,  # ALIGN: drop alt texts shared by more than this many images; 0: off
        "min_side": 0,  # shorter side of the stored image; 0: keep the interleaved rules only
        "caption": {"min_words": 3, "max_words": 20, "max_chars": 300, "reject_title": True,
                    "languages": []},
    },
    "image_text": {
        "input": [],
        "weight": 0.2,  # Flamingo: LTIP 0.2
        **_LIST_KEYS,
        "caption": {"min_words": 1, "max_words": 256, "max_chars": 2000, "languages": []},
        "image": {"min_side": 64, "max_aspect": 3.0, "max_side": 512, "jpeg_quality": 90,
                  "max_bytes": 20_000_000, "max_pixels": 89_478_485},
        "download": {"processes": 1, "threads": 16, "batch_size": 10_000, "timeout": 10,
                     "retries": 0, "image_size": 512, "resize_mode": "keep_ratio",
                     "resize_only_if_bigger": True, "user_agent_token": "m3w",
                     "batch_timeout": 3600},
    },
    "video_text": {
        "input": [],
        "weight": 0.03,  # Flamingo: VTP 0.03
        **_LIST_KEYS,
        "fps": 1.0,  # Flamingo: frames sampled at 1 FPS...
        "max_frames": 8,  # ...8 of them in training
        "max_side": 512,
        "jpeg_quality": 90,
        "decode_timeout": 60.0,  # seconds per clip; the decoding process is killed after it
        "max_bytes": 500_000_000,
        "max_duration": 3600.0,
        "keep_clip": False,  # also store the original file as KEY.mp4
        "caption": {"min_words": 1, "max_words": 100, "max_chars": 1000, "languages": []},
    },
}


def source_defaults(name: str) -> dict[str, Any]:
    """Every option of pair source `name` with its default (a fresh copy)."""
    if name not in DEFAULTS:
        raise ValueError(f"unknown pair source {name!r}; choose one of {', '.join(DEFAULTS)}")
    return copy.deepcopy(DEFAULTS[name])


def _overlay(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _overlay(out[k], v) if isinstance(out.get(k), dict) and isinstance(v, dict) \
            else copy.deepcopy(v)
    return out


def source_config(cfg: dict[str, Any], name: str) -> dict[str, Any]:
    """The effective options of one pair source: defaults < `cfg["sources"][name]`."""
    return _overlay(source_defaults(name), cfg["sources"].get(name) or {})


def list_options(scfg: dict[str, Any], media: str) -> ListOptions:
    return ListOptions(url_column=scfg["url_column"], path_column=scfg["path_column"],
                       caption_column=scfg["caption_column"], caption_lang=scfg["caption_lang"],
                       base_dir=scfg["base_dir"], keep_columns=tuple(scfg["keep_columns"]),
                       media=media)


def caption_rules(scfg: dict[str, Any]) -> CaptionRules:
    return rules_from(scfg.get("caption") or {})


def expand_inputs(patterns: list[str]) -> tuple[list[str], list[str]]:
    """(files and folders matched, patterns that matched nothing), both sorted; any file
    system Beam knows (local, gs://, s3://...)."""
    return expand_patterns(patterns)


class ReadItemsFn(beam.DoFn):
    """One input (table, folder, tar) -> PairItems; an unreadable input becomes a Reject."""

    def __init__(self, stage: str, opts: ListOptions) -> None:
        self.stage, self.opts = stage, opts

    def process(self, path: str) -> Iterator[Any]:
        try:
            yield from iter_items(path, self.opts, BEAM)
        except Exception as exc:  # a bad list must not stop the build; later rows are lost
            yield pvalue.TaggedOutput(REJECTS, make_reject(
                self.stage, path, LIST_FILTER, f"error:{type(exc).__name__}",
                detail=str(exc)))


class CheckCaptionFn(beam.DoFn):
    """PairItem -> PairItem with its cleaned caption, or a caption Reject."""

    def __init__(self, stage: str, rules: CaptionRules) -> None:
        self.stage, self.rules = stage, rules

    def process(self, item: PairItem) -> Iterator[Any]:
        verdict = check_caption(item.caption, self.rules)
        if not verdict.ok:
            yield pvalue.TaggedOutput(REJECTS, make_reject(
                self.stage, item.source_id, CAPTION_FILTER, verdict.reason or "unknown",
                verdict.value, item.url or item.path, verdict.text[:200]))
            return
        yield dataclasses.replace(item, caption=verdict.text)  # inputs must not be mutated


def read_pairs(p: beam.Pipeline, stage: str, scfg: dict[str, Any], media: str,
               rejects: list[beam.PCollection]) -> beam.PCollection:
    """Inputs -> caption-checked PairItems, spread over workers; rejects go to `rejects`."""
    given = scfg.get("input") or []
    inputs = [given] if isinstance(given, str) else list(given)
    found, missing = expand_inputs(inputs)
    rejects.append(p | f"{stage}_Missing" >> beam.Create(
        [make_reject(stage, m, LIST_FILTER, "missing_input") for m in missing],
        reshuffle=False))
    read = (
        p | f"{stage}_Inputs" >> beam.Create(found, reshuffle=False)
        | f"{stage}_Read" >> beam.ParDo(ReadItemsFn(stage, list_options(scfg, media)))
        .with_outputs(REJECTS, main="items")
    )
    rejects.append(read[REJECTS])
    checked = (
        read.items | f"{stage}_Spread" >> beam.Reshuffle()
        | f"{stage}_Caption" >> beam.ParDo(CheckCaptionFn(stage, caption_rules(scfg)))
        .with_outputs(REJECTS, main="items")
    )
    rejects.append(checked[REJECTS])
    return checked.items


def write_source(stage: str, samples: beam.PCollection, cfg: dict[str, Any], out_dir: str,
                 counts: list[beam.PCollection], shuffle: Shuffle = RUNNER) -> beam.PCollection:
    """Samples -> shards/<stage>/*.tar; the funnel counts one per kept sample."""
    from pipeline.outputs.manifest import write_json
    from pipeline.outputs.summary import PairSummaryFn, pair_summary

    shard_cfg = cfg["shards"]
    counts.append(count_each(samples, f"{stage}_Labels", lambda _s, st=stage: out_label(st)))
    _ = (samples | f"{stage}_Summary" >> beam.Map(pair_summary)
         | f"{stage}_SummaryCombine" >> beam.CombineGlobally(PairSummaryFn())
         | f"{stage}_WriteSummary" >> beam.Map(
             lambda s, st=stage: write_json(out_dir, f"stats/summary-{st}.json", s)))
    return samples | f"{stage}_Shards" >> WriteShards(
        out_dir, stage, shard_cfg["max_samples"], shard_cfg["max_bytes"],
        shard_cfg.get("buckets_per_input", DEFAULT_BUCKETS_PER_INPUT), shuffle=shuffle)

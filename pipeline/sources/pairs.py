"""`add_pair_sources`: the one entry point the build calls for alt_text, image_text and
video_text, each written to its own shards."""

from __future__ import annotations

import logging
from typing import Any

import apache_beam as beam

from pipeline.file_shuffle import RUNNER, Shuffle
from pipeline.rejects import REJECTS
from pipeline.sources.alt_text import AltTextPairs
from pipeline.sources.common import read_pairs, source_config, write_source
from pipeline.sources.image_text import ImageTextPairs
from pipeline.sources.video_text import VideoTextPairs
from pipeline.stages.decontam import decontaminate_pairs

log = logging.getLogger(__name__)


def add_pair_sources(p: beam.Pipeline, cfg: dict[str, Any], out_dir: str,
                     kept_docs: beam.PCollection | None, shuffle: Shuffle = RUNNER
                     ) -> tuple[list[beam.PCollection], list[beam.PCollection],
                                list[beam.PCollection]]:
    """Build every pair source named in `cfg["sources"]`: (shards, rejects, counts) lists.

    `kept_docs` holds the interleaved source's kept (Document, {member: jpeg}) items; when it
    is None (no interleaved input), alt_text is not built. `shuffle` makes the groups
    (pipeline.file_shuffle)."""
    shards: list[beam.PCollection] = []
    rejects: list[beam.PCollection] = []
    counts: list[beam.PCollection] = []
    sources = cfg["sources"]
    if "alt_text" in sources and kept_docs is None:
        log.warning("sources.alt_text: the interleaved source is not built, so neither is it")
    elif "alt_text" in sources:
        scfg = source_config(cfg, "alt_text")
        out = kept_docs | "alt_text" >> AltTextPairs(scfg, shuffle)
        rejects += out[REJECTS]
        samples = decontaminate_pairs("alt_text", out["samples"], cfg, rejects)
        shards.append(write_source("alt_text", samples, cfg, out_dir, counts, shuffle))
    file_sources = (  # (name, media read from its lists, its transform for a source config)
        ("image_text", "image", lambda scfg: ImageTextPairs(scfg, cfg, out_dir)),
        ("video_text", "video", lambda scfg: VideoTextPairs(scfg, cfg)),
    )
    for name, media, transform in file_sources:
        if name not in sources:
            continue
        scfg = source_config(cfg, name)
        items = read_pairs(p, name, scfg, media, rejects)
        out = items | name >> transform(scfg)
        rejects += out[REJECTS]
        samples = decontaminate_pairs(name, out["samples"], cfg, rejects)
        shards.append(write_source(name, samples, cfg, out_dir, counts, shuffle))
    return shards, rejects, counts

"""Which filters a config runs, stage by stage, with every reason each can give: the funnel
lists them all, zeros included, so a filter that dropped nothing still shows by name."""

from __future__ import annotations

from typing import Any

from pipeline.imports.formats import imports_corpus
from pipeline.imports.rows import IMPORT_FILTER, IMPORT_REASONS
from pipeline.stages.decontam import DECONTAM_REASONS, IMAGE_FILTER, TEXT_FILTER
from pipeline.stages.dedup import (
    DEDUP_REASONS,
    NEAR_FILTER,
    PARAGRAPH_FILTER,
    URL_FILTER,
)
from pipeline.stages.dedup import (
    TEXT_FILTER as TEXT_DEDUP_FILTER,
)
from pipeline.stages.filter import TEXT_LEFT_FILTER, TEXT_LEFT_REASONS
from pipeline.stages.image_dedup import EXACT_FILTER, IMAGE_DEDUP_REASONS, PERCEPTUAL_FILTER
from pipeline.stages.images import (
    CHECK_FILTER,
    DOCUMENT_DROPPED_REASONS,
    MIN_IMAGES_FILTER,
    URL_COUNT_FILTER,
    URL_COUNT_REASONS,
)

Declared = dict[str, dict[str, tuple[str, ...]]]


def _filters(section: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    from filters.base import enabled_filters

    return {f.name: tuple(f.reasons) for f in enabled_filters(section)}


def declared_reasons(cfg: dict[str, Any]) -> Declared:
    from scrapers.images import IMAGE_REASONS

    fcfg, dcfg = cfg["filters"], cfg["dedup"]
    node = _filters(fcfg["node"])
    document = _filters(fcfg["document"])
    if node:
        document[TEXT_LEFT_FILTER] = TEXT_LEFT_REASONS
    dedup: dict[str, tuple[str, ...]] = {}
    for key, name in (("url", URL_FILTER), ("text", TEXT_DEDUP_FILTER), ("near", NEAR_FILTER)):
        if dcfg[key]["enabled"]:
            dedup[name] = DEDUP_REASONS[name]
    if dcfg["domain_paragraphs"]["enabled"]:
        node[PARAGRAPH_FILTER] = DEDUP_REASONS[PARAGRAPH_FILTER][:1]
        dedup[PARAGRAPH_FILTER] = DEDUP_REASONS[PARAGRAPH_FILTER][1:]
    image = {CHECK_FILTER: IMAGE_REASONS, **_filters(fcfg["image"])}
    if cfg["images"].get("min_per_document", 0) > 0:
        image[MIN_IMAGES_FILTER] = DOCUMENT_DROPPED_REASONS
    if dcfg["image_urls"]["enabled"]:
        image[URL_COUNT_FILTER] = URL_COUNT_REASONS
    icfg = dcfg["images"]
    if icfg["enabled"]:
        for on, name in ((icfg["exact"], EXACT_FILTER), (icfg["perceptual"], PERCEPTUAL_FILTER)):
            if on:
                image[name] = IMAGE_DEDUP_REASONS[name]
    decontam = {TEXT_FILTER: DECONTAM_REASONS[TEXT_FILTER]} if cfg["decontam"]["eval_texts"] else {}
    if cfg["decontam"]["eval_images"]:
        image[IMAGE_FILTER] = DECONTAM_REASONS[IMAGE_FILTER]
    extract = {IMPORT_FILTER: IMPORT_REASONS} if imports_corpus(cfg) else {}
    out = {"extract": extract, "node": node, "filter": document, "dedup": dedup,
           "decontam": decontam, "image": image}
    return {stage: by_filter for stage, by_filter in out.items() if by_filter}

"""The config threshold behind each reject reason, so the report can show it, draw it on the
histogram of measured values and order the examples by how close they came to passing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Registered filters (filters/): reason -> the constructor parameters that decide it. A
# reason not listed here is decided by "max_<reason>" or "min_<reason>" (gopher_repetition).
_FILTER_PARAMS = {
    "too_few_words": ("min_words",), "too_many_words": ("max_words",),
    "mean_word_length": ("min_mean_word_length", "max_mean_word_length"),
    "symbol_ratio": ("max_symbol_word_ratio",), "bullet_lines": ("max_bullet_lines_ratio",),
    "ellipsis_lines": ("max_ellipsis_lines_ratio",), "alpha_words": ("min_alpha_words_ratio",),
    "stop_words": ("min_stop_words",), "char_repetition": ("max_char_repetition",),
    "word_repetition": ("max_word_repetition",), "special_characters": ("max_ratio",),
    "too_few_stop_words": ("min_ratio",), "flagged_words": ("max_ratio",),
    "low_score": ("min_score",), "wrong_language": ("languages",),
    "single_color": ("max_colors",), "near_blank": ("min_gray_std",),
    "too_small": ("min_side",), "too_large": ("max_side",), "aspect_ratio": ("max_aspect",),
}

# Build-wide rules outside filters/: (filter, reason) -> (config path, kind).
_RULES = {
    ("extract/v1", "too_little_text"): ("extract.min_text_chars", "min"),
    ("extract/v1", "too_large"): ("extract.max_page_bytes", "max"),
    ("image_check/v1", "too_small"): ("images.min_side", "min"),
    ("image_check/v1", "aspect_ratio"): ("images.max_aspect", "max"),
    ("image_check/v1", "too_large_bytes"): ("images.max_bytes", "max"),
    ("image_check/v1", "decompression_bomb"): ("images.max_pixels", "max"),
    ("min_images/v1", "too_few_images"): ("images.min_per_document", "min"),
    ("min_images/v1", "document_dropped"): ("images.min_per_document", "min"),
    ("max_images/v1", "over_max_per_document"): ("images.max_per_document", "max"),
    ("image_url_count/v1", "too_common"): ("dedup.image_urls.max_documents", "max"),
    ("domain_paragraphs/v1", "repeated_in_domain"): ("dedup.domain_paragraphs.min_documents",
                                                     "at_least"),
    ("image_dedup_phash/v1", "near_duplicate_image"): ("dedup.images.max_distance",
                                                           "at_most"),
}

# Pair sources: caption rules under sources.<name>.caption, image rules under .image.
_CAPTION_FILTERS = ("caption/v1", "alt_text/v1")
_CAPTION_RULES = {"too_short": ("min_chars", "min"), "too_long": ("max_chars", "max"),
                  "too_few_words": ("min_words", "min"), "too_many_words": ("max_words", "max"),
                  "few_letters": ("min_letter_ratio", "min"),
                  "language": ("min_language_score", "min")}
_PAIR_IMAGE_RULES = {"too_small": ("min_side", "min"), "aspect_ratio": ("max_aspect", "max"),
                     "too_large_bytes": ("max_bytes", "max"),
                     "decompression_bomb": ("max_pixels", "max")}

_WORDS = {"min": "dropped below", "max": "dropped above", "at_least": "dropped at or above",
          "at_most": "dropped at or below", "list": "kept only"}


@dataclass(frozen=True)
class Threshold:
    path: str  # where the config sets it, e.g. "images.min_side"
    value: Any  # a number, or a list (languages)
    kind: str  # min, max, at_least, at_most, list

    @property
    def numeric(self) -> float | None:
        if isinstance(self.value, bool) or not isinstance(self.value, (int, float)):
            return None
        return float(self.value)

    def describe(self) -> str:
        return f"{self.path} = {self.value!r} ({_WORDS.get(self.kind, self.kind)})"


def _get(cfg: dict[str, Any], path: str) -> Any:
    node: Any = cfg
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _enabled(value: Any) -> bool:
    """A threshold of None or 0 turns its rule off (filters.base.too_low/too_high)."""
    return value not in (None, 0, 0.0, False, [], "")


def _kind(param: str) -> str:
    if param == "languages":
        return "list"
    return "min" if param.startswith("min") else "max"


def _filter_thresholds(cfg: dict[str, Any], filt: str, reason: str) -> list[Threshold]:
    key = filt.split("/", 1)[0]
    for level in ("node", "document", "image"):
        section = _get(cfg, f"filters.{level}.{key}")
        if not isinstance(section, dict):
            continue
        params = _FILTER_PARAMS.get(reason, (f"max_{reason}", f"min_{reason}"))
        return [Threshold(f"filters.{level}.{key}.{p}", section[p], _kind(p))
                for p in params if p in section and _enabled(section[p])]
    return []


def _pair_thresholds(cfg: dict[str, Any], stage: str, filt: str, reason: str
                     ) -> list[Threshold]:
    from pipeline.sources.common import caption_rules, source_config

    try:
        scfg = source_config(cfg, stage)
    except (ValueError, KeyError, TypeError):
        return []
    if filt in _CAPTION_FILTERS and reason in _CAPTION_RULES:
        param, kind = _CAPTION_RULES[reason]
        value = getattr(caption_rules(scfg), param, None)
        section = f"sources.{stage}.caption.{param}"
    elif filt == "image_check/v1" and reason in _PAIR_IMAGE_RULES:
        param, kind = _PAIR_IMAGE_RULES[reason]
        value, section = _get(scfg, f"image.{param}"), f"sources.{stage}.image.{param}"
    elif filt == "alt_text_image/v1" and reason == "too_small":
        value, section, kind = scfg.get("min_side"), f"sources.{stage}.min_side", "min"
    else:
        return []
    return [Threshold(section, value, kind)] if _enabled(value) else []


def thresholds_for(cfg: dict[str, Any], stage: str, filt: str, reason: str) -> list[Threshold]:
    """The thresholds deciding ``reason`` of ``filt`` at ``stage`` in this build's config."""
    from pipeline.sources.common import PAIR_SOURCES

    if stage in PAIR_SOURCES:
        return _pair_thresholds(cfg, stage, filt, reason)
    rule = _RULES.get((filt, reason))
    if rule is not None:
        value = _get(cfg, rule[0])
        return [Threshold(rule[0], value, rule[1])] if _enabled(value) else []
    return _filter_thresholds(cfg, filt, reason)


def closeness(values: Any, thresholds: list[Threshold]) -> Any:
    """How far each measured value (a numpy array) lies from its nearest numeric threshold,
    relative to it: 0 is right at the limit; inf where there is no value or no threshold."""
    import numpy as np

    values = np.asarray(values, dtype=float)
    near = np.full(len(values), np.inf)
    for t in thresholds:
        limit = t.numeric
        if limit is not None:
            gap = np.abs(values - limit) / (abs(limit) or 1.0)
            near = np.fmin(near, np.where(np.isfinite(gap), gap, np.inf))
    return near

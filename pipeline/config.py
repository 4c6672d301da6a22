"""Build configuration: a shipped preset, deep-merged with a user's YAML, validated and hashed."""

from __future__ import annotations

import copy
import fnmatch
import hashlib
import json
import math
from importlib import resources
from typing import Any

import yaml

from pipeline.imports.formats import INPUT_FORMATS, input_format

PRESETS = ("m3w", "obelics")
SHUFFLE_MODES = ("auto", "files", "runner")  # pipeline.file_shuffle
# Sections whose keys the user may add to: sources, and filters by their registered key.
OPEN_SECTIONS = ("sources.", "filters.node.", "filters.document.", "filters.image.")


class ConfigError(ValueError):
    """A config that names an unknown key, preset or a value of the wrong type."""


def load_preset(name: str) -> dict[str, Any]:
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    text = resources.files("pipeline.presets").joinpath(f"{name}.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    base = data.pop("base", None)
    return _merge(load_preset(base), data) if base else data


def _merge(base: dict[str, Any], over: dict[str, Any], path: str = "") -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        where = f"{path}{key}"
        if path in OPEN_SECTIONS and key not in out:
            out[key] = copy.deepcopy(value)  # a new source, or a filter the preset leaves out
            continue
        if key not in out:
            raise ConfigError(f"unknown config key {where!r}")
        if isinstance(out[key], dict):
            if not isinstance(value, dict):
                raise ConfigError(f"config key {where!r} must be a mapping")
            out[key] = _merge(out[key], value, where + ".")
        else:
            want = type(out[key])
            if want is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if out[key] is not None and value is not None and not isinstance(value, want):
                raise ConfigError(
                    f"config key {where!r} must be {want.__name__}, got {type(value).__name__}"
                )
            out[key] = copy.deepcopy(value)
    return out


def load_config(path: str | None = None, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The effective config: preset (``preset:`` key, default m3w) < file < overrides."""
    user: dict[str, Any] = {}
    if path:
        with open(path, encoding="utf-8") as fh:
            user = yaml.safe_load(fh) or {}
        if not isinstance(user, dict):
            raise ConfigError(f"{path}: a config must be a YAML mapping")
    preset = user.pop("preset", "m3w")
    cfg = _merge(load_preset(preset), user)
    if overrides:
        cfg = _merge(cfg, overrides)
    cfg["preset"] = preset
    _check(cfg)
    return cfg


# Allowed range of every numeric key, as (dotted-key pattern, lowest, highest); the first
# pattern that matches decides, None means unbounded. Fractions (ratios, scores, repetition
# shares) live in [0, 1]; counts and sizes are never negative. A key no pattern names is still
# refused when negative: no threshold in this config means anything below zero.
LIMITS: tuple[tuple[str, float | None, float | None], ...] = (
    ("extract.max_page_bytes", 1, None),
    ("images.min_side", 1, None),
    ("images.max_side", 1, None),
    ("images.max_aspect", 1.0, None),
    ("images.jpeg_quality", 1, 100),
    ("images.max_pixels", 1, None),
    ("images.max_bytes", 1, None),
    ("filters.*.*.*_ratio", 0.0, 1.0),
    ("filters.*.*.min_score", 0.0, 1.0),
    ("filters.*.*.max_char_repetition", 0.0, 1.0),
    ("filters.*.*.max_word_repetition", 0.0, 1.0),
    ("filters.*.*.*_ngram", 1, None),
    ("filters.document.gopher_repetition.max_*", 0.0, 1.0),
    ("filters.image.image_size.max_aspect", 1.0, None),
    ("dedup.near.ngram", 1, None),
    ("dedup.near.bands", 1, None),
    ("dedup.near.rows", 1, None),
    ("dedup.near.threshold", 1e-9, 1.0),
    ("dedup.near.rounds", 1, None),
    ("dedup.domain_paragraphs.min_documents", 2, None),
    ("dedup.images.max_distance", 0, 64),
    ("decontam.ngram", 1, None),
    ("decontam.max_distance", 0, 64),
    ("fetch.timeout", 1e-9, None),
    ("fetch.connect_timeout", 1e-9, None),
    ("fetch.dns_timeout", 1e-9, None),
    ("fetch.deadline", 1e-9, None),
    ("fetch.max_bytes", 1, None),
    ("fetch.threads", 1, None),
    ("shards.max_samples", 1, None),
    ("shards.max_bytes", 1, None),
    ("shards.buckets_per_input", 1, 999),
    ("shards.reject_buckets", 1, 999),
    ("shuffle.partitions", 1, 65536),
    ("shuffle.spill_mb", 1, 65536),
    ("shuffle.max_open_runs", 2, 65536),
    ("errors.max_error_rate", 0.0, 1.0),
    ("*", 0, None),
)


def _numbers(node: Any, path: str = "") -> list[tuple[str, Any]]:
    """(dotted key, value) of every number in a config tree (booleans are not numbers)."""
    if isinstance(node, dict):
        return [kv for k, v in node.items() for kv in _numbers(v, f"{path}{k}.")]
    if isinstance(node, (int, float)) and not isinstance(node, bool):
        return [(path[:-1], node)]
    return []


def _check_ranges(cfg: dict[str, Any]) -> None:
    for key, value in _numbers(cfg):
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"config key {key!r} must be a finite number, got {value!r}")
        lo, hi = next((lo, hi) for pat, lo, hi in LIMITS if fnmatch.fnmatchcase(key, pat))
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            allowed = f"[{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}]"
            raise ConfigError(f"config key {key!r} = {value!r} is outside its allowed range "
                              f"{allowed}")


def _check(cfg: dict[str, Any]) -> None:
    if cfg["extract"]["backend"] not in ("m3w", "trafilatura"):
        raise ConfigError("extract.backend must be 'm3w' or 'trafilatura'")
    fmt = input_format(cfg)
    if fmt not in INPUT_FORMATS:
        raise ConfigError(f"sources.interleaved.input_format must be one of "
                          f"{', '.join(INPUT_FORMATS)}, got {fmt!r}")
    _check_ranges(cfg)
    if cfg["shuffle"]["mode"] not in SHUFFLE_MODES:
        raise ConfigError(f"shuffle.mode must be one of {', '.join(SHUFFLE_MODES)}")
    from filters.base import make_filter

    for level in ("node", "document", "image"):
        for key, params in cfg["filters"][level].items():
            if not isinstance(params, dict):
                raise ConfigError(f"filters.{level}.{key} must be a mapping")
            try:
                made = make_filter(key, params)
            except ValueError as exc:
                raise ConfigError(f"filters.{level}.{key}: {exc}") from None
            if made.level != level:
                raise ConfigError(f"filters.{level}.{key} is a {made.level}-level filter")


def config_hash(cfg: dict[str, Any]) -> str:
    blob = json.dumps(cfg, sort_keys=True, separators=(",", ":")).encode()
    return "sha256:" + hashlib.sha256(blob).hexdigest()

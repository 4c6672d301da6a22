"""Build configuration: a shipped preset, deep-merged with a user's YAML, validated and hashed."""

from __future__ import annotations

import copy
import hashlib
import json
from importlib import resources
from typing import Any

import yaml

PRESETS = ("m3w", "obelics")
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


def _check(cfg: dict[str, Any]) -> None:
    if cfg["extract"]["backend"] not in ("m3w", "trafilatura"):
        raise ConfigError("extract.backend must be 'm3w' or 'trafilatura'")
    if cfg["shards"]["max_samples"] < 1 or cfg["shards"]["max_bytes"] < 1:
        raise ConfigError("shards.max_samples and shards.max_bytes must be positive")
    if not 0.0 <= cfg["errors"]["max_error_rate"] <= 1.0:
        raise ConfigError("errors.max_error_rate must be within [0, 1]")
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
    near = cfg["dedup"]["near"]
    if near["bands"] < 1 or near["rows"] < 1 or not 0.0 < near["threshold"] <= 1.0:
        raise ConfigError("dedup.near needs bands >= 1, rows >= 1 and 0 < threshold <= 1")


def config_hash(cfg: dict[str, Any]) -> str:
    blob = json.dumps(cfg, sort_keys=True, separators=(",", ":")).encode()
    return "sha256:" + hashlib.sha256(blob).hexdigest()

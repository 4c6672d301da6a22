"""Build the image checker's settings from the `images:` section of a build config."""

from __future__ import annotations

import dataclasses
from functools import lru_cache
from typing import Any

from scrapers.images import ImageConfig


def image_config(cfg: dict[str, Any]) -> ImageConfig:
    return _cached(tuple(sorted((k, v) for k, v in cfg.items() if not isinstance(v, list))))


@lru_cache(maxsize=8)
def _cached(items: tuple[tuple[str, Any], ...]) -> ImageConfig:
    names = {f.name for f in dataclasses.fields(ImageConfig)}
    return ImageConfig(**{k: v for k, v in items if k in names})

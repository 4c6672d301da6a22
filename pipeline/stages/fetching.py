"""Build the polite fetcher from the `fetch:` section of a build config."""

from __future__ import annotations

import dataclasses
from typing import Any

from scrapers.fetch import FetchConfig, Fetcher


def fetch_config(cfg: dict[str, Any]) -> FetchConfig:
    names = {f.name for f in dataclasses.fields(FetchConfig)}
    kwargs = {k: v for k, v in cfg.items() if k in names}
    if "allowed_networks" in kwargs:
        kwargs["allowed_networks"] = list(kwargs["allowed_networks"])
    return FetchConfig(**kwargs)


def make_fetcher(cfg: dict[str, Any]) -> Fetcher:
    return Fetcher(fetch_config(cfg))

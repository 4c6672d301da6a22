"""The filter contract and the registry every filter is resolved through.

A filter is a small pure class:
- ``name`` is versioned ("gopher_quality/v1"): change the rule, bump the version;
- ``reasons`` declares every reason code it can return, so the funnel can show zeros and a test
  can reach each one;
- ``measure(item)`` returns every value the filter looks at (written out in ``tag_only`` mode):
  numbers, plus a few string labels (the detected language, the matched rule) that a ``Drop``
  carries as its detail;
- ``judge(measures)`` applies the thresholds: None keeps the item, a ``Drop`` removes it.

Thresholds are constructor keyword arguments, filled from the build config section of the same
key. A threshold of None (or 0) turns its rule off. Nothing here imports Beam.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class Drop:
    """Why an item failed: a declared reason code and the measured value that failed."""

    reason: str
    value: float | None = None
    detail: str = ""


class Filter:
    """Base of every filter. Subclasses set ``key``, ``name``, ``level`` and ``reasons``."""

    key: ClassVar[str]  # config key, e.g. "gopher_quality"
    name: ClassVar[str]  # versioned name, e.g. "gopher_quality/v1"
    level: ClassVar[str]  # "node" (one paragraph), "document" or "image"
    reasons: ClassVar[tuple[str, ...]]

    def measure(self, item: Any) -> dict[str, Any]:
        raise NotImplementedError

    def judge(self, measures: dict[str, Any]) -> Drop | None:
        raise NotImplementedError

    def filter(self, item: Any) -> Drop | None:
        """Measure and judge in one call: None keeps the item."""
        return self.judge(self.measure(item))

    def _drop(self, reason: str, value: float | None, detail: str = "") -> Drop:
        assert reason in self.reasons, f"{self.name}: undeclared reason {reason!r}"
        return Drop(reason, None if value is None else float(value), detail)


def too_low(value: float | None, minimum: float | None) -> bool:
    """``value`` is under an enabled lower limit (None or 0 disables; unmeasured passes)."""
    return bool(minimum) and value is not None and value < float(minimum or 0)


def too_high(value: float | None, maximum: float | None) -> bool:
    """``value`` is over an enabled upper limit (None or 0 disables; unmeasured passes)."""
    return bool(maximum) and value is not None and value > float(maximum or 0)


REGISTRY: dict[str, type[Filter]] = {}


def register(cls: type[Filter]) -> type[Filter]:
    """Class decorator: make a filter resolvable by its config key."""
    if cls.key in REGISTRY and REGISTRY[cls.key] is not cls:
        raise ValueError(f"filter key {cls.key!r} registered twice")
    if cls.name.split("/")[0] != cls.key or "/v" not in cls.name:
        raise ValueError(f"filter name {cls.name!r} must be '{cls.key}/v<N>'")
    REGISTRY[cls.key] = cls
    return cls


def make_filter(key: str, params: dict[str, Any]) -> Filter:
    """Instantiate the registered filter ``key`` with thresholds from its config section.

    ``enabled`` is a config switch, not a threshold, and is ignored here. An unknown key or
    parameter raises ValueError naming it.
    """
    import filters  # noqa: F401  (registers every filter module)

    if key not in REGISTRY:
        raise ValueError(f"unknown filter {key!r}; known: {', '.join(sorted(REGISTRY))}")
    kwargs = {k: v for k, v in params.items() if k != "enabled"}
    try:
        return REGISTRY[key](**kwargs)
    except TypeError as exc:
        raise ValueError(f"filter {key!r}: {exc}") from None


def enabled_filters(section: dict[str, Any]) -> list[Filter]:
    """The filters a config section (key -> params) switches on, in its order."""
    return [make_filter(key, params) for key, params in section.items()
            if params and params.get("enabled", True)]


def run_filters(filters: list[Filter], item: Any, measure_all: bool = False
                ) -> tuple[tuple[str, Drop] | None, dict[str, dict[str, Any]]]:
    """The first failing filter as (name, Drop), or None. With ``measure_all`` (tag_only) every
    filter runs and the second value maps each name to its measures and the drop it would make;
    otherwise the run stops at the first drop and the mapping stays empty."""
    measured: dict[str, dict[str, Any]] = {}
    first = None
    for f in filters:
        measures = f.measure(item)
        drop = f.judge(measures)
        if measure_all:
            measured[f.name] = dict(measures, drop=drop.reason if drop else None)
        if drop is not None and first is None:
            first = (f.name, drop)
            if not measure_all:
                break
    return first, measured

"""Every registered filter's versioned name with the reasons it declares, so the funnel can
list reasons that dropped nothing (zeros) next to those that did."""

from __future__ import annotations


def declared_reasons() -> dict[str, tuple[str, ...]]:
    """{"gopher_quality/v1": ("too_few_words", ...), ...} for every registered filter."""
    import filters  # noqa: F401  (registers every filter module)
    from filters.base import REGISTRY

    return {cls.name: tuple(cls.reasons) for cls in REGISTRY.values()}

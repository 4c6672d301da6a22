"""The one tag every stage gives its rejects, and the one way pair sources make them."""

from __future__ import annotations

from collections.abc import Sequence

from schemas import Reject

REJECTS = "rejects"  # tagged output of every DoFn that drops something
EXCERPT_CHARS = 200  # of a rejected document's text, as a node reject keeps of its paragraph


def excerpt(text: str) -> str:
    """The start of a rejected document's text, so the report can show what was dropped."""
    return text[:EXCERPT_CHARS]


def rejects_in(element: Reject | Sequence[Reject]) -> Sequence[Reject]:
    """The rejects of one element of a rejects stream: a Reject, or a list of one record's
    rejects (extract gives a page's in one element: its image-rule rejects are about 20 a
    page, and each element costs the runner more than the reject does)."""
    return (element,) if isinstance(element, Reject) else element


def make_reject(stage: str, source_id: str, filt: str, reason: str, value: float | None = None,
                url: str = "", detail: str = "") -> Reject:
    """A reject with its URL and detail cut to the lengths the rejects table keeps."""
    return Reject(source=source_id, stage=stage, filter=filt, reason=reason, value=value,
                  url=url[:2000], detail=detail[:500])

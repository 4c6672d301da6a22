"""A Reject: why one input (record, document, image, pair) did not reach a shard."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class Reject:
    source: str  # the input: "file.warc.gz@1234", a URL, or a document key
    stage: str  # pipeline stage: read, extract, filter, image, dedup, ...
    filter: str  # versioned filter or component name, e.g. "image_size/v1"
    reason: str  # a declared reason code, or "error:<ExceptionType>"
    value: float | None = None  # the measured value that failed the threshold
    url: str = ""
    detail: str = ""
    # Where the rejected item can be seen again without fetching it: the input record holding
    # a rejected image's bytes ("PATH@OFFSET"), and the first lines of a rejected document.
    record: str = ""
    excerpt: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

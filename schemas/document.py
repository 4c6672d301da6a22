"""The interleaved Document: text and image nodes in page order, plus where it came from."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, fields
from typing import Any


@dataclass
class TextNode:
    """A block of main-content text (paragraph, heading, list item, caption, table cell...)."""

    text: str
    tag: str = "p"


@dataclass
class ImageNode:
    """An image at its place in the page. `src` is always an absolute URL.

    `member` is the tar member suffix (e.g. ``"000.jpg"``) once the image is stored in a shard.
    """

    src: str
    alt: str = ""
    caption: str = ""
    width: int | None = None
    height: int | None = None
    member: str | None = None
    sha256: str | None = None


Node = TextNode | ImageNode


@dataclass
class Document:
    url: str
    nodes: list[Node] = field(default_factory=list)
    title: str = ""
    crawl_date: str = ""
    source_file: str = ""
    source_offset: int = -1
    language: str = ""
    key: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """Text nodes joined in document order."""
        return "\n".join(n.text for n in self.nodes if isinstance(n, TextNode))

    @property
    def images(self) -> list[ImageNode]:
        return [n for n in self.nodes if isinstance(n, ImageNode)]

    def to_dict(self) -> dict[str, Any]:
        """``dataclasses.asdict`` plus each node's "type", made directly: asdict deep-copies
        every field of every node, and a shard writes this for every document."""
        nodes = []
        for n in self.nodes:
            text = isinstance(n, TextNode)
            d = {name: getattr(n, name) for name in (_TEXT_FIELDS if text else _IMAGE_FIELDS)}
            d["type"] = "text" if text else "image"
            nodes.append(d)
        out = {name: getattr(self, name) for name in _DOC_FIELDS}
        out["nodes"] = nodes
        out["meta"] = copy.deepcopy(self.meta)  # as asdict: the caller owns what it gets
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Document:
        nodes: list[Node] = []
        for n in d.get("nodes", []):
            n = dict(n)
            kind = n.pop("type")
            nodes.append(TextNode(**n) if kind == "text" else ImageNode(**n))
        values = {k: v for k, v in d.items() if k != "nodes" and k in cls.__dataclass_fields__}
        return cls(nodes=nodes, **values)


_TEXT_FIELDS = tuple(f.name for f in fields(TextNode))
_IMAGE_FIELDS = tuple(f.name for f in fields(ImageNode))
_DOC_FIELDS = tuple(f.name for f in fields(Document))

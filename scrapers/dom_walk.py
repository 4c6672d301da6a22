"""One iterative pass over the DOM: block elements, their text blocks and images, in order.

The walk is the only per-node Python work in the extractor, so it touches as little as it can:
the tag of every node, text of text nodes, class/id/role of block elements, attributes of
images. No recursion: 10k-deep documents are fine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scrapers.dom_hints import (
    BLOCK_TAGS,
    BOILER,
    MAIN_CONTENT,
    NEUTRAL,
    OUT_TAG,
    SEMANTIC,
    SKIP_TAGS,
    TAG_HINT,
    class_hint,
)

BR = "\x00"  # line-break marker inside a block (NUL never survives HTML parsing)
WRAP_MIN = 200  # raw text (whitespace included) of a box that may wrap an article body
FIGURE_TEXT = 300  # text (a caption, a credit) of a class-named box that is an image embed
# Table row parts: their class names say nothing their table does not; not worth a lookup.
_UNHINTED = frozenset({"tbody", "thead", "tfoot", "tr"})


@dataclass(slots=True)
class TextBlock:
    eid: int  # innermost block element holding the text
    text: str
    tag: str  # output tag (p, h1..h6, li, td, blockquote, figcaption, pre)
    length: int
    link_chars: int


@dataclass(slots=True)
class ImageItem:
    """An <img> (or <picture>) as found; resolved only once we know whether it is kept."""

    eid: int
    attrs: dict[str, str | None]
    sources: list[str]  # srcset values of <picture><source>
    linked: bool = False  # inside an <a>


@dataclass
class Walk:
    """Block elements in pre-order (id 0 is the walk root) and the items found under them."""

    tag: list[str] = field(default_factory=lambda: ["body"])
    parent: list[int] = field(default_factory=lambda: [-1])
    end: list[int] = field(default_factory=lambda: [0])  # last descendant id (subtree range)
    hint: list[int] = field(default_factory=lambda: [0])
    items: list[TextBlock | ImageItem] = field(default_factory=list)


def _norm(raw: str) -> str:
    if BR in raw:
        return "\n".join(s for s in (" ".join(p.split()) for p in raw.split(BR)) if s)
    return " ".join(raw.split())


def walk(root: Any, total: int = 0, skip_share: float = 0.25) -> Walk:
    """Walk the subtree under `root` (a selectolax node, usually <body>).

    `total` is the length of the page's text. An element with a boilerplate class/id is skipped
    unless it holds `skip_share` of it: a wrapper holding much of the page is not a sidebar,
    whatever its class says; it is walked and judged on its prose by `extract_select`.
    """
    w = Walk()
    etag, epar, eend, ehint, items = w.tag, w.parent, w.end, w.hint, w.items
    buf: list[str] = []
    state = [0, 0, 0, 0]  # current block id, link depth, link chars in buf, pre/quote depth
    quote = [0]

    def flush() -> None:
        raw = "".join(buf)
        buf.clear()
        lk = state[2]
        state[2] = 0
        cur = state[0]
        tag = etag[cur]
        if state[3]:
            text = raw.replace(BR, "\n").strip("\n")
            if not text.strip():
                return
            out = "pre"
        else:
            text = _norm(raw)
            if not text:
                return
            out = OUT_TAG.get(tag, "p")
            if quote[0] and out == "p":
                out = "blockquote"
        if ehint[cur] == 4 and out == "p":
            out = "figcaption"
        n = len(text)
        items.append(TextBlock(cur, text, out, n, lk if lk < n else n))

    stack: list[tuple[Any, int]] = []
    node = root.child
    kinds = _KINDS
    while node is not None:
        # Dispatch on lexbor's integer tag id: reading `.tag` builds a string for every node.
        tid = node.tag_id
        kind = kinds.get(tid)
        if kind is None:
            kind = _kind(node, tid)
        action = -1  # what to undo when leaving the node: -1 nothing, -2 link, -3 pre, >=0 block
        child = None
        if kind == _TEXT:
            s = node.text_content
            # Whitespace between tags only matters as a separator inside a block.
            if s and (buf or not s.isspace()):
                buf.append(s)
                if state[1]:
                    state[2] += len(" ".join(s.split()))
        elif kind == _BLOCK:
            tag = _NAMES[tid]
            if buf:
                flush()
            attrs = None if tag in _UNHINTED else node.attributes  # one dict: 3x cheaper
            if attrs:                                                  # than node.attrs.get
                h = class_hint(tag, attrs.get("class"), attrs.get("id"), attrs.get("role"))
            else:
                h = TAG_HINT.get(tag, NEUTRAL)
            eid = len(etag)
            etag.append(tag)
            epar.append(state[0])
            eend.append(eid)
            ehint.append(h)
            state[0] = action = eid
            if tag == "pre" or tag == "listing" or tag == "xmp":
                state[3] += 1
            elif tag == "blockquote":
                quote[0] += 1
            skip_len = -1
            if h == BOILER or h == SEMANTIC:
                skip_len = len(node.text(deep=True)) if total else -1
                if h == BOILER and (skip_len < 0 or skip_len >= WRAP_MIN) \
                        and node.css_first(MAIN_CONTENT) is not None:
                    # e.g. a sticky share bar around the article (a box with less text than
                    # WRAP_MIN holds no article: not worth the query, which scans the box)
                    h = ehint[eid] = NEUTRAL
                    skip_len = -1
                elif h == SEMANTIC and skip_len * 2 > total:
                    h = ehint[eid] = BOILER  # a <nav> or <footer> wrapping the page: judge it
            if h == BOILER and 0 <= skip_len < 4 * FIGURE_TEXT \
                    and node.css_first("a") is None and node.css_first("img") is not None \
                    and len("".join(node.text(deep=True).split())) < FIGURE_TEXT:
                # An image with at most a caption and no link in a class-named box ("widget",
                # "banner") is an editor's image embed: sidebars, promos and share bars link out.
                h = ehint[eid] = NEUTRAL
                skip_len = -1
            if h == SEMANTIC or 0 <= skip_len < total * skip_share:
                # nav/aside/footer, or a class-named sidebar/comments/share box that does not
                # hold much of the page: never content, so not walked; only its images listed.
                # A text-less placeholder keeps a class-named box's weight in the scoring.
                if h == BOILER and skip_len > 0:
                    items.append(TextBlock(eid, "", "", skip_len, skip_len))
                ehint[eid] = SEMANTIC
                for img in node.css("img"):
                    items.append(ImageItem(eid, dict(img.attributes), []))
            else:
                child = node.child
        elif kind == _INLINE:
            child = node.child
        elif kind == _LINK:
            state[1] += 1
            action = -2
            child = node.child
        elif kind == _BR:
            buf.append(BR)
        elif kind == _IMAGE:
            _image(node, _NAMES[tid], state, buf, flush, items)
        if child is not None:
            stack.append((node, action))
            node = child
            continue
        while True:
            if action >= 0:
                if buf:
                    flush()
                eend[action] = len(etag) - 1
                state[0] = epar[action]
                t = etag[action]
                if t == "pre" or t == "listing" or t == "xmp":
                    state[3] -= 1
                elif t == "blockquote":
                    quote[0] -= 1
            elif action == -2:
                state[1] -= 1
            nxt = node.next
            if nxt is not None:
                node = nxt
                break
            if not stack:
                node = None
                break
            node, action = stack.pop()
    if buf:
        flush()
    eend[0] = len(etag) - 1
    return w


# Node kinds, by tag id. Ids of HTML's own tags are fixed in lexbor; a custom element's id is
# a per-document pointer (large), never cached: custom elements are inline.
_TEXT, _BLOCK, _INLINE, _LINK, _BR, _IMAGE, _SKIP = range(7)
_KINDS: dict[int, int] = {}
_NAMES: dict[int, str] = {}
_FIXED_IDS = 1 << 16


def _kind(node: Any, tid: int) -> int:
    tag = node.tag
    if tag == "-text":
        kind = _TEXT
    elif tag is None or tag[0] == "-" or tag in SKIP_TAGS:
        kind = _SKIP
    elif tag in BLOCK_TAGS:
        kind = _BLOCK
    elif tag == "a":
        kind = _LINK
    elif tag == "br":
        kind = _BR
    elif tag == "img" or tag == "picture":
        kind = _IMAGE
    else:
        kind = _INLINE
    if tid < _FIXED_IDS:
        _KINDS[tid] = kind
        _NAMES[tid] = tag
    elif kind == _BLOCK or kind == _IMAGE:
        kind = _INLINE  # not a tag lexbor knows, so not one of ours
    return kind


def _image(node: Any, tag: str, state: list[int], buf: list[str], flush: Any,
           items: list[Any]) -> None:
    sources: list[str] = []
    if tag == "picture":
        for s in node.css("source"):
            a = s.attrs
            v = a.get("srcset") or a.get("data-srcset")
            if v:
                sources.append(v)
        img = node.css_first("img")
        if img is None:
            return  # a <picture> renders only through its <img>: without one, nothing shows
        attrs = dict(img.attributes)
    else:
        attrs = dict(node.attributes)
    # Text already in the block comes before the image: split the block there.
    if buf and "".join(buf).strip():
        flush()
    items.append(ImageItem(state[0], attrs, sources, state[1] > 0))

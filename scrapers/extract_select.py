"""Choose the main-content region of a walked page and the items to keep inside it.

Every text block gets a value: positive for prose (text outside links), negative for link
lists and for text under boilerplate elements. Each element's score is the sum of the values
of the blocks below it; the element with the highest score is the main content. This picks the
smallest subtree that holds most of the prose while leaving menus, footers and sidebars out,
and it spans sibling sections when the prose is split between them.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass

from scrapers.dom_hints import (
    BOILER,
    CONTENT,
    HEADER,
    HEADINGS,
    NEUTRAL,
    SEMANTIC,
    CaseFreeRe,
)
from scrapers.dom_walk import ImageItem, TextBlock, Walk
from scrapers.extract_images import IMAGE_EXT

# A boilerplate hint on an element holding this share of the page's prose is a false hint
# (e.g. a wrapper `<div class="content-sidebar-wrap">`).
DOMINANT_SHARE = 0.6
# From the best-scoring element, climb to ancestors while the score stays above this share,
# the prose grows by at most CLIMB_NEW and no new image comes in (headings, a link line).
CLIMB_SHARE = 0.8
CLIMB_NEW = 0.3
BOILER_WEIGHT = 0.25  # value per char of text under a boilerplate element (negative)
LINK_DENSITY_MAX = 0.4  # blocks inside the content that are mostly links are navigation
LONG_LINK = 50  # ... except a whole-link paragraph at least this long (a reference)
SHORT_CELL = 100  # ... or a linked table cell shorter than this (data: a product, a name)
HEADER_PROSE = 100  # a block this long inside a page/article header is a lead paragraph
CARDS_MIN = 3  # side-by-side story cards (linked heading + linked picture) that make a list
CARD_DEPTH = 3  # levels above a linked picture searched for its card's linked heading
CARD_TEXT = 600  # a card is a teaser: a title, a line or two, a byline
LABEL_MAX = 40  # a shorter unpunctuated block over a dropped one is its label ("Tags:")
TAIL_PROSE = 150  # after the last block this long,
TAIL_SHORT = 50  # blocks shorter than this are page furniture
GALLERY_DEPTH = 3  # levels above a trailing image searched for the other pictures of its group
GALLERY_TEXT = 150  # text per picture in a gallery: a caption
_SENTENCE_END = frozenset(".!?。！？")  # a label ("Tags:", "Share") ends otherwise
NOTICE_MAX = 120  # copyright and cookie-consent notices are short; an essay on them is not
_NOTICE_RE = CaseFreeRe(
    r"©|\(c\) *\d{4}|^copyright\b|all rights reserved|cookie.*(?:accept|akzept|consent|zustimm|"
    r"einverstanden|policy|richtlinie|privacy|datenschutz|settings|einstellung|utilis|verwende)")
_PUNCT_RE = re.compile("[.,;:!?。，、；：！？]")


@dataclass
class Selection:
    root: int  # element id of the main content, -1 when none
    keep: list[bool]  # per item of walk.items
    boiler: list[bool]  # per element: inside a boilerplate subtree


def _value(b: TextBlock, boiler: bool, lone: bool) -> float:
    """`lone`: the only text block of its element."""
    if boiler:
        return -BOILER_WEIGHT * b.length
    prose = b.length - b.link_chars
    if lone and b.tag == "td" and b.link_chars == b.length < SHORT_CELL and "\n" not in b.text:
        # A link alone in a short table cell names the row's subject (a product, a person),
        # not a menu entry: menus in table layouts stack several links in one cell, with
        # separators ("Home | Mail") or line breaks between them.
        return 0.0
    v = prose - 2.0 * b.link_chars
    if v > 0 and prose < 80 and not _PUNCT_RE.search(b.text):
        v *= 0.5  # short text without punctuation: labels, menu entries, dates
    return v


def select(w: Walk) -> Selection:
    n = len(w.tag)
    parent, hint, items, end = w.parent, w.hint, w.items, w.end
    prose = [0] * n
    img_eids: list[int] = []
    img_idx: list[int] = []  # indices of the ImageItems in `items`
    blocks = [0] * n  # text blocks per element
    for i, it in enumerate(items):
        if type(it) is TextBlock:
            prose[it.eid] += it.length - it.link_chars
            blocks[it.eid] += 1
        else:
            img_eids.append(it.eid)
            img_idx.append(i)
    for e in range(n - 1, 0, -1):
        prose[parent[e]] += prose[e]
    img_eids.sort()

    def images(e: int) -> int:
        """Images in the subtree of `e` (element ids are in pre-order: a subtree is a range)."""
        return bisect_right(img_eids, end[e]) - bisect_left(img_eids, e)

    limit = DOMINANT_SHARE * prose[0]
    boiler = [False] * n
    header = [False] * n
    content = [False] * n  # inside an article/main/post-body element
    site_header = [False] * n  # inside a header that is not part of such an element
    for e, p, h, pe in zip(range(1, n), parent[1:], hint[1:], prose[1:]):
        if h == NEUTRAL:  # most elements: only inherit
            boiler[e] = boiler[p]
            header[e] = header[p]
            content[e] = content[p]
            site_header[e] = site_header[p]
            continue
        boiler[e] = boiler[p] or h == SEMANTIC or (h == BOILER and (pe < limit or pe == 0))
        head = h == HEADER and pe < limit
        header[e] = header[p] or head
        content[e] = content[p] or h == CONTENT
        site_header[e] = site_header[p] or (head and not content[p])

    score = [0.0] * n
    for it in items:
        if type(it) is TextBlock:
            score[it.eid] += _value(it, boiler[it.eid], blocks[it.eid] == 1)
    for e in range(n - 1, 0, -1):
        score[parent[e]] += score[e]

    # On a tie the smaller subtree wins (an element inside the best so far): a wrapper that
    # adds nothing but pictures (a table row with an image-link menu beside the article
    # cell) scores the same as the article, and the climb below decides whether to go up.
    best, best_score = 0, score[0]
    best_end = end[0]
    for e, s, b, hd in zip(range(1, n), score[1:], boiler[1:], header[1:]):
        if (s > best_score or (s == best_score > 0 and e <= best_end)) and not b and not hd:
            best, best_score, best_end = e, s, end[e]
    keep = [False] * len(items)
    if best_score <= 0 and prose[0] == 0:
        return Selection(-1, keep, boiler)
    # Climb while it costs little: a region of one paragraph is rarely the whole article,
    # and its heading or a link line usually sits one or two levels up.
    floor = CLIMB_SHARE * best_score
    grow = prose[best] * (1 + CLIMB_NEW)
    while best > 0:
        p = parent[best]
        # ... nor images: pictures around the article (teasers, galleries) are not its own.
        if boiler[p] or score[p] < floor or prose[p] > grow or images(p) > images(best):
            break
        best = p
    if hint[best] == BOILER:
        # A class-named widget (a gallery, an embed) won only by its size: the article it sits
        # in, when the page marks one, is the region; the widget's own text rarely is.
        e = parent[best]
        while e > 0 and not boiler[e] and not header[e]:
            if hint[e] == CONTENT:
                best = e
                break
            e = parent[e]
    lo, hi = best, w.end[best]
    for i, it in enumerate(items):
        e = it.eid
        if e < lo or e > hi or boiler[e]:
            continue
        if type(it) is ImageItem:
            # Logos and banners of the site's header go; an article's header image stays, and
            # so does one in a header inside the chosen region below the page level: the site's
            # masthead sits outside the article, the article's own header inside it.
            keep[i] = not site_header[e] or (
                best > 0 and _header_top(e, parent, site_header) > best)
            continue
        if header[e] and it.tag not in HEADINGS and (
                it.length < HEADER_PROSE or it.link_chars * 4 > it.length):
            continue
        if it.length < NOTICE_MAX and _NOTICE_RE.search(it.text):
            continue
        if it.link_chars > LINK_DENSITY_MAX * it.length and not (
                (w.tag[e] == "p" and it.length >= LONG_LINK)
                or (it.tag == "td" and it.length < SHORT_CELL)):
            continue
        keep[i] = True
    up = parent[best]
    if best > 0 and up > 0 and not boiler[up] and not header[up]:
        # Articles often hold their text and their photo gallery in sibling boxes: a gallery
        # beside the chosen region, inside its parent, is the article's.
        _keep_galleries(w, keep, [
            i for i in img_idx if up <= items[i].eid <= end[up] and not lo <= items[i].eid <= hi
            and not boiler[items[i].eid] and not site_header[items[i].eid]
            and not _links_away(items[i])])
    _drop_thumbnail_strips(w, keep, img_idx)
    _drop_teaser_cards(w, keep, img_idx)
    _drop_orphans(items, keep, lo, hi)
    _trim_tail(w, keep)
    _add_title(w, best, keep, boiler)
    return Selection(best, keep, boiler)


def _header_top(e: int, parent: list[int], site_header: list[bool]) -> int:
    """The outermost element of the header that `e` sits in."""
    while parent[e] > 0 and site_header[parent[e]]:
        e = parent[e]
    return e


def _links_away(it: ImageItem) -> bool:
    """A picture inside a link to somewhere else: another page, or a script's control ("#").
    A link to an image file opens the picture's own larger copy."""
    if it.link is None:
        return False
    return not IMAGE_EXT.search(it.link.attributes.get("href") or "")


def _drop_thumbnail_strips(w: Walk, keep: list[bool], img_idx: list[int]) -> None:
    """Linked images in list items with no text of their own (none, or only link text), in a
    list of three or more such items, are a carousel's thumbnails or a teaser list: each
    stands for a page or slide elsewhere. A plain list of pictures, or a gallery with
    captions (text outside links in its items), shows its own."""
    items, tag = w.items, w.tag
    in_li = [i for i in img_idx if keep[i] and tag[items[i].eid] == "li"]
    if not in_li:
        return
    # A caption has a few words outside links; "+10" on the last thumbnail is not one.
    texty = sorted(it.eid for it in items
                   if type(it) is TextBlock and it.length - it.link_chars >= 10)
    lists: dict[int, list[tuple[int, bool]]] = {}
    for i in in_li:
        e = items[i].eid
        j = bisect_left(texty, e)
        bare = (j == len(texty) or texty[j] > w.end[e]) and _links_away(items[i])
        lists.setdefault(w.parent[e], []).append((i, bare))
    for entries in lists.values():
        if len(entries) >= 3 and 2 * sum(b for _, b in entries) > len(entries):
            for i, b in entries:
                keep[i] = keep[i] and not b


def _drop_teaser_cards(w: Walk, keep: list[bool], img_idx: list[int]) -> None:
    """Linked pictures in small "cards" that also hold a mostly-linked heading, three or more
    cards side by side: a list of other stories (heading and picture both link to them),
    whose thumbnails are not this page's images. An article's figures are not in such cards."""
    items = w.items
    linked = [i for i in img_idx if keep[i] and _links_away(items[i])]
    if len(linked) < CARDS_MIN:
        return
    texts = sorted((it.eid, it.length, it.tag in HEADINGS and it.link_chars * 2 > it.length)
                   for it in items if type(it) is TextBlock)
    heads = [e for e, _, h in texts if h]
    if len(heads) < CARDS_MIN:
        return
    eids = [e for e, _, _ in texts]
    size = [0]
    for _, n, _ in texts:
        size.append(size[-1] + n)
    parent, end = w.parent, w.end
    cards: dict[int, list[int]] = {}  # card element -> its linked pictures
    for i in linked:
        e = items[i].eid
        for _ in range(CARD_DEPTH):
            j = bisect_left(heads, e)
            if j < len(heads) and heads[j] <= end[e]:
                n = size[bisect_right(eids, end[e])] - size[bisect_left(eids, e)]
                if n <= CARD_TEXT:
                    cards.setdefault(e, []).append(i)
                break
            e = parent[e]
            if e <= 0:
                break
    rows: dict[int, list[int]] = {}
    for e, pics in cards.items():
        if len(pics) == 1:
            rows.setdefault(parent[e], []).append(pics[0])
    for pics in rows.values():
        if len(pics) >= CARDS_MIN:
            for i in pics:
                keep[i] = False


def _drop_orphans(items: list[TextBlock | ImageItem], keep: list[bool], lo: int, hi: int) -> None:
    """Drop labels whose content was dropped: "Related articles" above a link list, a
    heading with no text under it, "Explore further" before a dropped link."""
    texts = [i for i, it in enumerate(items) if type(it) is TextBlock and lo <= it.eid <= hi]
    for n, i in enumerate(texts):
        if not keep[i]:
            continue
        it = items[i]
        nxt = texts[n + 1] if n + 1 < len(texts) else None
        if it.tag in HEADINGS:
            if nxt is not None and not keep[nxt]:
                keep[i] = False  # a heading over a dropped list
                continue
            for j in texts[n + 1:]:
                if keep[j] and items[j].tag not in HEADINGS:
                    break
                if keep[j] and items[j].tag <= it.tag:
                    keep[i] = False  # the next kept block is a heading of the same rank
                    break
            else:
                keep[i] = False
        elif it.length < LABEL_MAX and it.text[-1] not in _SENTENCE_END and nxt is not None \
                and not keep[nxt] and not (i > 0 and keep[i - 1]
                                           and type(items[i - 1]) is ImageItem):
            keep[i] = False  # (a line right under a kept picture is its caption)


def _trim_tail(w: Walk, keep: list[bool]) -> None:
    """After the last paragraph of real prose, short lines are page furniture: "Tags: ...",
    "Share this", "Comments are closed", bylines of the next teaser."""
    items = w.items
    last = -1
    for i, it in enumerate(items):
        if keep[i] and type(it) is TextBlock and it.length >= TAIL_PROSE:
            last = i
    if last < 0:
        return
    # Lines right after the prose (a sign-off, a source line) belong to it; once something
    # was dropped in between, short lines are furniture.
    attached = True
    for i in range(last + 1, len(items)):
        it = items[i]
        if type(it) is not TextBlock:
            continue
        if not keep[i]:
            attached = False
        elif it.length < TAIL_SHORT and (not attached or it.link_chars):
            keep[i] = attached = False
    # Images after the last kept text and outside its container: share buttons, ads and
    # teasers under the article. An image closing the article body stays, and so does a
    # <figure> one level further out (the last step's photo next to the step's text box) and
    # a group of pictures that link nowhere else (a gallery the article ends with).
    last_text = len(items) - 1
    while last_text >= 0 and not (keep[last_text] and type(items[last_text]) is TextBlock):
        last_text -= 1
    if last_text < 0:
        return
    box = max(w.parent[items[last_text].eid], 0)
    outer = max(w.parent[box], 0)
    trailing = []
    for i in range(last_text + 1, len(items)):
        e = items[i].eid
        if not (box <= e <= w.end[box]
                or (w.tag[e] == "figure" and outer <= e <= w.end[outer])):
            if keep[i] and type(items[i]) is ImageItem and not _links_away(items[i]):
                trailing.append(i)
            keep[i] = False
    _keep_galleries(w, keep, trailing)


def _keep_galleries(w: Walk, keep: list[bool], trailing: list[int]) -> None:
    """Keep the images among `trailing` that share a small container (their block, or up to
    GALLERY_DEPTH levels above it) with another of them, a container holding pictures and at
    most a caption's worth of text each: pictures grouped so are a gallery; one alone, or
    pictures scattered among the page's furniture (ad slots, a share bar), are not."""
    if len(trailing) < 2:
        return
    eids = sorted(w.items[i].eid for i in trailing)
    texts = sorted((it.eid, it.length) for it in w.items if type(it) is TextBlock)
    text_eids = [e for e, _ in texts]
    size = [0]
    for _, n in texts:
        size.append(size[-1] + n)
    for i in trailing:
        e = w.items[i].eid  # the block it sits in, then up to GALLERY_DEPTH levels above
        for _ in range(GALLERY_DEPTH + 1):
            if e <= 0:
                break
            pics = bisect_right(eids, w.end[e]) - bisect_left(eids, e)
            if pics >= 2:
                text = size[bisect_right(text_eids, w.end[e])] - size[bisect_left(text_eids, e)]
                keep[i] = text <= GALLERY_TEXT * pics
                break
            e = w.parent[e]


def _add_title(w: Walk, best: int, keep: list[bool], boiler: list[bool]) -> None:
    """Keep the page's main heading when it sits just above the content region.

    Article titles often live in a header next to the body; the first kept block after it
    must come soon (few blocks in between), so a heading far away in the layout is not taken.
    """
    items = w.items
    first = next((i for i, k in enumerate(keep) if k), None)
    if first is None:
        return
    for i in range(first - 1, max(first - 12, -1), -1):
        it = items[i]
        if type(it) is TextBlock and it.tag == "h1":
            if not boiler[it.eid] and it.link_chars < it.length:
                keep[i] = True
                # A picture between the title and the text is the article's lead picture.
                for j in range(i + 1, first):
                    im = items[j]
                    if type(im) is ImageItem and not boiler[im.eid] and not _links_away(im):
                        keep[j] = True
            return

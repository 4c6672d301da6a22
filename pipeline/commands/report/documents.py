"""documents.html: the sampled interleaved documents as a reader sees them, paragraphs and
images in page order, with their meta, image sizes and what was dropped from them. All sampled
documents are in the page; app.js pages through them and searches URL and title."""

from __future__ import annotations

import json
from typing import Any

from pipeline.commands.report.html import esc, fmt_number, url_link
from pipeline.commands.report.media import MediaDir
from pipeline.commands.report.reject_sample import RejectSample
from pipeline.commands.report.rejects import image_cell
from pipeline.commands.report.shard_sample import Sample, SourceSample

PAGE_SIZE = 10
_HEADINGS = {"h1": "h3", "h2": "h4", "h3": "h5", "h4": "h6", "h5": "h6", "h6": "h6"}


def _text(node: dict[str, Any]) -> str:
    text, tag = esc(node.get("text", "")), str(node.get("tag") or "p").lower()
    if tag in _HEADINGS:
        return f'<{_HEADINGS[tag]} class="node">{text}</{_HEADINGS[tag]}>'
    if tag == "li":
        return f'<p class="node li">{text}</p>'
    if tag in ("pre", "code"):
        return f'<pre class="node">{text}</pre>'
    if tag == "blockquote":
        return f'<blockquote class="node">{text}</blockquote>'
    return f'<p class="node">{text}</p>'


def _image(node: dict[str, Any], sample: Sample, media: MediaDir) -> tuple[str, str]:
    """(the figure in the page, its line in the side panel)."""
    member = str(node.get("member") or "")
    data = sample.members.get(member)
    src = media.image(data) if data else None
    size = f"{node.get('width') or '?'}×{node.get('height') or '?'}"
    alt, caption = node.get("alt") or "", node.get("caption") or ""
    if src:
        img = (f'<img src="{esc(src)}" alt="{esc(alt)}" width="{esc(node.get("width") or "")}" '
               f'height="{esc(node.get("height") or "")}">')
    else:
        img = (f'<div class="placeholder" role="img" aria-label="missing image">'
               f'{esc(member or "no member")}: not readable in the shard</div>')
    texts = ""
    if caption:
        texts += f"<figcaption>{esc(caption)}</figcaption>"
    if alt and alt != caption:
        texts += f'<p class="alt">alt: {esc(alt)}</p>'
    elif alt:
        texts += '<p class="alt">alt: same as the caption</p>'
    side = (f"<li><code>{esc(member)}</code> {esc(size)} px, "
            f"{fmt_number(round(len(data or b'') / 1024, 1))} KB "
            f"{url_link(str(node.get('src') or ''), 'source')}</li>")
    return f'<figure class="node">{img}{texts}</figure>', side


def _meta_rows(doc: dict[str, Any]) -> str:
    rows = [("language", doc.get("language") or "unknown")]
    for key, value in sorted((doc.get("meta") or {}).items()):
        shown = value if isinstance(value, (str, int, float)) else json.dumps(
            value, ensure_ascii=False, sort_keys=True)
        rows.append((key, str(shown)[:400]))
    return "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)


def _dropped(rows: list[dict[str, Any]], media: MediaDir) -> str:
    images = [r for r in rows if r["stage"] == "image"]
    paragraphs = [r for r in rows if r["stage"] == "node"]
    out = ""
    if images:
        out += f"<h4>Dropped images ({len(images)})</h4><ul class=\"dropped\">"
        for r in images:
            value = "" if r.get("value") is None else f" value {fmt_number(r['value'])}"
            out += (f"<li><b>{esc(r['reason'])}</b> <span class=\"filter\">{esc(r['filter'])}"
                    f"</span>{value} {url_link(r.get('url') or '')}"
                    f"{image_cell(r, media, placeholder=False)}</li>")
        out += "</ul>"
    if paragraphs:
        out += (f"<details><summary>Dropped paragraphs ({len(paragraphs)})</summary>"
                '<ul class="dropped">')
        for r in paragraphs:
            out += (f"<li><b>{esc(r['reason'])}</b> {esc(r.get('detail') or '')}</li>")
        out += "</ul></details>"
    return out or '<p class="muted">Nothing was dropped from this page.</p>'


def _document(sample: Sample, dropped: list[dict[str, Any]], media: MediaDir) -> str:
    doc = sample.meta
    body, side_images = [], []
    for node in doc.get("nodes") or []:
        if node.get("type") == "image":
            figure, line = _image(node, sample, media)
            body.append(figure)
            side_images.append(line)
        else:
            body.append(_text(node))
    url, title = str(doc.get("url") or ""), str(doc.get("title") or "")
    search = f"{url} {title}".lower()
    where = f"{doc.get('source_file', '')}@{doc.get('source_offset', '')}"
    return (
        f'<article class="doc" id="doc-{esc(sample.key)}" data-search="{esc(search)}">'
        f'<header><h2>{esc(title or "(untitled)")}</h2>{url_link(url)}'
        f'<p class="meta">crawled {esc(doc.get("crawl_date") or "?")} · from '
        f"<code>{esc(where)}</code> · key <code>{esc(sample.key)}</code> · shard "
        f"<code>{esc(sample.shard)}</code></p></header>"
        f'<div class="doc-body"><div class="doc-text">{"".join(body)}</div>'
        f'<aside class="doc-side"><h4>Meta</h4><table class="meta">{_meta_rows(doc)}</table>'
        f"<h4>Images ({len(side_images)})</h4><ul class=\"sizes\">{''.join(side_images)}</ul>"
        f"{_dropped(dropped, media)}</aside></div></article>"
    )


def documents_body(sample: SourceSample, rejects: RejectSample, media: MediaDir) -> str:
    if not sample.samples:
        return '<p class="muted">This build kept no interleaved documents.</p>'
    docs = "".join(_document(s, rejects.dropped.get(s.key, []), media) for s in sample.samples)
    note = (f"{len(sample.samples):,} documents sampled (seeded) from {sample.seen:,} read in "
            f"{sample.shards_read} of {sample.shards_total} shards; the build kept "
            f"{sample.samples_total:,}.")
    controls = (
        '<div class="doc-controls" id="doc-controls">'
        '<input type="search" id="doc-search" placeholder="Search URL or title" '
        'aria-label="Search URL or title">'
        '<button type="button" id="doc-prev">← Previous</button>'
        '<span id="doc-page" aria-live="polite"></span>'
        '<button type="button" id="doc-next">Next →</button>'
        '<span id="doc-count" class="muted"></span></div>')
    return (f'<p class="meta">{esc(note)}</p>{controls}'
            f'<div id="docs" data-page-size="{PAGE_SIZE}">{docs}</div>')

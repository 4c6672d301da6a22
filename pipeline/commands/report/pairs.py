"""pairs.html: image-caption pairs as a grid per source, and each video clip's frames as a
strip with their timestamps and the caption."""

from __future__ import annotations

from pipeline.commands.report.html import esc, fmt_number, url_link
from pipeline.commands.report.media import MediaDir
from pipeline.commands.report.shard_sample import Sample, SourceSample


def _caption(sample: Sample) -> str:
    text = sample.members.get("txt")
    if text is not None:
        return text.decode("utf-8", "replace")
    return str(sample.meta.get("caption") or "")


def _pair(sample: Sample, media: MediaDir) -> str:
    meta, caption = sample.meta, _caption(sample)
    data = sample.members.get("jpg")
    src = media.image(data) if data else None
    img = (f'<img src="{esc(src)}" alt="{esc(caption[:200])}">' if src else
           '<div class="placeholder" role="img" aria-label="missing image">image not readable'
           " in the shard</div>")
    size = f"{meta.get('width') or '?'}×{meta.get('height') or '?'}"
    page = (meta.get("meta") or {}).get("page_url") or ""
    origin = f" · from {url_link(page, 'page')}" if page else ""
    return (f'<figure class="pair">{img}<figcaption>{esc(caption)}</figcaption>'
            f'<p class="meta">{esc(size)} px · {url_link(str(meta.get("url") or ""), "image")}'
            f"{origin}</p></figure>")


def _clip(sample: Sample, media: MediaDir) -> str:
    meta = sample.meta
    stamps = list(meta.get("timestamps") or [])
    frames = sorted(ext for ext in sample.members if ext.endswith(".jpg"))
    cells = []
    for i, ext in enumerate(frames):
        src = media.image(sample.members[ext])
        t = f"{float(stamps[i]):.1f} s" if i < len(stamps) else "?"
        img = (f'<img src="{esc(src)}" alt="frame at {esc(t)}">' if src else
               '<div class="placeholder" role="img" aria-label="missing frame">not readable</div>')
        cells.append(f'<figure class="frame">{img}<figcaption>{esc(t)}</figcaption></figure>')
    facts = (f"{fmt_number(meta.get('duration'))} s, {fmt_number(meta.get('fps'))} fps, "
             f"{meta.get('width') or '?'}×{meta.get('height') or '?'}, {meta.get('codec') or '?'}"
             f", {len(frames)} frames")
    return (f'<div class="clip"><p class="caption">{esc(_caption(sample))}</p>'
            f'<div class="strip">{"".join(cells)}</div>'
            f'<p class="meta">{esc(facts)} · {url_link(str(meta.get("url") or ""))}</p></div>')


def pairs_body(samples: dict[str, SourceSample], kinds: dict[str, str], media: MediaDir) -> str:
    parts, toc = [], []
    for name, sample in samples.items():
        kind = kinds.get(name, name)
        toc.append(f'<a href="#src-{esc(name)}">{esc(name)}</a>')
        note = (f"{len(sample.samples):,} of {sample.samples_total:,} samples (seeded), read "
                f"from {sample.shards_read} of {sample.shards_total} shards.")
        if kind == "video_text":
            items = "".join(_clip(s, media) for s in sample.samples)
            inner = f'<div class="clips">{items}</div>'
        else:
            items = "".join(_pair(s, media) for s in sample.samples)
            inner = f'<div class="grid">{items}</div>'
        if not sample.samples:
            inner = '<p class="muted">This source kept no samples.</p>'
        parts.append(f'<section class="source" id="src-{esc(name)}"><h2>{esc(name)}</h2>'
                     f'<p class="meta">{esc(note)}</p>{inner}</section>')
    if not parts:
        return '<p class="muted">This build has no pair sources.</p>'
    return f'<nav class="toc">{"".join(toc)}</nav>' + "".join(parts)

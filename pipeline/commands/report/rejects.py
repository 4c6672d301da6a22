"""rejects.html: every stage and reason of the funnel with its count, share, threshold, a
histogram of the measured values against the threshold, and examples nearest the threshold
first, each showing what was dropped."""

from __future__ import annotations

from typing import Any

from pipeline.commands.report.charts import Charts
from pipeline.commands.report.html import esc, fmt_number, reason_id, url_link
from pipeline.commands.report.loading import Build
from pipeline.commands.report.media import MediaDir
from pipeline.commands.report.overview import UNITS
from pipeline.commands.report.reject_sample import ReasonSample, RejectSample
from pipeline.commands.report.thresholds import thresholds_for
from pipeline.funnel import DOCUMENT_STAGES
from pipeline.outputs.reject_files import stage_token

TEXT_STAGES = ("node",)
EXCERPT_STAGES = (*DOCUMENT_STAGES, "shard")


def no_bytes_reason(row: dict[str, Any]) -> str:
    """Why a rejected image has no thumbnail (its bytes were never kept anywhere)."""
    filt = row.get("filter") or ""
    if filt.startswith("image_rules/"):
        return "never downloaded: dropped by the extractor's rules for page furniture"
    if filt.startswith("image_url"):
        return "never downloaded: dropped by its URL"
    if filt.startswith("fetch/"):
        return "the download failed, so there are no bytes to show"
    return "fetched over HTTP: a build keeps no bytes of the images it rejects"


def image_cell(row: dict[str, Any], media: MediaDir, placeholder: bool = True) -> str:
    """A thumbnail read back from the input record, or a labelled placeholder (or nothing)."""
    record = row.get("record") or ""
    if record:
        src, why = media.record_thumbnail(record)
        if src:
            return (f'<img class="thumb" src="{esc(src)}" alt="rejected image" '
                    f'title="{esc(record)}">')
    else:
        why = no_bytes_reason(row)
    if not placeholder:
        return ""
    return f'<div class="placeholder" role="img" aria-label="no image">{esc(why)}</div>'


def _dropped(row: dict[str, Any], stage: str, media: MediaDir) -> str:
    if stage == "image":
        return image_cell(row, media)
    if stage in TEXT_STAGES:
        text = row.get("detail") or ""
        return f'<blockquote class="dropped-text">{esc(text) or "(no text recorded)"}</blockquote>'
    if stage in EXCERPT_STAGES:
        text = row.get("excerpt") or ""
        if not text:
            return '<p class="muted">no text recorded for this document</p>'
        lines = "\n".join(text.splitlines()[:6])
        return f'<pre class="excerpt">{esc(lines)}</pre>'
    return ""


def _example(row: dict[str, Any], stage: str, media: MediaDir) -> str:
    near = row.get("closeness")
    facts = [f'<span class="value">value <b>{fmt_number(row.get("value"))}</b></span>']
    if near is not None:
        facts.append(f'<span class="near">{near:.1%} from the threshold</span>')
    detail = row.get("detail") or ""
    if detail and stage not in TEXT_STAGES:
        facts.append(f'<span class="detail">{esc(detail[:300])}</span>')
    facts.append(f'<span class="source">{esc(row.get("source") or "")}</span>')
    url = row.get("url") or ""
    return (f'<div class="example">{_dropped(row, stage, media)}<div class="about">'
            f'{url_link(url) if url else ""}<div class="facts">{" ".join(facts)}</div>'
            "</div></div>")


def _histogram(entry: ReasonSample, charts: Charts) -> str:
    if not len(entry.values):
        return ""
    lines = [(t.numeric, t.path) for t in entry.thresholds if t.numeric is not None]
    src = charts.histogram(f"hist-{reason_id(entry.stage, entry.name)}", entry.values,
                           f"{entry.name}: measured values", "value", lines)
    if not src:
        return ""
    return (f'<img class="chart hist" src="{esc(src)}" '
            f'alt="histogram of measured values for {esc(entry.name)}">')


def _reason(stage: dict[str, Any], name: str, count: int, sample: RejectSample,
            build: Build, charts: Charts, media: MediaDir) -> str:
    st = stage["stage"]
    entry = sample.reasons.get((st, name))
    filt, _, reason = name.partition(":")
    thresholds = entry.thresholds if entry else thresholds_for(build.config, st, filt, reason)
    limit = "; ".join(esc(t.describe()) for t in thresholds) or "no threshold in the config"
    if not count:
        return (f'<section class="reason zero" id="{reason_id(st, name)}">'
                f'<span class="filter">{esc(filt)}</span> <b>{esc(reason)}</b> '
                f'<span class="meta">threshold: {limit}</span></section>')
    share = f"{count / stage['in']:.2%} of the stage's {stage['in']:,} in" if stage["in"] else ""
    head = (f'<h3><span class="filter">{esc(filt)}</span> {esc(reason)} '
            f'<span class="count">{fmt_number(count)}</span></h3>'
            f'<p class="meta">{esc(share)} · threshold: {limit}</p>')
    examples = entry.examples.items() if entry else []
    if not examples:
        body = ('<p class="muted">No example among the rejects read for this report (the '
                "stage has more rejects than the report reads; see the overview).</p>")
    else:
        order = ("nearest the threshold first" if any(r.get("closeness") is not None
                                                      for r in examples) else "a seeded sample")
        body = (f'<p class="meta">{len(examples)} of {fmt_number(entry.read)} read, '
                f"{order}.</p>" + _histogram(entry, charts)
                + '<div class="examples">'
                + "".join(_example(r, st, media) for r in examples) + "</div>")
    return f'<section class="reason" id="{reason_id(st, name)}">{head}{body}</section>'


def _zeros(stage: dict[str, Any], sample: RejectSample, build: Build, charts: Charts,
           media: MediaDir) -> str:
    """The reasons that dropped nothing, compactly: still each with its section and id."""
    names = [name for name, n in stage["rejected_by_reason"].items() if not n]
    if not names:
        return ""
    return ('<div class="zeros"><h4>Reasons that dropped nothing here</h4>'
            + "".join(_reason(stage, name, 0, sample, build, charts, media) for name in names)
            + "</div>")


def rejects_body(build: Build, sample: RejectSample, charts: Charts, media: MediaDir) -> str:
    parts = []
    toc = []
    for stage in build.funnel["stages"]:
        reasons = stage["rejected_by_reason"]
        if not reasons:
            continue
        st = stage["stage"]
        unit = UNITS.get(st, "documents")
        toc.append(f'<a href="#stage-{esc(st)}">{esc(st)} <b>{fmt_number(stage["rejected"])}</b>'
                   "</a>")
        cut = ""
        token = stage_token(st)
        if token in sample.cut:
            cut = (f'<p class="note">This stage has more rejects than the report reads: '
                   f"examples and histograms come from {sample.rows_read[token]:,} of them, "
                   "a seeded sample of its files.</p>")
        parts.append(f'<section class="stage" id="stage-{esc(st)}"><h2>{esc(st)}</h2>'
                     f'<p class="meta">{fmt_number(stage["in"])} {esc(unit)} in, '
                     f'{fmt_number(stage["out"])} kept, {fmt_number(stage["rejected"])} '
                     f"rejected</p>{cut}"
                     + "".join(_reason(stage, name, n, sample, build, charts, media)
                               for name, n in reasons.items() if n)
                     + _zeros(stage, sample, build, charts, media) + "</section>")
    return (f'<nav class="toc">{"".join(toc)}</nav>' + "".join(parts))

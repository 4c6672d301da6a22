"""index.html: what was built, the totals with their identities written out as equations, and
the funnel with every reason linked to its examples."""

from __future__ import annotations

import json
from typing import Any

from pipeline.commands.report.charts import funnel_svg
from pipeline.commands.report.html import esc, fmt_number, reason_id, table
from pipeline.commands.report.loading import Build
from pipeline.commands.stats import failed_checks
from pipeline.funnel import funnel_checks

UNITS = {"read": "records", "extract": "pages", "node": "paragraphs", "image": "images",
         "alt_text": "pairs", "image_text": "pairs", "video_text": "clips"}


def _identity(check: dict[str, Any], totals: dict[str, Any]) -> str:
    right = " + ".join(f'{esc(r)} <b>{fmt_number(totals.get(r))}</b>' for r in check["right"])
    eq = f'{esc(check["left"])} <b>{fmt_number(totals.get(check["left"]))}</b> = {right}'
    if not check.get("checked"):
        return f'<li class="eq unchecked">{eq} <span class="verdict">not measured</span></li>'
    lv, rv = check["values"]
    if check.get("ok"):
        return (f'<li class="eq ok">{eq} = <b>{fmt_number(rv)}</b> '
                f'<span class="verdict">✓ holds</span></li>')
    return (f'<li class="eq failed">{eq} = <b>{fmt_number(rv)}</b> '
            f'<span class="verdict">✗ FAILED: off by {lv - rv:+,}</span></li>')


def _source_equation(name: str, src: dict[str, Any]) -> str:
    ok = src.get("input", 0) == src.get("kept", 0) + src.get("rejected", 0)
    mark = '<span class="verdict">✓ holds</span>' if ok else \
        '<span class="verdict">✗ does not hold</span>'
    return (f'<li class="eq {"ok" if ok else "failed"}">{esc(name)}: input '
            f'<b>{fmt_number(src.get("input"))}</b> = kept <b>{fmt_number(src.get("kept"))}</b>'
            f' + rejected <b>{fmt_number(src.get("rejected"))}</b> {mark}</li>')


def _manifest(build: Build) -> str:
    m = build.manifest
    facts = [("layout", m.get("layout", "")), ("config hash", m.get("config_hash", "")),
             ("build directory", build.root)]
    rows = [(esc(k), f"<code>{esc(v)}</code>") for k, v in facts]
    versions = table(["package", "version"], [(esc(k), esc(v)) for k, v in
                                              sorted((m.get("versions") or {}).items())])
    funnel_sources = build.funnel.get("sources") or {}
    src_rows = []
    for name, src in build.sources.items():
        f = funnel_sources.get(name, {})
        page = "documents.html" if name == "interleaved" else f"pairs.html#src-{name}"
        src_rows.append((f'<a href="{esc(page)}">{esc(name)}</a>', esc(src.get("kind", name)),
                         fmt_number(src.get("weight")), fmt_number(src.get("samples")),
                         fmt_number(len(src.get("shards") or [])), fmt_number(f.get("input")),
                         fmt_number(f.get("kept")), fmt_number(f.get("rejected"))))
    inputs = ""
    for kind, spec in sorted((build.config.get("sources") or {}).items()):
        given = spec.get("input") or spec.get("from") or ""
        if isinstance(given, (list, tuple)):
            given = ", ".join(str(g) for g in given)
        inputs += f"<li><b>{esc(kind)}</b>: <code>{esc(given)}</code></li>"
    return ("<section id=\"manifest\"><h2>What was built</h2>"
            + table(["", ""], rows, "facts")
            + "<h3>Sources</h3>"
            + table(["source", "kind", "weight", "samples", "shards", "input", "kept",
                     "rejected"], src_rows, "numbers")
            + (f"<h3>Inputs as configured</h3><ul class=\"inputs\">{inputs}</ul>" if inputs
               else "")
            + f"<details><summary>Versions</summary>{versions}</details>"
            + "<details><summary>The build's config</summary><pre class=\"config\">"
            + esc(json.dumps(build.config, indent=2, sort_keys=True, ensure_ascii=False))
            + "</pre></details></section>")


def _funnel_table(stages: list[dict[str, Any]]) -> str:
    rows = []
    for s in stages:
        if not s["in"] and s["stage"] != "read":
            continue
        links = []
        for name, n in s["rejected_by_reason"].items():
            cls = "reason-link" + ("" if n else " zero")
            links.append(f'<a class="{cls}" href="rejects.html#{reason_id(s["stage"], name)}">'
                         f"{esc(name)} <b>{fmt_number(n)}</b></a>")
        rows.append((f'<a href="rejects.html#stage-{esc(s["stage"])}">{esc(s["stage"])}</a>',
                     esc(UNITS.get(s["stage"], "documents")), fmt_number(s["in"]),
                     fmt_number(s["out"]), fmt_number(s["rejected"]),
                     '<div class="reasons">' + "".join(links) + "</div>"))
    return table(["stage", "unit", "in", "kept", "rejected", "reasons (links to examples)"],
                 rows, "numbers funnel")


def _inputs(build: Build) -> str:
    info = build.inputs or {}
    if not info:
        return ""
    cut = info.get("truncated") or []
    rows = [(f"<code>{esc(i.get('path', ''))}</code>", fmt_number(i.get("records_read")),
             "clean" if i.get("clean", True) else '<b class="bad">ended early</b>')
            for i in (info.get("inputs") or [])[:50]]
    more = len(info.get("inputs") or []) - len(rows)
    return ("<section id=\"inputs\"><h2>Input files</h2>"
            f"<p>{fmt_number(info.get('files'))} files, {fmt_number(info.get('records_read'))} "
            f"records read; {len(cut)} ended early.</p>"
            + table(["file", "records", "end"], rows, "numbers")
            + (f"<p>… and {more:,} more.</p>" if more > 0 else "") + "</section>")


def overview_body(build: Build, sampled: str) -> str:
    """The overview page's body. ``sampled`` says what the report read."""
    funnel = build.funnel
    totals = funnel["totals"]
    checks = funnel_checks(funnel)
    eqs = "".join(_identity(c, totals) for c in checks)
    eqs += "".join(_source_equation(n, s) for n, s in sorted((funnel.get("sources") or {}).items()))
    totals_rows = [(esc(k), fmt_number(v)) for k, v in totals.items()]
    failed = failed_checks({"checks": checks})
    status = ('<p class="bad">An identity does not hold: records were lost or counted twice.'
              "</p>" if failed else '<p class="good">Every measured identity holds: each input '
              "ended in a shard or in the rejects.</p>")
    chart = funnel_svg(funnel["stages"],
                       lambda stage, name: f"rejects.html#{reason_id(stage, name)}", UNITS)
    return (_manifest(build)
            + '<section id="totals"><h2>Totals and identities</h2>' + status
            + f'<ul class="equations">{eqs}</ul>'
            + "<details><summary>All totals</summary>"
            + table(["total", "count"], totals_rows, "numbers") + "</details></section>"
            + f'<section id="funnel"><h2>Funnel</h2><div class="chart-wrap">{chart}</div>'
            + _funnel_table(funnel["stages"]) + "</section>"
            + _inputs(build)
            + f'<section id="sample"><h2>What this report read</h2><p>{sampled}</p></section>')

"""distributions.html: what the kept data looks like in numbers. Whole-build distributions come
from stats/summary-*.json; image sizes and aspect ratios, which the summaries do not hold for
interleaved images, come from the sampled documents and pairs and say so."""

from __future__ import annotations

from typing import Any

from pipeline.commands.report.charts import KEPT, OTHER, Charts
from pipeline.commands.report.html import esc
from pipeline.commands.report.shard_sample import SourceSample
from pipeline.commands.report.thresholds import thresholds_for


def _sorted_hist(hist: dict[str, int]) -> list[tuple[int, int]]:
    return sorted((int(k), v) for k, v in (hist or {}).items())


def _pow2_label(k: int) -> str:
    return f"{k:,}–{2 * k - 1:,}" if k > 1 else str(k)


def _figure(src: str | None, caption: str) -> str:
    if not src:
        return ""
    return (f'<figure class="chart-figure"><img class="chart" src="{esc(src)}" '
            f'alt="{esc(caption)}"><figcaption>{esc(caption)}</figcaption></figure>')


def _sizes(samples: dict[str, SourceSample]) -> tuple[list[float], list[float], int]:
    """Widths and heights of the images in the sampled documents and pairs."""
    ws, hs, n = [], [], 0
    for sample in samples.values():
        for s in sample.samples:
            n += 1
            nodes = [x for x in s.meta.get("nodes") or [] if x.get("type") == "image"]
            items: list[Any] = nodes or ([s.meta] if "width" in s.meta else [])
            for item in items:
                w, h = item.get("width"), item.get("height")
                if isinstance(w, (int, float)) and isinstance(h, (int, float)) and w > 0 and h > 0:
                    ws.append(float(w))
                    hs.append(float(h))
    return ws, hs, n


def distributions_body(summaries: dict[str, dict[str, Any]], kinds: dict[str, str],
                       samples: dict[str, SourceSample], charts: Charts,
                       config: dict[str, Any]) -> str:
    figs = []
    inter = next((summaries[n] for n, k in kinds.items() if k == "interleaved"
                  and n in summaries), {})
    ipd = _sorted_hist(inter.get("images_per_document", {}))
    figs.append(_figure(charts.bars("images-per-document", [str(k) for k, _ in ipd],
                                    [v for _, v in ipd], "images per document", "images"),
                        "Images per kept document (whole build)"))
    chars = _sorted_hist(inter.get("text_chars_histogram", {}))
    figs.append(_figure(charts.bars("text-length", [_pow2_label(k) for k, _ in chars],
                                    [v for _, v in chars], "text characters per document",
                                    "characters (power-of-two buckets)", color=OTHER),
                        "Text length of kept documents (whole build)"))
    langs = list((inter.get("languages") or {}).items())[:20]
    figs.append(_figure(charts.bars("languages", [k for k, _ in langs], [v for _, v in langs],
                                    "languages", "documents", horizontal=True),
                        "Languages of kept documents (whole build)"))
    domains = [(h, n) for h, n in (inter.get("top_domains") or [])][:25]
    figs.append(_figure(charts.bars("top-domains", [h for h, _ in domains],
                                    [n for _, n in domains], "top domains", "documents",
                                    horizontal=True), "Top domains by kept documents"))
    ws, hs, n = _sizes(samples)
    figs.append(_figure(charts.scatter("image-sizes", ws, hs, "stored image sizes",
                                       "width (px)", "height (px)"),
                        f"Stored image sizes: {len(ws):,} images of {n:,} sampled documents "
                        "and pairs"))
    aspects = [max(w, h) / min(w, h) for w, h in zip(ws, hs)]
    lines = [(float(t.value), t.path) for t in
             thresholds_for(config, "image", "image_check/v1", "aspect_ratio")]
    figs.append(_figure(charts.histogram("aspect-ratios", aspects, "aspect ratio (long/short)",
                                         "aspect ratio", lines, "images", KEPT),
                        f"Aspect ratios of the same {len(aspects):,} sampled images"))
    pairs = {n: s for n, s in summaries.items() if kinds.get(n) != "interleaved"}
    figs.append(_per_source_bars(charts, pairs, "caption_words_histogram", "caption-words",
                                 "caption words per pair", "words (power-of-two buckets)",
                                 "Caption lengths per pair source (whole build)"))
    figs.append(_per_source_bars(charts, pairs, "short_side_histogram", "pair-short-side",
                                 "shorter image side per pair", "pixels (power-of-two buckets)",
                                 "Image sizes of pair sources (whole build)"))
    for name, s in pairs.items():
        frames = _sorted_hist(s.get("frames_per_clip"))
        if frames:
            figs.append(_figure(charts.bars(f"frames-{name}", [str(k) for k, _ in frames],
                                            [v for _, v in frames], f"frames per clip: {name}",
                                            "frames"), f"Frames per clip in {name} (whole build)"))
    shown = "".join(f for f in figs if f)
    return f'<div class="charts">{shown}</div>' if shown else \
        '<p class="muted">Nothing to draw: the build kept nothing.</p>'


def _per_source_bars(charts: Charts, summaries: dict[str, dict], field: str, name: str, title: str,
                     xlabel: str, caption: str) -> str:
    """One grouped bar chart of a power-of-two histogram, a group per pair source."""
    hists = {n: dict(_sorted_hist(s.get(field))) for n, s in summaries.items()}
    buckets = sorted({k for h in hists.values() for k in h})
    return _figure(charts.grouped_bars(
        name, [_pow2_label(k) for k in buckets],
        {n: [h.get(k, 0) for k in buckets] for n, h in hists.items() if h}, title, xlabel),
        caption)

"""Charts drawn by matplotlib as SVG: files under ``charts/`` for ``<img>``, and the funnel
inline so that its bars can link to the reject sections. Figures are made without pyplot (no
global state) and saved without a date, with a fixed hash salt, so a report is reproducible."""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable, Sequence
from typing import Any

KEPT, REJECTED, OTHER = "#3b7dd8", "#e0674b", "#5aa469"
_RC = {"svg.hashsalt": "m3w-report", "svg.fonttype": "none", "font.size": 9,
       "axes.spines.top": False, "axes.spines.right": False}
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_SIZE = re.compile(r'\s(width|height)="[^"]*"')


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _svg(fig: Any) -> str:
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context(_RC):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    return text[text.index("<svg"):]


class Charts:
    def __init__(self, report_dir: str) -> None:
        self.dir = os.path.join(report_dir, "charts")
        os.makedirs(self.dir, exist_ok=True)

    def _save(self, fig: Any, name: str) -> str:
        name = _UNSAFE.sub("_", name)
        path = os.path.join(self.dir, f"{name}.svg")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write('<?xml version="1.0" encoding="utf-8"?>\n' + _svg(fig))
        return f"charts/{name}.svg"

    def bars(self, name: str, labels: Sequence[str], values: Sequence[float], title: str,
             xlabel: str = "", horizontal: bool = False, color: str = KEPT) -> str | None:
        """A bar chart (horizontal for long labels, largest on top), or None without data."""
        if not values:
            return None
        import matplotlib

        with matplotlib.rc_context(_RC):
            if horizontal:
                fig = _figure(6.4, 0.6 + 0.22 * len(values))
                ax = fig.subplots()
                ax.barh(list(labels)[::-1], list(values)[::-1], color=color)
                ax.set_xlabel(xlabel or "count")
                _integer_counts(ax.xaxis)
            else:
                fig = _figure(6.4, 3.2)
                ax = fig.subplots()
                ax.bar(list(labels), list(values), color=color)
                ax.set_xlabel(xlabel)
                ax.set_ylabel("count")
                _integer_counts(ax.yaxis)
                if len(labels) > 8:
                    ax.tick_params(axis="x", rotation=45)
            ax.set_title(title)
            return self._save(fig, name)

    def grouped_bars(self, name: str, labels: Sequence[str],
                     series: dict[str, Sequence[float]], title: str, xlabel: str) -> str | None:
        """Bars of several series side by side (e.g. one per pair source), as shares."""
        if not labels or not series:
            return None
        import matplotlib

        with matplotlib.rc_context(_RC):
            fig = _figure(6.4, 3.2)
            ax = fig.subplots()
            width = 0.8 / len(series)
            for i, (label, values) in enumerate(series.items()):
                total = sum(values) or 1
                xs = [j + i * width for j in range(len(labels))]
                ax.bar(xs, [v / total for v in values], width=width, label=label)
            ax.set_xticks([j + 0.4 - width / 2 for j in range(len(labels))], list(labels))
            ax.set_xlabel(xlabel)
            ax.set_ylabel("share of samples")
            ax.set_title(title)
            ax.legend()
            return self._save(fig, name)

    def histogram(self, name: str, values: Sequence[float], title: str, xlabel: str,
                  lines: Sequence[tuple[float, str]] = (), what: str = "rejects",
                  color: str = REJECTED) -> str | None:
        """A histogram with vertical lines (thresholds) drawn over it, or None without data."""
        if not len(values):
            return None
        import matplotlib
        import numpy as np

        arr = np.asarray(values, dtype=float)
        with matplotlib.rc_context(_RC):
            fig = _figure(5.6, 2.6)
            ax = fig.subplots()
            lo = min([float(arr.min())] + [x for x, _ in lines])
            hi = max([float(arr.max())] + [x for x, _ in lines])
            if hi == lo:
                lo, hi = lo - 0.5, hi + 0.5
            ax.hist(arr, bins=np.linspace(lo, hi, 41), color=color, alpha=0.85, label=what)
            for x, label in lines:
                ax.axvline(x, color="#222222", linestyle="--", linewidth=1.2, label=label)
            _integer_counts(ax.yaxis)
            ax.set_xlabel(xlabel)
            ax.set_ylabel(what)
            ax.set_title(title)
            if lines:
                ax.legend(fontsize=7)
            return self._save(fig, name)

    def scatter(self, name: str, xs: Sequence[float], ys: Sequence[float], title: str,
                xlabel: str, ylabel: str) -> str | None:
        if not xs:
            return None
        import matplotlib

        with matplotlib.rc_context(_RC):
            fig = _figure(4.2, 3.6)
            ax = fig.subplots()
            ax.scatter(xs, ys, s=9, alpha=0.6, color=KEPT)
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            ax.set_title(title)
            return self._save(fig, name)


def _integer_counts(axis: Any) -> None:
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True))


def _once(pending: set[str], label: str) -> str | None:
    if label in pending:
        pending.discard(label)
        return label
    return None


def funnel_svg(stages: list[dict[str, Any]], href: Callable[[str, str], str],
               units: dict[str, str]) -> str:
    """The funnel inline: per stage a kept bar and its rejects stacked by reason, each reason's
    segment a link to its examples (``href(stage, reason name)``)."""
    import matplotlib

    shown = [s for s in stages if s["in"] or s["stage"] == "read"]
    with matplotlib.rc_context(_RC):
        fig = _figure(9.0, 0.9 + 0.3 * len(shown))
        ax = fig.subplots()
        labels = [f"{s['stage']} ({units.get(s['stage'], 'documents')})" for s in shown][::-1]
        legend = {"kept", "rejected"}  # label each colour once
        for y, s in enumerate(shown[::-1]):
            ax.barh(y, s["out"], color=KEPT, label=_once(legend, "kept"))
            left = s["out"]
            for i, (name, n) in enumerate(r for r in s["rejected_by_reason"].items() if r[1]):
                shade = REJECTED if i % 2 == 0 else "#f0a08e"
                (bar,) = ax.barh(y, n, left=left, color=shade, edgecolor="white",
                                 linewidth=0.5, label=_once(legend, "rejected"))
                bar.set_url(href(s["stage"], name))
                left += n
            ax.text(left, y, f"  {s['out']:,} kept / {s['in']:,}", va="center", fontsize=8)
        ax.set_yticks(range(len(shown)), labels)
        ax.set_xlabel("count (each stage in its own unit)")
        ax.set_title("in, kept and rejected per stage (click a red segment for its examples)")
        ax.margins(x=0.18)
        ax.legend(loc="lower right")
        svg = _svg(fig)
    head, rest = svg.split(">", 1)
    return _SIZE.sub("", head) + ' class="chart funnel">' + rest

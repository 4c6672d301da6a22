"""One PNG a person would rather look at than read: the funnel and the distributions."""

from __future__ import annotations

from typing import Any


def plot_stats(stats: dict[str, Any], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stages = stats["stages"]
    fig, axes = plt.subplots(2, 2, figsize=(14, 9))
    ax = axes[0][0]
    names = [s["stage"] for s in stages][::-1]
    kept = [s["out"] for s in stages][::-1]
    rej = [s["rejected"] for s in stages][::-1]
    ax.barh(names, kept, color="#3b7dd8", label="kept")
    ax.barh(names, rej, left=kept, color="#e0674b", label="rejected")
    for y, (k, r) in enumerate(zip(kept, rej)):
        ax.text(k + r, y, f" {k:,} / {k + r:,}", va="center", fontsize=9)
    ax.set_title("funnel: kept and rejected per stage")
    ax.legend(loc="lower right")

    ax = axes[0][1]
    reasons = []
    for s in stages:
        for r, n in s["rejected_by_reason"].items():
            if n:
                reasons.append((f"{s['stage']}: {r}", n))
    reasons = sorted(reasons, key=lambda x: -x[1])[:15][::-1]
    ax.barh([r for r, _ in reasons], [n for _, n in reasons], color="#e0674b")
    ax.set_title("why records were dropped (top 15)")
    ax.tick_params(axis="y", labelsize=8)

    summary = (stats["sources"].get("interleaved") or {}).get("summary") or {}
    ax = axes[1][0]
    ipd = summary.get("images_per_document", {})
    ax.bar([int(k) for k in ipd], list(ipd.values()), color="#3b7dd8")
    ax.set_xticks(sorted(int(k) for k in ipd))
    ax.set_title("images per document")
    ax.set_xlabel("images")

    ax = axes[1][1]
    hist = sorted((int(k), v) for k, v in summary.get("text_chars_histogram", {}).items())
    ax.bar([f"{k:,}" for k, _ in hist], [v for _, v in hist], color="#5aa469")
    ax.set_title("text characters per document (power-of-two buckets)")
    ax.tick_params(axis="x", rotation=45, labelsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)

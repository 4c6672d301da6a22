"""The funnel: every stage's in, out and rejected-by-reason counts, computed in the build from
the records, documents and rejects themselves, then written to stats/funnel.json."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from schemas import Reject

# Stages in funnel order. "in" of a stage is always out + rejected, and the cross-stage
# identities (records_read == html + image + skipped; html == documents + rejected_documents)
# are checked from independent counts by `m3w stats` and the tests.
# "node" counts text nodes (paragraphs), "image" image occurrences, the rest documents.
STAGES = ("read", "extract", "node", "filter", "dedup", "decontam", "image", "document",
          "shard")
DOCUMENT_STAGES = ("extract", "filter", "dedup", "decontam", "document")  # whole documents


def record_label(kind: str) -> tuple[str, ...]:
    return ("read", "out", kind)


def reject_label(r: Reject) -> tuple[str, ...]:
    return (r.stage, "reject", r.filter, r.reason)


def out_label(stage: str) -> tuple[str, ...]:
    return (stage, "out", "")


def build_funnel(counts: list[tuple[tuple[str, ...], int]],
                 declared: dict[str, dict[str, tuple[str, ...]]] | None = None
                 ) -> dict[str, Any]:
    """Turn (label, count) pairs into the funnel.json object. ``declared`` (stage -> filter
    -> reasons) adds a zero for every reason a configured filter could give but did not."""
    out: dict[str, dict[str, int]] = defaultdict(dict)
    rejected: dict[str, dict[str, int]] = defaultdict(dict)
    for label, n in counts:
        stage, what = label[0], label[1]
        if what == "out":
            out[stage][label[2] or "kept"] = out[stage].get(label[2] or "kept", 0) + n
        else:
            name = f"{label[2]}:{label[3]}"
            rejected[stage][name] = rejected[stage].get(name, 0) + n
    for stage, by_filter in (declared or {}).items():
        for name, reasons in by_filter.items():
            for reason in reasons:
                rejected[stage].setdefault(f"{name}:{reason}", 0)
    extra = sorted((set(out) | set(rejected)) - set(STAGES))  # pair sources: one stage each
    stages = []
    for stage in STAGES + tuple(extra):
        n_out = sum(out[stage].values()) if stage != "read" else 0
        n_rej = sum(rejected[stage].values())
        if stage == "read":
            n_out = out[stage].get("html", 0) + out[stage].get("image", 0)
        stages.append({
            "stage": stage,
            "in": n_out + n_rej,
            "out": n_out,
            "out_by_kind": dict(sorted(out[stage].items())),
            "rejected": n_rej,
            "rejected_by_reason": dict(sorted(rejected[stage].items(),
                                              key=lambda kv: (-kv[1], kv[0]))),
            "filters": sorted({r.split(":", 1)[0] for r in rejected[stage]}),
        })
    by = {s["stage"]: s for s in stages}
    totals = {
        "records_read": by["read"]["in"],
        "html_records": out["read"].get("html", 0),
        "image_records": out["read"].get("image", 0),
        "skipped_records": by["read"]["rejected"],
        "documents": by["shard"]["out"],
        "rejected_documents": sum(by[s]["rejected"] for s in DOCUMENT_STAGES)
        + by["shard"]["rejected"],
        "images_stored": by["image"]["out"],
        "images_rejected": by["image"]["rejected"],
    }
    sources = {"interleaved": {"input": totals["html_records"], "kept": totals["documents"],
                               "rejected": totals["rejected_documents"]}}
    for stage in extra:
        sources[stage] = {"input": by[stage]["in"], "kept": by[stage]["out"],
                          "rejected": by[stage]["rejected"]}
    return {"totals": totals, "stages": stages, "sources": sources}

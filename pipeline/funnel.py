"""The funnel: every stage's in, out and rejected-by-reason counts, computed in the build from
the records, documents and rejects themselves, then written to stats/funnel.json."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from schemas import Reject

# Stages in funnel order. "in" of a stage is always out + rejected. The cross-stage identities
# (see IDENTITIES) compare counts taken at different places of the DAG: records_read is what
# the readers counted per input file, image_requests what entered the image stage; each side
# of an identity is counted on its own, so a lost or doubled element breaks it. Image requests
# are the images extraction handed on: those entering the image stage in documents, and those
# its rules dropped on the spot (image rejects made by the extractor).
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


def in_label(stage: str) -> tuple[str, ...]:
    """A count taken where elements enter ``stage``, before anything is kept or dropped."""
    return (stage, "in", "")


# name -> (left total, right totals summed). A side that was not measured is not checked.
IDENTITIES = {
    "records": ("records_read", ("html_records", "image_records", "skipped_records")),
    "documents": ("html_records", ("documents", "rejected_documents")),
    "images": ("image_requests", ("images_stored", "images_rejected")),
}


def identity_checks(totals: dict[str, Any], measured: tuple[str, ...] | None = None
                    ) -> list[dict[str, Any]]:
    """Each identity with both sides and whether it holds. ``measured`` names the totals
    counted independently in this build; None checks every identity whose totals exist."""
    out = []
    for name, (left, right) in IDENTITIES.items():
        if left not in totals or any(r not in totals for r in right):
            continue
        if measured is not None and left not in measured and name != "documents":
            out.append({"identity": name, "left": left, "right": list(right),
                        "checked": False, "ok": True})
            continue
        lv, rv = totals[left], sum(totals[r] for r in right)
        out.append({"identity": name, "left": left, "right": list(right), "checked": True,
                    "ok": lv == rv, "values": [lv, rv]})
    return out


def funnel_checks(funnel: dict[str, Any]) -> list[dict[str, Any]]:
    """The funnel's identity checks; for a funnel written before checks existed, those its
    totals allow."""
    checks = funnel.get("checks")
    return identity_checks(funnel["totals"]) if checks is None else checks


def build_funnel(counts: list[tuple[tuple[str, ...], int]],
                 declared: dict[str, dict[str, tuple[str, ...]]] | None = None
                 ) -> dict[str, Any]:
    """Turn (label, count) pairs into the funnel.json object. ``declared`` (stage -> filter
    -> reasons) adds a zero for every reason a configured filter could give but did not."""
    out: dict[str, dict[str, int]] = defaultdict(dict)
    rejected: dict[str, dict[str, int]] = defaultdict(dict)
    entered: dict[str, int] = {}
    for label, n in counts:
        stage, what = label[0], label[1]
        if what == "in":
            entered[stage] = entered.get(stage, 0) + n
        elif what == "out":
            out[stage][label[2] or "kept"] = out[stage].get(label[2] or "kept", 0) + n
        else:
            name = f"{label[2]}:{label[3]}"
            rejected[stage][name] = rejected[stage].get(name, 0) + n
    for stage, by_filter in (declared or {}).items():
        for name, reasons in by_filter.items():
            for reason in reasons:
                rejected[stage].setdefault(f"{name}:{reason}", 0)
    # pair sources: one stage each
    extra = sorted((set(out) | set(rejected) | set(entered)) - set(STAGES))
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
        "records_read": entered.get("read", by["read"]["in"]),
        "html_records": out["read"].get("html", 0),
        "image_records": out["read"].get("image", 0),
        "skipped_records": by["read"]["rejected"],
        "documents": by["shard"]["out"],
        "rejected_documents": sum(by[s]["rejected"] for s in DOCUMENT_STAGES)
        + by["shard"]["rejected"],
        "images_stored": by["image"]["out"],
        "images_rejected": by["image"]["rejected"],
    }
    if "image" in entered:
        totals["image_requests"] = entered["image"]
    measured = tuple(t for t, stage in (("records_read", "read"), ("image_requests", "image"))
                     if stage in entered)
    sources = {"interleaved": {"input": totals["html_records"], "kept": totals["documents"],
                               "rejected": totals["rejected_documents"]}}
    for stage in extra:
        sources[stage] = {"input": by[stage]["in"], "kept": by[stage]["out"],
                          "rejected": by[stage]["rejected"]}
    return {"totals": totals, "stages": stages, "sources": sources,
            "checks": identity_checks(totals, measured)}

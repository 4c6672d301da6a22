"""`m3w stats DIR`: the funnel stage by stage and the distributions, read from the written files
only (stats/funnel.json, stats/summary-SOURCE.json, manifest.json), never from runner metrics."""

from __future__ import annotations

import argparse
import json
from typing import Any

from pipeline.funnel import funnel_checks
from pipeline.outputs.manifest import read_json


def load_stats(out_dir: str) -> dict[str, Any]:
    funnel = read_json(out_dir, "stats/funnel.json", missing=None)
    if funnel is None:
        raise FileNotFoundError(f"{out_dir}: no stats/funnel.json (is this a build directory?)")
    manifest = read_json(out_dir, "manifest.json", missing=None) or {"sources": {}}
    sources = {}
    for name, src in manifest["sources"].items():
        entry = {"weight": src["weight"], "samples": src["samples"], "shards": len(src["shards"])}
        entry.update(funnel.get("sources", {}).get(name, {"input": 0, "kept": 0, "rejected": 0}))
        entry["summary"] = read_json(out_dir, f"stats/summary-{name}.json", missing=None) or {}
        sources[name] = entry
    return {"totals": funnel["totals"], "stages": funnel["stages"], "sources": sources,
            "checks": funnel_checks(funnel),
            "inputs": read_json(out_dir, "stats/inputs.json", missing=None),
            "config_hash": manifest.get("config_hash")}


def failed_checks(stats: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in stats.get("checks") or [] if c.get("checked") and not c.get("ok")]


def print_checks(stats: dict[str, Any]) -> None:
    """One line per identity: ok, FAILED (with both sides), or not measured in this build."""
    print()
    for c in stats.get("checks") or []:
        rhs = " + ".join(c["right"])
        if not c.get("checked"):
            print(f"identity {c['identity']}: {c['left']} == {rhs}  not measured")
        elif c["ok"]:
            print(f"identity {c['identity']}: {c['left']} == {rhs}  ok ({c['values'][0]:,})")
        else:
            lv, rv = c["values"]
            print(f"FAILED identity {c['identity']}: {c['left']} {lv:,} != {rhs} {rv:,} "
                  f"(off by {lv - rv:+,})")
    inputs = stats.get("inputs") or {}
    if inputs.get("truncated"):
        print(f"inputs: {len(inputs['truncated'])} of {inputs['files']} files ended early: "
              + ", ".join(inputs["truncated"][:5]))


def print_funnel(funnel: dict[str, Any], top: int = 8) -> None:
    print(f"\n{'stage':<10}{'in':>10}{'out':>10}{'rejected':>10}  top reasons")
    for s in funnel["stages"]:
        if not s["in"] and s["stage"] != "read":
            continue  # a stage this build did not run
        reasons = [(r, n) for r, n in s["rejected_by_reason"].items() if n][:top]
        first = ", ".join(f"{r} {n}" for r, n in reasons[:3])
        print(f"{s['stage']:<10}{s['in']:>10,}{s['out']:>10,}{s['rejected']:>10,}  {first}")
        for r, n in reasons[3:]:
            print(f"{'':<42}  {r} {n}")
    t = funnel["totals"]
    print("\n" + "  ".join(f"{k}={v:,}" for k, v in t.items()))
    print_checks(funnel)


def _print_summary(stats: dict[str, Any]) -> None:
    for name, src in stats["sources"].items():
        s = src.get("summary") or {}
        print(f"\nsource {name}: {src['samples']:,} samples in {src['shards']} shards, "
              f"weight {src['weight']}")
        if "input" in src:
            print(f"  input {src['input']:,} = kept {src['kept']:,} + rejected {src['rejected']:,}")
        if s.get("means"):
            means = "  ".join(f"{k} {v:g}" for k, v in s["means"].items())
            print(f"  mean per sample: {means}")
            for key in ("caption_words_histogram", "short_side_histogram", "frames_per_clip"):
                if s.get(key):
                    print(f"  {key.replace('_', ' ')}: "
                          + "  ".join(f"{k}:{v}" for k, v in s[key].items()))
        if not s.get("documents"):
            continue
        d = s["documents"]
        print(f"  images/doc {s['images'] / d:.2f}   text chars/doc {s['text_chars'] / d:,.0f}")
        print("  images per doc: " + "  ".join(f"{k}:{v}" for k, v in
                                                s["images_per_document"].items()))
        print("  top domains: " + ", ".join(f"{h} {n}" for h, n in s["top_domains"][:8]))


def stats_command(args: argparse.Namespace) -> int:
    try:
        stats = load_stats(args.dir)
    except FileNotFoundError as exc:
        print(f"m3w stats: {exc}")
        return 2
    if args.json:
        print(json.dumps(stats, indent=2, sort_keys=True))
    else:
        print_funnel(stats)
        _print_summary(stats)
    if args.plot:
        from pipeline.commands.plots import plot_stats

        plot_stats(stats, args.plot)
        if not args.json:
            print(f"\nplot written to {args.plot}")
    return 1 if failed_checks(stats) else 0

"""The build's JSON files: the funnel, the per-input read counts and the manifest."""

from __future__ import annotations

import json
from typing import Any

from apache_beam.io.filesystems import FileSystems

from pipeline.funnel import build_funnel
from pipeline.outputs.atomic import write_atomic
from pipeline.outputs.tar import ShardInfo

_REQUIRED = object()


def read_json(out_dir: str, rel: str, missing: Any = _REQUIRED) -> Any:
    """A JSON file of a build (or of an export of one), on any Beam filesystem; ``missing``,
    when given, is returned for a file that does not exist."""
    path = FileSystems.join(out_dir, rel)
    if missing is not _REQUIRED and not FileSystems.exists(path):
        return missing
    with FileSystems.open(path) as fh:
        return json.loads(fh.read().decode("utf-8"))


def write_json(out_dir: str, rel: str, obj: Any) -> None:
    data = json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False).encode()
    write_atomic(FileSystems.join(out_dir, rel), data + b"\n")


def write_funnel(counts: list[tuple[tuple[str, ...], int]], out_dir: str,
                 declared: dict[str, dict[str, tuple[str, ...]]] | None = None
                 ) -> dict[str, Any]:
    funnel = build_funnel(counts, declared)
    write_json(out_dir, "stats/funnel.json", funnel)
    return funnel


def inputs_report(files: list[tuple[str, int, bool]]) -> dict[str, Any]:
    """stats/inputs.json: records read from each input file and whether it ended cleanly
    (False: truncated or broken midway, the rest of the file unread)."""
    rows = sorted(({"path": p, "records_read": int(n), "clean": bool(c)} for p, n, c in files),
                  key=lambda r: r["path"])
    return {"files": len(rows), "records_read": sum(r["records_read"] for r in rows),
            "truncated": [r["path"] for r in rows if not r["clean"]], "inputs": rows}


def write_inputs(files: list[tuple[str, int, bool]], out_dir: str) -> None:
    write_json(out_dir, "stats/inputs.json", inputs_report(files))


def manifest(cfg: dict[str, Any], cfg_hash: str, shards: list[tuple[str, ShardInfo]],
             rejects: list[str], versions: dict[str, str], weights: dict[str, float]
             ) -> dict[str, Any]:
    """manifest.json: one entry per built source, with its shards and loss weight."""
    from schemas import LAYOUT_VERSION

    sources: dict[str, Any] = {}
    for name, weight in weights.items():
        own = sorted((i for s, i in shards if s == name), key=lambda i: i.path)
        sources[name] = {
            "kind": name,
            "weight": weight,
            "samples": sum(i.samples for i in own),
            "shards": [{"path": i.path, "samples": i.samples, "bytes": i.bytes} for i in own],
        }
    return {"layout": LAYOUT_VERSION, "config": cfg, "config_hash": cfg_hash,
            "versions": versions, "sources": sources, "rejects": sorted(rejects)}

"""The small files of a build (manifest, funnel, inputs, summaries), read once. A missing or
unreadable file is a ReportError naming it, never a traceback."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from apache_beam.io.filesystems import FileSystems

from pipeline.outputs.manifest import read_json as read_build_json


class ReportError(Exception):
    """A build file the report cannot use; the message names the file and what is wrong."""


def build_path(root: str, rel: str) -> str:
    return FileSystems.join(root, rel)


_MISSING = object()


def read_json(root: str, rel: str, required: bool = True) -> Any:
    path = build_path(root, rel)
    try:
        data = read_build_json(root, rel, missing=_MISSING)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ReportError(f"{path}: not valid JSON ({exc})") from None
    except OSError as exc:
        raise ReportError(f"{path}: cannot be read ({exc})") from None
    if data is _MISSING:
        if required:
            raise ReportError(f"{path}: missing (is {root} a finished m3w build?)")
        return None
    return data


@dataclass
class Build:
    root: str
    manifest: dict[str, Any]
    funnel: dict[str, Any]
    inputs: dict[str, Any] | None
    summaries: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def config(self) -> dict[str, Any]:
        return self.manifest.get("config") or {}

    @property
    def sources(self) -> dict[str, Any]:
        return self.manifest.get("sources") or {}

    def shards(self, source: str) -> list[dict[str, Any]]:
        return list((self.sources.get(source) or {}).get("shards") or [])


_STAGE_FIELDS = ("stage", "in", "out", "rejected", "rejected_by_reason")


def _check_fields(root: str, rel: str, items: Any, fields: tuple[str, ...]) -> None:
    if not isinstance(items, list) or not all(
            isinstance(i, dict) and all(f in i for f in fields) for i in items):
        raise ReportError(f"{build_path(root, rel)}: an entry lacks one of {', '.join(fields)}")


def load_build(root: str) -> Build:
    """Manifest, funnel, inputs and every source's summary; each checked for the fields the
    report reads, so a damaged file is named here rather than failing a page later."""
    manifest = read_json(root, "manifest.json")
    funnel = read_json(root, "stats/funnel.json")
    if not isinstance(manifest, dict) or not isinstance(manifest.get("sources"), dict):
        raise ReportError(f"{build_path(root, 'manifest.json')}: no 'sources' object")
    if not isinstance(funnel, dict) or not {"stages", "totals"} <= set(funnel):
        raise ReportError(f"{build_path(root, 'stats/funnel.json')}: no 'stages' and 'totals'")
    _check_fields(root, "stats/funnel.json", funnel["stages"], _STAGE_FIELDS)
    for name, src in manifest["sources"].items():
        if not isinstance(src, dict):
            raise ReportError(f"{build_path(root, 'manifest.json')}: source {name!r} is not "
                              "an object")
        _check_fields(root, "manifest.json", src.get("shards") or [], ("path",))
    summaries = {}
    for name in manifest["sources"]:
        summary = read_json(root, f"stats/summary-{name}.json")
        if not isinstance(summary, dict):
            raise ReportError(f"{build_path(root, f'stats/summary-{name}.json')}: not an object")
        summaries[name] = summary
    inputs = read_json(root, "stats/inputs.json", required=False)
    return Build(root, manifest, funnel, inputs, summaries)

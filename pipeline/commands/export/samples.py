"""Reading a build for export: its shards from the manifest, and their samples streamed one at
a time (a tar is read in stream mode, never held whole)."""

from __future__ import annotations

import json
import tarfile
from collections.abc import Iterator

from apache_beam.io.filesystems import FileSystems

Sample = tuple[str, dict[str, bytes]]  # (key, {member suffix: bytes})


def read_manifest(build_dir: str) -> dict:
    with FileSystems.open(FileSystems.join(build_dir, "manifest.json")) as fh:
        return json.loads(fh.read().decode("utf-8"))


def shard_paths(build_dir: str, manifest: dict, source: str) -> list[str]:
    """The shards of one built source, in the manifest's (sorted) order; none if not built."""
    listed = manifest.get("sources", {}).get(source, {}).get("shards", [])
    return [FileSystems.join(build_dir, s["path"]) for s in listed]


def read_samples(path: str) -> Iterator[Sample]:
    """The samples of one WebDataset tar, in order: members grouped by the key before their
    first dot (schemas/LAYOUT.md)."""
    key: str | None = None
    members: dict[str, bytes] = {}
    with FileSystems.open(path) as raw, tarfile.open(fileobj=raw, mode="r|") as tar:
        for info in tar:
            if not info.isfile():
                continue
            k, _, ext = info.name.rsplit("/", 1)[-1].partition(".")
            if k != key and key is not None:
                yield key, members
                members = {}
            key = k
            fh = tar.extractfile(info)
            members[ext] = fh.read() if fh is not None else b""
    if key is not None:
        yield key, members

"""A bounded, seeded sample of one source's shards.

Shards are opened in seeded order and streamed: a sample's payload is read only when its key's
hash would enter the sample (``BottomK``), and reading stops once enough samples were seen
over a few shards, so time and memory stay flat however many shards a build has."""

from __future__ import annotations

import json
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from apache_beam.io.filesystems import FileSystems

from pipeline.commands.report.loading import Build, ReportError, build_path
from pipeline.commands.report.sampling import BottomK, in_seeded_order, rank

MIN_SHARDS = 4  # read at least this many shards (when there are), for more than one input
MAX_SHARDS = 16  # and never more
SEEN_PER_SAMPLE = 10  # stop once this many samples per wanted one have gone by


@dataclass
class Sample:
    key: str
    shard: str  # path relative to the build
    meta: dict[str, Any]
    members: dict[str, bytes]  # extension ("json", "000.jpg", "txt") -> bytes


@dataclass
class SourceSample:
    source: str
    samples: list[Sample] = field(default_factory=list)
    seen: int = 0  # samples read past (kept or not)
    shards_read: int = 0
    shards_total: int = 0
    samples_total: int = 0  # the manifest's count


def _members(path: str, label: str, keep: Any) -> Iterator[tuple[str, dict[str, bytes]]]:
    """(key, members) per sample of a tar shard, in file order. ``keep(key)`` says whether to
    read the sample's members; a skipped sample yields none. A shard that is not a
    readable tar is a ReportError naming it."""
    key, members, wanted = None, {}, False
    try:
        with FileSystems.open(path) as fh, tarfile.open(fileobj=fh, mode="r|*") as tar:
            for m in tar:
                if not m.isfile():
                    continue
                k, _, ext = m.name.rpartition("/")[2].partition(".")
                if k != key:
                    if key is not None:
                        yield key, members
                    key, members, wanted = k, {}, keep(k)
                if wanted:
                    data = tar.extractfile(m)
                    members[ext] = data.read() if data is not None else b""
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise ReportError(f"{label}: corrupt shard, not a readable tar ({exc})") from None
    if key is not None:
        yield key, members


def sample_source(build: Build, source: str, n: int, seed: int) -> SourceSample:
    """Up to ``n`` samples of ``source``: the smallest seeded key hashes among those read."""
    shards = build.shards(source)
    out = SourceSample(source, shards_total=len(shards),
                       samples_total=int((build.sources.get(source) or {}).get("samples", 0)))
    if n <= 0 or not shards:
        return out
    chosen = BottomK(n)
    by_path = {s["path"]: s for s in shards}
    for rel in in_seeded_order(seed, by_path):
        if out.shards_read >= MAX_SHARDS or (
                out.shards_read >= MIN_SHARDS and out.seen >= SEEN_PER_SAMPLE * n):
            break
        path = build_path(build.root, rel)
        label = path
        if not FileSystems.exists(path):
            raise ReportError(f"{path}: missing (listed in manifest.json for {source})")
        out.shards_read += 1
        for key, members in _members(path, label, lambda k: chosen.would_keep((rank(seed, k), k))):
            out.seen += 1
            order = (rank(seed, key), key)
            if not chosen.would_keep(order):
                continue
            try:
                meta = json.loads(members.get("json", b"{}"))
            except ValueError as exc:
                raise ReportError(f"{label}: corrupt shard, {key}.json is not JSON ({exc})"
                                  ) from None
            if not isinstance(meta, dict):
                raise ReportError(f"{label}: corrupt shard, {key}.json is not an object")
            chosen.add(order, Sample(key, rel, meta, members))
    out.samples = chosen.items()
    return out

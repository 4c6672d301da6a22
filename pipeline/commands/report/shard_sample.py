"""A bounded, seeded sample of one source's shards.

Shards are opened in seeded order and streamed: a sample's payload is read only when its key's
hash would enter the sample (``BottomK``), and reading stops once enough samples were seen
over a few shards, so time and memory stay flat however many shards a build has."""

from __future__ import annotations

import json
import tarfile
import zlib
from dataclasses import dataclass, field
from typing import Any

from apache_beam.io.filesystems import FileSystems

from pipeline.commands.report.loading import Build, ReportError, build_path
from pipeline.commands.report.sampling import BottomK, in_seeded_order, rank
from pipeline.outputs.tar import read_samples

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


def sample_source(build: Build, source: str, n: int, seed: int) -> SourceSample:
    """Up to ``n`` samples of ``source``: the smallest seeded key hashes among those read."""
    shards = build.shards(source)
    out = SourceSample(source, shards_total=len(shards),
                       samples_total=int((build.sources.get(source) or {}).get("samples", 0)))
    if n <= 0 or not shards:
        return out
    chosen = BottomK(n)

    def order(key: str) -> tuple[int, str]:
        return rank(seed, key), key

    for rel in in_seeded_order(seed, {s["path"] for s in shards}):
        if out.shards_read >= MAX_SHARDS or (
                out.shards_read >= MIN_SHARDS and out.seen >= SEEN_PER_SAMPLE * n):
            break
        path = build_path(build.root, rel)
        if not FileSystems.exists(path):
            raise ReportError(f"{path}: missing (listed in manifest.json for {source})")
        out.shards_read += 1
        try:
            for key, members in read_samples(path, lambda k: chosen.would_keep(order(k))):
                out.seen += 1
                if members is not None:
                    chosen.add(order(key), Sample(key, rel, _meta(path, key, members), members))
        except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
            raise ReportError(f"{path}: corrupt shard, not a readable tar ({exc})") from None
    out.samples = chosen.items()
    return out


def _meta(path: str, key: str, members: dict[str, bytes]) -> dict[str, Any]:
    """A sample's KEY.json; a ReportError naming the shard when it is not a JSON object."""
    try:
        meta = json.loads(members.get("json", b"{}"))
    except ValueError as exc:
        raise ReportError(f"{path}: corrupt shard, {key}.json is not JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise ReportError(f"{path}: corrupt shard, {key}.json is not an object")
    return meta

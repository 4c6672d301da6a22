"""Samples -> WebDataset shards under shards/<source>/, through Beam's filesystems.

Shard assignment needs no global count. A sample's group is the input it came from (a
document's ``source_file``; a pair's list file, from its ``source_id``), and within a group a
hash of the sample key picks one of a fixed number of buckets (``shards.buckets_per_input``).
So:

- no stage waits for a total over all samples (no global barrier): a group is written as
  soon as it is complete;
- a shard's name derives from its input, ``<source>-<input>-<hash8>-BBB-PPPPP.tar`` (input
  name made file-safe, a hash of the full input name, bucket, part), and its content from the
  samples alone: the same inputs give the same names and bytes on any runner and bundling;
- a group is at most one input's kept samples split ``buckets_per_input`` ways: the number of
  groups grows with the number of inputs, and none grows with the corpus. Parts are cut by
  ``max_samples`` and ``max_bytes``.

Pages fetched from URL lists carry an archive or a URL as source; they form one group,
``fetched``, spread over the buckets. Samples whose origin is unknown form one group too.

Each group is iterated once and spooled to local disk (see ``pipeline.outputs.tar``), so the
writer holds only a small index in memory, never a shard.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import zlib
from collections.abc import Callable
from typing import Any

import apache_beam as beam

from pipeline.file_shuffle import RUNNER, Shuffle
from pipeline.outputs.spool import ParkMembersFn, SpoolReader, spool_root
from pipeline.outputs.tar import Sample, ShardInfo, write_group
from schemas import Document

DEFAULT_BUCKETS_PER_INPUT = 4
FETCHED_GROUP = "fetched"
UNKNOWN_GROUP = "unknown"


def stable_bucket(key: str, n: int) -> int:
    return zlib.crc32(key.encode("utf-8", "replace")) % n


def document_sample(item: tuple[Document, dict[str, bytes]]) -> Sample:
    doc, images = item
    members = {"json": json.dumps(doc.to_dict(), ensure_ascii=False, sort_keys=True).encode()}
    members.update(images)
    return doc.key, members


def input_group(name: str) -> str:
    """The shard group of an input name: the file's base name; fetched pages share one."""
    if not name:
        return UNKNOWN_GROUP
    if "://" in name or os.path.basename(name).startswith("fetch-"):
        return FETCHED_GROUP
    return os.path.basename(name.rstrip("/")) or UNKNOWN_GROUP


def document_group(item: tuple[Document, dict[str, bytes]]) -> tuple[str, Sample]:
    """(group, sample) of a kept document: grouped by the file it was read from."""
    return input_group(item[0].source_file), document_sample(item)


def sample_input(sample: Sample) -> str:
    """The group of a pair sample, from its json member: ``meta.source_file``, else the list
    file of ``meta.source_id`` ("list.jsonl#12", "x.tar#key") or a file's folder."""
    try:
        meta = json.loads(sample[1].get("json", b"{}")).get("meta") or {}
    except (ValueError, AttributeError):
        return UNKNOWN_GROUP
    if meta.get("source_file"):
        return input_group(str(meta["source_file"]))
    sid = str(meta.get("source_id") or "")
    if "#" in sid:
        return input_group(sid.rsplit("#", 1)[0])
    return input_group(os.path.dirname(sid)) if sid else UNKNOWN_GROUP


_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def shard_name(source: str, group: str, bucket: int, part: int) -> str:
    """Relative path of one shard part; readable input name plus a hash that keeps two
    inputs whose names clean up alike apart."""
    slug = _UNSAFE.sub("_", group)[:40].strip("_") or "x"
    digest = hashlib.sha1(group.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"shards/{source}/{source}-{slug}-{digest}-{bucket:03d}-{part:05d}.tar"


class WriteShards(beam.PTransform):
    """(key, {ext: bytes}) samples -> shards/<source>/*.tar; emits (source, ShardInfo).

    With ``keyed=True`` the elements are (group, sample) and ``group_fn`` is not used. With
    ``park=True`` the members held in memory are parked in the build's work folder
    (``pipeline.outputs.spool``) before the group, which then carries references only.
    ``shuffle`` makes the group (``pipeline.file_shuffle``)."""

    def __init__(self, out_dir: str, source: str, max_samples: int, max_bytes: int,
                 buckets_per_input: int = DEFAULT_BUCKETS_PER_INPUT,
                 group_fn: Callable[[Sample], str] = sample_input, keyed: bool = False,
                 park: bool = True, shuffle: Shuffle = RUNNER) -> None:
        super().__init__()
        if not 1 <= buckets_per_input <= 999:
            raise ValueError("shards.buckets_per_input must be within [1, 999]")
        self.out_dir, self.source = out_dir, source
        self.max_samples, self.max_bytes = max_samples, max_bytes
        self.buckets, self.group_fn, self.keyed = buckets_per_input, group_fn, keyed
        self.park, self.sh = park, shuffle

    def expand(self, samples):
        n, group_fn, keyed = self.buckets, self.group_fn, self.keyed
        out_dir, source = self.out_dir, self.source
        ms, mb = self.max_samples, self.max_bytes

        def assign(element: Any) -> tuple[tuple[str, int], Sample]:
            group, sample = element if keyed else (group_fn(element), element)
            return (group, stable_bucket(sample[0], n)), sample

        def write(kv: tuple[tuple[str, int], Any]) -> list[tuple[str, ShardInfo]]:
            (group, bucket), items = kv
            reader = SpoolReader()
            try:
                infos = write_group(out_dir, items,
                                    lambda part: shard_name(source, group, bucket, part),
                                    ms, mb, reader.value)
            finally:
                reader.close()
            return [(source, info) for info in infos]

        bucketed = samples | "Bucket" >> beam.Map(assign)
        if self.park:
            bucketed = bucketed | "Park" >> beam.ParDo(ParkMembersFn(spool_root(out_dir)))
        return self.sh.group("GroupBucket", bucketed) | "WriteTar" >> beam.FlatMap(write)

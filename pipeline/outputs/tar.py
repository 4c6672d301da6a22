"""Deterministic, atomic WebDataset tar writing through Beam's filesystems (local, gs://, s3://).

A shard is written under a temporary name and renamed once complete, so a reader never sees a
partial shard under its final name, and a killed build rerun overwrites it with the same bytes.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from apache_beam.io.filesystems import FileSystems

from pipeline.outputs.atomic import write_atomic


@dataclass
class ShardInfo:
    path: str  # relative to the build's output directory
    samples: int
    bytes: int


def _member_order(ext: str) -> tuple[int, str]:
    # The metadata member first, so a streaming reader learns the sample before its images.
    return (0 if ext == "json" else 1, ext)


def tar_bytes(samples: Iterable[tuple[str, dict[str, bytes]]]) -> bytes:
    """Pack (key, {ext: bytes}) samples into one tar, byte-for-byte reproducible."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for key, members in samples:
            if "." in key:
                raise ValueError(f"sample key {key!r} contains a dot")
            for ext in sorted(members, key=_member_order):
                data = members[ext]
                info = tarfile.TarInfo(f"{key}.{ext}")
                info.size = len(data)
                info.mtime = 0
                info.mode = 0o644
                info.uname = info.gname = ""
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def split_parts(
    samples: list[tuple[str, dict[str, bytes]]], max_samples: int, max_bytes: int
) -> Iterator[list[tuple[str, dict[str, bytes]]]]:
    """Cut sorted samples into consecutive parts bounded by count and payload bytes."""
    part: list[tuple[str, dict[str, bytes]]] = []
    size = 0
    for sample in samples:
        n = sum(len(v) for v in sample[1].values())
        if part and (len(part) >= max_samples or size + n > max_bytes):
            yield part
            part, size = [], 0
        part.append(sample)
        size += n
    if part:
        yield part


def write_bucket(
    out_dir: str,
    source: str,
    bucket: int,
    samples: Iterable[tuple[str, dict[str, bytes]]],
    max_samples: int,
    max_bytes: int,
) -> list[ShardInfo]:
    """Write one bucket's samples, sorted by key, as ``<source>-BBBBB-PPP.tar`` parts."""
    ordered = sorted(samples, key=lambda s: s[0])
    infos = []
    for part_no, part in enumerate(split_parts(ordered, max_samples, max_bytes)):
        rel = f"shards/{source}/{source}-{bucket:05d}-{part_no:03d}.tar"
        data = tar_bytes(part)
        write_atomic(FileSystems.join(out_dir, rel), data)
        infos.append(ShardInfo(rel, len(part), len(data)))
    return infos

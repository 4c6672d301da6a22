"""Deterministic WebDataset tar writing, streamed, through Beam's filesystems.

A group of samples is spooled to a local temporary file as it arrives (bounded memory: only a
small index of key, offset and sizes stays in memory), the index is sorted by key, and each
part is streamed from the spool into a tar published by ``atomic_output``: a reader never
sees a partial shard under its final name, and a killed build rerun writes the same bytes.
Members carry mtime 0, mode 0644 and no owner; within a sample the json member comes first.
"""

from __future__ import annotations

import tarfile
import tempfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any, NamedTuple

from apache_beam.io.filesystems import FileSystems

from pipeline.outputs import faults
from pipeline.outputs.atomic import atomic_output
from pipeline.outputs.image_store import member_bytes

Sample = tuple[str, dict[str, bytes]]


@dataclass
class ShardInfo:
    path: str  # relative to the build's output directory
    samples: int
    bytes: int


class _Entry(NamedTuple):
    """Where one spooled sample lies. Sorted by key; the crc orders (never expected) equal
    keys by content, so the order never depends on arrival."""

    key: str
    crc: int
    offset: int
    sizes: tuple[tuple[str, int], ...]
    payload: int


def _member_order(ext: str) -> tuple[int, str]:
    # The metadata member first, so a streaming reader learns the sample before its images.
    return (0 if ext == "json" else 1, ext)


def tar_info(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = 0
    info.mode = 0o644
    info.uname = info.gname = ""
    return info


def _check_key(key: str) -> None:
    if "." in key:
        raise ValueError(f"sample key {key!r} contains a dot")


def spool_samples(samples: Iterable[Sample], spool: IO[bytes],
                  resolve: Callable[[Any], bytes] = member_bytes) -> list[_Entry]:
    """Append every sample's members to ``spool``; return the index sorted by key.
    ``resolve`` turns a member's value into its bytes (a parked image's reference, or a
    spooled member's, into what it refers to)."""
    index = []
    for key, members in samples:
        _check_key(key)
        offset = spool.tell()
        sizes = []
        crc = 0
        for ext in sorted(members, key=_member_order):
            data = resolve(members[ext])  # parked members are read back here
            spool.write(data)
            crc = zlib.crc32(ext.encode(), zlib.crc32(data, crc))
            sizes.append((ext, len(data)))
        index.append(_Entry(key, crc, offset, tuple(sizes), sum(n for _, n in sizes)))
    index.sort()
    return index


def split_parts(index: list[_Entry], max_samples: int, max_bytes: int
                ) -> Iterator[list[_Entry]]:
    """Cut sorted entries into consecutive parts bounded by count and payload bytes."""
    part: list[_Entry] = []
    size = 0
    for entry in index:
        n = entry.payload
        if part and (len(part) >= max_samples or size + n > max_bytes):
            yield part
            part, size = [], 0
        part.append(entry)
        size += n
    if part:
        yield part


def stream_tar(entries: list[_Entry], spool: IO[bytes], out: IO[bytes]) -> None:
    """Write the entries' members, read back from the spool, as one tar onto ``out``.

    The bytes are those of ``tarfile``'s USTAR writer (a test compares them): a header block
    per member, its content padded to a block, two zero blocks, zeros to a whole record. The
    writer is not used because it copies each member's header object and keeps every one in
    a list: time and memory per member that a streamed shard has no use for."""
    written = 0
    for entry in entries:
        spool.seek(entry.offset)
        for ext, size in entry.sizes:
            head = tar_info(f"{entry.key}.{ext}", size).tobuf(
                tarfile.USTAR_FORMAT, tarfile.ENCODING, "surrogateescape")
            data = spool.read(size)
            if len(data) != size:
                raise OSError(f"the shard spool ends inside {entry.key}.{ext}")
            pad = -size % tarfile.BLOCKSIZE
            out.write(head)
            out.write(data)
            out.write(b"\0" * pad)
            written += len(head) + size + pad
    end = 2 * tarfile.BLOCKSIZE
    out.write(b"\0" * (end + -(written + end) % tarfile.RECORDSIZE))


def write_group(
    out_dir: str,
    samples: Iterable[Sample],
    name: Callable[[int], str],
    max_samples: int,
    max_bytes: int,
    resolve: Callable[[Any], bytes] = member_bytes,
) -> list[ShardInfo]:
    """Write one group's samples, sorted by key, as parts ``name(part_no)`` (relative paths).

    The group is iterated once, lazily; memory holds the index, never the payload."""
    infos = []
    with tempfile.TemporaryFile(prefix="m3w-spool-") as spool:
        index = spool_samples(samples, spool, resolve)
        for part_no, part in enumerate(split_parts(index, max_samples, max_bytes)):
            rel = name(part_no)
            with atomic_output(FileSystems.join(out_dir, rel),
                               before_publish=lambda: faults.hit("after_tmp_shard")) as fh:
                stream_tar(part, spool, fh)
            infos.append(ShardInfo(rel, len(part), fh.count))
    return infos


def read_samples(path: str, wanted: Callable[[str], bool] | None = None
                 ) -> Iterator[tuple[str, dict[str, bytes] | None]]:
    """The samples of one WebDataset tar, in order, streamed (the tar is never held whole):
    members grouped by the key before their first dot (schemas/LAYOUT.md). A sample whose key
    ``wanted`` refuses comes as (key, None), its members skipped unread."""
    key: str | None = None
    members: dict[str, bytes] | None = {}
    with FileSystems.open(path) as raw, tarfile.open(fileobj=raw, mode="r|*") as tar:
        for info in tar:
            if not info.isfile():
                continue
            k, _, ext = info.name.rsplit("/", 1)[-1].partition(".")
            if k != key:
                if key is not None:
                    yield key, members
                key = k
                members = {} if wanted is None or wanted(k) else None
            if members is not None:
                fh = tar.extractfile(info)
                members[ext] = fh.read() if fh is not None else b""
        # tarfile ends without a word when the file stops at or inside a member's header; a
        # whole tar ends with a zero block, which it has then read.
        if tar.fileobj.pos < tar.offset + tarfile.BLOCKSIZE:
            raise tarfile.ReadError(f"{path}: cut short (it ends before its end-of-archive "
                                    "block)")
    if key is not None:
        yield key, members

"""Checked images parked on the build's filesystem between the image stage and the shard
writer, so that their bytes cross no shuffle.

A stored image (tens of kilobytes) is used at three joins after it is checked: back to each
(document, position) asking for it, into its document, and into its shard. Moving the bytes
through them costs three shuffles of the corpus's pixels and, on the local runner, holds them
all in memory. The image stage instead appends each checked JPEG to a pack file of its bundle
(``DIR/_work/images/<random>.pack``) and passes a reference: a string naming the pack, the
image's offset and length, and its SHA-256, which the shard writer checks when it reads the
bytes back. One pack per bundle rather than one file per image: at a billion pages a file per
image is billions of objects to create, list and delete (an object store bills each one, a
local filesystem spends an inode and a rename on each); a pack costs one. Within a pack the
same picture under many URLs is written once.

A pack is closed when its bundle finishes, before any reference to it can reach a join (the
first reader is past a shuffle), and a retried bundle writes a pack of its own, so a
reference always points at complete bytes. ``m3w build`` removes ``_work/`` once the manifest
is written.

In a sample's members, ``bytes`` are content and a ``str`` is such a reference.
"""

from __future__ import annotations

import hashlib
import threading

from pipeline.outputs.work_files import Appender, OpenFiles, reading

WORK_DIR = "_work"
IMAGES_DIR = f"{WORK_DIR}/images"
PACK_BYTES = 256 << 20  # a pack past this size is closed and the next image starts another


class ImageStore:
    """Appends JPEGs to pack files under ``root`` (any Beam filesystem). Thread-safe: fetch
    threads put concurrently. ``close()`` ends the current pack; call it when the bundle
    ends."""

    def __init__(self, root: str, pack_bytes: int = PACK_BYTES) -> None:
        self.pack_bytes = pack_bytes
        self._lock = threading.Lock()
        self._pack = Appender(root.rstrip("/"), ".pack")
        self._refs: dict[str, str] = {}  # digest -> reference, in the open pack

    def put(self, data: bytes) -> str:
        """Append ``data`` (once per pack); return the reference that stands for it."""
        digest = hashlib.sha256(data).hexdigest()
        with self._lock:
            ref = self._refs.get(digest)
            if ref is not None:
                return ref
            path, offset = self._pack.append(data)
            ref = self._refs[digest] = f"{path}@{offset}+{len(data)}#{digest}"
            if self._pack.size >= self.pack_bytes:
                self._close_locked()
        return ref

    def close(self) -> None:
        with self._lock:
            self._close_locked()

    def _close_locked(self) -> None:
        self._pack.close()
        self._refs = {}


class DamagedImage(ValueError):
    """A parked image that cannot be read back whole, or whose bytes no longer match their
    SHA-256 (a machine crash before they reached the disk): remove DIR/_work and rerun."""


def parse_ref(ref: str) -> tuple[str, int, int, str]:
    """(pack path, offset, length, SHA-256 hex) of a reference made by ``ImageStore.put``."""
    path, _, where = ref.rpartition("@")
    span, _, digest = where.partition("#")
    offset, _, length = span.partition("+")
    if not (path and offset.isdigit() and length.isdigit() and len(digest) == 64):
        raise ValueError(f"not a parked-image reference: {ref!r}")
    return path, int(offset), int(length), digest


def member_bytes(value: bytes | str, files: OpenFiles | None = None) -> bytes:
    """A member's content: the bytes themselves, or those of the parked image it refers to,
    checked against the SHA-256 in the reference. ``files`` keeps packs open between
    calls."""
    if not isinstance(value, str):
        return value
    path, offset, length, digest = parse_ref(value)
    try:
        with reading(files) as reader:
            data = reader.read(path, offset, length)
    except OSError as exc:
        raise DamagedImage(f"{path}: {exc}; remove the build's {WORK_DIR}/ folder and "
                           f"rerun") from None
    if len(data) != length or hashlib.sha256(data).hexdigest() != digest:
        raise DamagedImage(f"{value}: content does not match its reference; remove the "
                           f"build's {WORK_DIR}/ folder and rerun")
    return data

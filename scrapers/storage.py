"""Where input files live: a small interface, so the pure readers (pair lists, evaluation sets,
video clips) read local disks and object stores (gs://, s3://, ...) alike.

`LOCAL` reads the local disk. The pipeline passes its own implementation backed by Beam's
FileSystems (pipeline.sources.files); nothing here imports Beam. A "folder" on an object store
is a prefix: `is_dir` is true when files exist below it.
"""

from __future__ import annotations

import os
import re
import tempfile
from typing import IO, Protocol

_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*)://", re.I)


def scheme(path: str) -> str:
    """The lower-case scheme of `path` ("" for a plain local path)."""
    m = _SCHEME.match(path)
    return m.group(1).lower() if m else ""


def is_local(path: str) -> bool:
    return scheme(path) in ("", "file")


def local_path(path: str) -> str:
    return path[len("file://"):] if path.lower().startswith("file://") else path


class Storage(Protocol):
    def open(self, path: str) -> IO[bytes]:
        """A binary, readable file object (seekable where the store allows it)."""

    def size(self, path: str) -> int | None:
        """The file's size in bytes; None when there is no such file."""

    def is_dir(self, path: str) -> bool:
        """True for a folder (or, on an object store, a prefix with files below it)."""

    def files_under(self, folder: str) -> list[str]:
        """Every file below `folder`, recursively, sorted."""

    def join(self, base: str, *parts: str) -> str: ...

    def dirname(self, path: str) -> str: ...

    def is_absolute(self, path: str) -> bool: ...


class LocalStorage:
    """The local disk, through os and open."""

    def open(self, path: str) -> IO[bytes]:
        return open(local_path(path), "rb")

    def size(self, path: str) -> int | None:
        p = local_path(path)
        return os.path.getsize(p) if os.path.isfile(p) else None

    def is_dir(self, path: str) -> bool:
        return os.path.isdir(local_path(path))

    def files_under(self, folder: str) -> list[str]:
        out = []
        for root, dirs, files in os.walk(local_path(folder)):
            dirs.sort()
            out.extend(os.path.join(root, f) for f in sorted(files))
        return out

    def join(self, base: str, *parts: str) -> str:
        return os.path.join(base, *parts)

    def dirname(self, path: str) -> str:
        return os.path.dirname(os.path.abspath(local_path(path)))

    def is_absolute(self, path: str) -> bool:
        return os.path.isabs(path) or bool(scheme(path))


LOCAL = LocalStorage()


def staged_copy(storage: Storage, path: str, max_bytes: int | None = None,
                prefix: str = "m3w-stage-") -> str:
    """Copy `path` to a local temporary file (for a library that needs a path) and return
    the copy's path; the caller deletes it. Streams: never holds the file in memory. Raises
    ValueError past `max_bytes`."""
    fd, tmp = tempfile.mkstemp(prefix=prefix)
    try:
        with storage.open(path) as src, os.fdopen(fd, "wb") as dst:
            copied = 0
            while True:
                chunk = src.read(1 << 20)
                if not chunk:
                    break
                copied += len(chunk)
                if max_bytes is not None and copied > max_bytes:
                    raise ValueError(f"{path}: over {max_bytes} bytes")
                dst.write(chunk)
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp


__all__ = ["LOCAL", "LocalStorage", "Storage", "is_local", "local_path", "scheme",
           "staged_copy"]

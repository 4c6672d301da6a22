"""Files of the build's work folder: appended to per bundle, read back by (file, offset).

A bundle that parks payload (spooled values, checked images) appends it to one file of its
own, named at random and opened at the first value (``Appender``); the file is closed when
the bundle ends, before any reference to it can reach a join, and a retried bundle writes a
file of its own.

Readers come back to the same few files: parked values and WARC image records are read one at
a time by (file, offset), and opening the file anew for each costs more than reading (Beam's
``FileSystems`` looks the path's filesystem up through its plugin registry on every call, the
local one makes an ``open`` system call, and an object store a request). References reach a
reader grouped by the bundle that wrote them, or sorted by record, so a few kept-open handles
(``OpenFiles``) serve most reads.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from contextlib import AbstractContextManager, nullcontext
from typing import BinaryIO

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

KEEP = 16  # handles a reader keeps open (on an object store each holds a read buffer)
MIME = "application/octet-stream"


class Appender:
    """Appends bytes to one file under ``root`` (``<random><suffix>``), created at the first
    append. Not thread-safe."""

    def __init__(self, root: str, suffix: str) -> None:
        self.root, self.suffix = root, suffix
        self._fh: BinaryIO | None = None
        self.path, self.size = "", 0

    def append(self, data: bytes) -> tuple[str, int]:
        """(file, offset) where ``data`` now lies."""
        if self._fh is None:
            self.path = FileSystems.join(self.root, f"{uuid.uuid4().hex}{self.suffix}")
            self._fh = FileSystems.create(self.path, MIME, CompressionTypes.UNCOMPRESSED)
            self.size = 0
        self._fh.write(data)
        offset = self.size
        self.size += len(data)
        return self.path, offset

    def close(self) -> None:
        """End the file; the next append starts another."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None


class OpenFiles:
    """The most recently used ``keep`` files, open for reading, raw (never decompressed).
    Not thread-safe: one per DoFn instance, used on its bundle's thread."""

    def __init__(self, keep: int = KEEP) -> None:
        self.keep = keep
        self._files: OrderedDict[str, BinaryIO] = OrderedDict()

    def get(self, path: str) -> BinaryIO:
        """An open handle of ``path``; the caller seeks where it reads."""
        fh = self._files.pop(path, None)
        if fh is None:
            fh = FileSystems.open(path, MIME, CompressionTypes.UNCOMPRESSED)
            while len(self._files) >= self.keep:
                self._files.popitem(last=False)[1].close()
        self._files[path] = fh
        return fh

    def read(self, path: str, offset: int, length: int) -> bytes:
        fh = self.get(path)
        fh.seek(offset)
        return fh.read(length)

    def close(self) -> None:
        while self._files:
            self._files.popitem()[1].close()

    def __enter__(self) -> OpenFiles:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def reading(files: OpenFiles | None) -> AbstractContextManager[OpenFiles]:
    """``files``, or, for a caller that keeps none, a reader of one file closed on leaving."""
    return nullcontext(files) if files is not None else OpenFiles(keep=1)

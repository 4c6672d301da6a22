"""Read handles kept open across calls, for readers that come back to the same few files.

Parked values (spool files, image packs) and WARC image records are read one at a time by
(file, offset). Opening the file anew for each costs more than reading: Beam's ``FileSystems``
looks the path's filesystem up through its plugin registry on every call, the local one makes
an ``open`` system call, and an object store a request. References reach a reader grouped by
the bundle that wrote them, or sorted by record, so a few handles serve most reads.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import BinaryIO

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

KEEP = 16  # handles a reader keeps open (on an object store each holds a read buffer)
_MIME = "application/octet-stream"


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
            fh = FileSystems.open(path, _MIME, CompressionTypes.UNCOMPRESSED)
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

"""Output files of bounded size, each published whole.

A sink writes one file at a time, ``OUT/STEM-PPPPP.EXT``, and starts the next when the file
reaches ``max_rows`` rows or ``max_bytes`` bytes, so memory holds at most one Parquet row group
(``row_group_rows`` rows or ``row_group_bytes`` bytes, whichever comes first) or one tar
sample, whatever the size of the build. A file appears under its name only once complete
(``pipeline.outputs.atomic``); names depend on the stem and the order of samples alone, so a
rerun writes the same files.
"""

from __future__ import annotations

import io
import tarfile
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from apache_beam.io.filesystems import FileSystems

from pipeline.outputs.atomic import CountingWriter, atomic_output
from pipeline.outputs.tar import tar_info


@dataclass
class Limits:
    max_rows: int = 10_000  # rows (documents, pairs) per output file
    max_bytes: int = 1 << 30  # bytes per output file, roughly: a file closes once past it
    row_group_rows: int = 1_000  # Parquet: rows per row group at most...
    row_group_bytes: int = 32 << 20  # ...and bytes per row group at most, before encoding


@dataclass
class Written:
    path: str  # relative to the export's output directory
    rows: int
    bytes: int


class RollingFiles:
    """The part of a sink that opens, rolls and publishes its files."""

    ext = ""

    def __init__(self, out_dir: str, stem: str, limits: Limits) -> None:
        self.out_dir, self.stem, self.limits = out_dir, stem, limits
        self.written: list[Written] = []
        self._stack: ExitStack | None = None
        self._fh: CountingWriter | None = None
        self._rows = 0

    def _name(self) -> str:
        return f"{self.stem}-{len(self.written):05d}.{self.ext}"

    def _handle(self) -> CountingWriter:
        if self._fh is None:
            self._stack = ExitStack()
            self._fh = self._stack.enter_context(
                atomic_output(FileSystems.join(self.out_dir, self._name())))
            self._rows = 0
            self._begin(self._fh)
        return self._fh

    def _roll_if_full(self, pending_bytes: int = 0) -> None:
        if self._fh is not None and (self._rows >= self.limits.max_rows
                                     or self._fh.count + pending_bytes >= self.limits.max_bytes):
            self._publish()

    def _publish(self) -> None:
        assert self._fh is not None and self._stack is not None
        self._end()
        size = self._fh.count
        self._stack.close()  # the file appears under its name here
        self.written.append(Written(self._name(), self._rows, size))
        self._fh = self._stack = None

    def close(self) -> list[Written]:
        """Publish the last file; the files written, in order."""
        if self._fh is not None:
            self._publish()
        return self.written

    def abort(self) -> None:
        """Leave the file being written unpublished."""
        if self._stack is not None:
            self._stack.__exit__(RuntimeError, RuntimeError("export aborted"), None)
        self._fh = self._stack = None

    # Format hooks.
    def _begin(self, fh: CountingWriter) -> None:
        pass

    def _end(self) -> None:
        pass


class TarSink(RollingFiles):
    """WebDataset tars: each sample's members ``KEY.EXT``, in the order given."""

    ext = "tar"

    def _begin(self, fh: CountingWriter) -> None:
        self._tar = tarfile.open(fileobj=fh, mode="w", format=tarfile.USTAR_FORMAT)

    def _end(self) -> None:
        self._tar.close()

    def add(self, key: str, members: list[tuple[str, bytes]]) -> None:
        self._roll_if_full()
        self._handle()
        for ext, data in members:
            self._tar.addfile(tar_info(f"{key}.{ext}", len(data)), io.BytesIO(data))
        self._rows += 1


class ParquetSink(RollingFiles):
    """Parquet files of one schema, written a row group at a time."""

    ext = "parquet"

    def __init__(self, out_dir: str, stem: str, limits: Limits, schema: Any) -> None:
        super().__init__(out_dir, stem, limits)
        self.schema = schema
        self._buffer: list[dict[str, Any]] = []
        self._buffered = 0

    def _begin(self, fh: CountingWriter) -> None:
        import pyarrow.parquet as pq

        self._writer = pq.ParquetWriter(fh, self.schema, compression="zstd")

    def _end(self) -> None:
        self._flush()
        self._writer.close()

    def _flush(self) -> None:
        if self._buffer:
            import pyarrow as pa

            self._writer.write_table(pa.Table.from_pylist(self._buffer, self.schema),
                                     row_group_size=len(self._buffer))
            self._buffer, self._buffered = [], 0

    def add(self, row: dict[str, Any], size: int) -> None:
        """One row, of about ``size`` bytes of content."""
        self._roll_if_full(self._buffered)
        self._handle()
        self._buffer.append(row)
        self._buffered += size
        self._rows += 1
        if (len(self._buffer) >= self.limits.row_group_rows
                or self._buffered >= self.limits.row_group_bytes):
            self._flush()


class FormatSink:
    """What a format's sink shares: its files (one RollingFiles, or one per source), closed
    and aborted together, and its counts: ``images`` those written, ``skipped`` what could not
    be written (an image whose bytes the shard lacks); the samples are the rows of the files
    written, read once they are closed."""

    def __init__(self) -> None:
        self.images = 0
        self.skipped = 0

    def parts(self) -> list[RollingFiles]:
        raise NotImplementedError

    def add(self, source: str, sample: Any) -> None:
        raise NotImplementedError

    def close(self) -> list[Written]:
        return [w for part in self.parts() for w in part.close()]

    def abort(self) -> None:
        for part in self.parts():
            part.abort()

    def counts(self) -> dict[str, int]:
        return {"samples": sum(w.rows for p in self.parts() for w in p.written),
                "images": self.images, "skipped": self.skipped}

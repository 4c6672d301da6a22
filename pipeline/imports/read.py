"""The Beam side of importing: corpus files -> Documents, their embedded images, the rejects
and each file's read count.

Parquet files are read by row group (one piece each, in batches of BATCH_ROWS rows); JSONL files
whole, one file per call (a gzip stream has no split points), line by line, a line longer than
MAX_LINE_BYTES refused without being held. Each piece gives one (path, (rows, clean)) count;
a piece that breaks midway adds a ``read`` reject and counts it as one more record, as a broken
WARC does.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import IO, Any

import apache_beam as beam
from apache_beam.pvalue import TaggedOutput

from pipeline import progress
from pipeline.imports.embedded import EmbeddedImage
from pipeline.imports.formats import MMC4, OBELICS
from pipeline.imports.mmc4 import mmc4_document
from pipeline.imports.obelics import COLUMNS, REQUIRED, obelics_document
from pipeline.imports.rows import IMPORT_FILTER, BadRow, Imported
from pipeline.rejects import REJECTS, make_reject
from pipeline.stages.read import READ_FILTER, CountPerFile, open_input, row_group_pieces, skip_line

EMBEDDED = "embedded"  # tagged output: EmbeddedImage
COUNTS = "counts"  # tagged output: (path, (rows read, ended cleanly))
BATCH_ROWS = 64
MAX_LINE_BYTES = 256 << 20
Piece = tuple[str, str, int]  # (path, format, row group; -1 for a whole file)


def corpus_pieces(item: tuple[str, str, int | None]) -> Iterator[Piece]:
    """(path, format, row groups) -> its pieces: one per row group of a Parquet file (its
    count read from the footer when the file was routed, as for a URL list), the whole file
    otherwise or when the footer cannot be read (the reader then reports it)."""
    path, fmt, groups = item
    if fmt != OBELICS:
        yield path, fmt, -1
        return
    for _, group, end in row_group_pieces(path, groups):
        yield path, fmt, group if end >= 0 else -1


def _parquet_rows(path: str, group: int) -> Iterator[tuple[int, dict[str, Any] | BadRow]]:
    """(row number in the file, row) of one row group; a BadRow for each row of a file that
    lacks a required column."""
    import pyarrow.parquet as pq

    with open_input(path) as fh:
        pf = pq.ParquetFile(fh)
        if pf.num_row_groups == 0:
            return
        group = max(group, 0)
        first = sum(pf.metadata.row_group(g).num_rows for g in range(group))
        names = pf.schema_arrow.names
        columns = [c for c in COLUMNS if c in names]
        missing = ", ".join(c for c in REQUIRED if c not in names)
        if missing:
            for i in range(pf.metadata.row_group(group).num_rows):
                yield first + i, BadRow("missing_columns", missing)
            return
        row_no = first
        for batch in pf.iter_batches(batch_size=BATCH_ROWS, row_groups=[group], columns=columns):
            for row in batch.to_pylist():
                yield row_no, row
                row_no += 1


def _read_line(fh: IO[bytes]) -> tuple[bytes, bool]:
    """One line, and whether it fit in MAX_LINE_BYTES (an overlong one is read past, not kept)."""
    line = fh.readline(MAX_LINE_BYTES + 1)
    if len(line) <= MAX_LINE_BYTES or line.endswith(b"\n"):
        return line, True
    skip_line(fh)
    return b"\n", False


def _jsonl_rows(path: str) -> Iterator[tuple[int, Any]]:
    """(line number, parsed object or BadRow) of each non-blank line; gzip by the name."""
    import gzip

    with open_input(path) as raw:
        fh = gzip.GzipFile(fileobj=raw) if path.lower().endswith(".gz") else raw
        row_no = 0
        while True:
            line, fits = _read_line(fh)
            if not line:
                return
            if not fits:
                yield row_no, BadRow("too_large", f"a line over {MAX_LINE_BYTES} bytes")
            elif line.strip():
                try:
                    yield row_no, json.loads(line)
                except ValueError as exc:
                    yield row_no, BadRow("bad_json", str(exc)[:200])
            else:
                continue
            row_no += 1


class ReadCorpusFn(beam.DoFn):
    """A piece of a corpus file -> Documents (main), EmbeddedImage (EMBEDDED), Rejects
    (REJECTS) and its (path, (rows, clean)) count (COUNTS)."""

    def __init__(self, min_text_chars: int, embedded_dir: str) -> None:
        self.min_text_chars = min_text_chars
        self.embedded_dir = embedded_dir
        self._store: Any = None

    def setup(self) -> None:
        from pipeline.outputs.image_store import ImageStore

        self._store = ImageStore(self.embedded_dir)

    def finish_bundle(self) -> None:
        self._store.close()  # its pack is complete before a reference leaves the bundle

    def teardown(self) -> None:
        if self._store is not None:
            self._store.close()

    def process(self, piece: Piece) -> Iterator[Any]:
        path, fmt, group = piece
        source = os.path.basename(path)
        n = 0
        try:
            rows = _parquet_rows(path, group) if fmt == OBELICS else _jsonl_rows(path)
            for row_no, row in rows:
                n += 1
                progress.add("records_read")
                yield from self._convert(row, fmt, source, row_no)
        except Exception as exc:  # an unreadable file must not stop the build; counts say so
            progress.add("records_read")
            yield TaggedOutput(REJECTS, make_reject(
                "read", f"{source}#{group if group >= 0 else n}", READ_FILTER, "error",
                detail=f"{type(exc).__name__}: {exc}"))
            yield TaggedOutput(COUNTS, (path, (n + 1, False)))
            return
        yield TaggedOutput(COUNTS, (path, (n, True)))

    def _convert(self, row: Any, fmt: str, source: str, row_no: int) -> Iterator[Any]:
        sid = f"{source}#{row_no}"
        try:
            if isinstance(row, BadRow):
                raise row
            got: Imported = (obelics_document(row, source, row_no) if fmt == OBELICS
                             else mmc4_document(row, source, row_no))
            chars = len(got.doc.text)
            if chars < self.min_text_chars:
                raise BadRow("too_little_text", f"{chars} characters")
        except BadRow as bad:
            url = row.get("url", "") if isinstance(row, dict) and fmt == MMC4 else ""
            yield TaggedOutput(REJECTS, make_reject("extract", sid, IMPORT_FILTER, bad.reason,
                                                    url=str(url or ""), detail=bad.detail))
            return
        except Exception as exc:  # one bad row must not stop a build
            yield TaggedOutput(REJECTS, make_reject("extract", sid, IMPORT_FILTER,
                                                    f"error:{type(exc).__name__}",
                                                    detail=str(exc)))
            return
        images = got.doc.images
        for index, data in sorted(got.embedded.items()):
            yield TaggedOutput(EMBEDDED, EmbeddedImage(images[index].src, f"{sid}#{index}",
                                                       self._store.put(data)))
        progress.add("documents_extracted")
        yield got.doc


class ImportCorpus(beam.PTransform):
    """(path, format, row groups) of corpus files -> {"docs", EMBEDDED, REJECTS, "files"}:
    Documents, their embedded images, rejects, and one (path, records_read, ended_cleanly) per
    file."""

    def __init__(self, cfg: dict[str, Any], embedded_dir: str) -> None:
        super().__init__()
        self.min_text_chars = int(cfg["extract"]["min_text_chars"])
        self.embedded_dir = embedded_dir

    def expand(self, files):
        read = (
            files
            | "Pieces" >> beam.FlatMap(corpus_pieces)
            | "SpreadPieces" >> beam.Reshuffle()
            | "ReadRows" >> beam.ParDo(ReadCorpusFn(self.min_text_chars, self.embedded_dir))
            .with_outputs(EMBEDDED, REJECTS, COUNTS, main="docs")
        )
        counted = read[COUNTS] | "CountPerFile" >> CountPerFile()
        return {"docs": read.docs, EMBEDDED: read[EMBEDDED], REJECTS: read[REJECTS],
                "files": counted}

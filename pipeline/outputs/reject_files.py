"""Rejects -> rejects/*.parquet: one row per input that did not reach a shard.

No global count: a reject goes to ``rejects/rejects-<stage>-BBB.parquet``, its bucket a hash
of its source among a fixed number per stage (``REJECT_BUCKETS``, or the config's
``shards.reject_buckets``). Each file is written streaming, in the order of its rows' digests
(so the order depends only on the rows): an external sort whose runs of ``RUN_ROWS`` rows are
sorted in memory, written to local temporary files and merged into a ParquetWriter in row
groups of ``ROW_GROUP`` rows. Memory holds one run and one row group, never the file.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import pickle
import re
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from typing import IO

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from pipeline.file_shuffle import RUNNER, Shuffle, records_of, write_records
from pipeline.outputs.atomic import atomic_output
from pipeline.outputs.shards import stable_bucket
from pipeline.outputs.spool import SpoolReader, SpoolRef, park_batches, unbatched
from pipeline.rejects import rejects_in
from schemas import Reject
from schemas.arrow import REJECT_SCHEMA

REJECT_BUCKETS = 8  # files per stage; raise it (shards.reject_buckets) for huge builds
ROW_GROUP = 50_000
_FIELDS = tuple(f.name for f in REJECT_SCHEMA)
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def stage_token(stage: str) -> str:
    """The name a stage has in its reject files' names."""
    return _UNSAFE.sub("_", stage) or "x"


def reject_file(stage: str, bucket: int) -> str:
    return f"rejects/rejects-{stage_token(stage)}-{bucket:03d}.parquet"


_FILE_NAME = re.compile(r"rejects-(.+)-\d{3}\.parquet$")


def reject_file_token(path: str) -> str | None:
    """The stage token in the name of a reject file (``reject_file``), or None for a path
    that is not one."""
    m = _FILE_NAME.search(path)
    return m.group(1) if m else None


RUN_ROWS = ROW_GROUP  # rows sorted in memory at once: as many as one row group holds


def _sorted_blobs(rows: Iterable[Reject], stack: ExitStack) -> Iterator[bytes]:
    """The rows pickled, in the order of their digests, so the file's row order depends only
    on its rows. Sorted RUN_ROWS at a time into temporary runs that are then merged: memory
    holds one run, not the file's rows (a file of a corpus-scale build has millions)."""
    runs: list[IO[bytes]] = []
    buf: list[tuple[bytes, bytes]] = []
    for r in rows:
        blob = pickle.dumps(tuple(getattr(r, f) for f in _FIELDS), protocol=4)
        buf.append((hashlib.blake2b(blob, digest_size=16).digest(), blob))
        if len(buf) >= RUN_ROWS:
            runs.append(_write_run(buf, stack))
            buf = []
    if not runs:
        buf.sort()
        return (blob for _, blob in buf)
    if buf:
        runs.append(_write_run(buf, stack))
    merged = heapq.merge(*(records_of(fh, "a reject file's sorted run") for fh in runs))
    return (blob for _, blob in merged)


def _write_run(buf: list[tuple[bytes, bytes]], stack: ExitStack) -> IO[bytes]:
    buf.sort()
    fh = stack.enter_context(tempfile.TemporaryFile(prefix="m3w-rejects-"))
    write_records(fh, buf)
    fh.seek(0)
    return fh


def _batches(blobs: Iterator[bytes]) -> Iterator[pa.RecordBatch]:
    while rows := [pickle.loads(b) for b in itertools.islice(blobs, ROW_GROUP)]:
        cols = [_column([row[i] for row in rows], REJECT_SCHEMA.field(i).type)
                for i in range(len(_FIELDS))]
        yield pa.RecordBatch.from_arrays(cols, schema=REJECT_SCHEMA)


def _column(values: list, typ: pa.DataType) -> pa.Array:
    try:
        return pa.array(values, type=typ)
    except (UnicodeEncodeError, pa.ArrowInvalid):
        # A lone surrogate (from undecodable page text) cannot be UTF-8: replace, not crash.
        return pa.array([v.encode("utf-8", "replace").decode("utf-8") if isinstance(v, str)
                         else v for v in values], type=typ)


def write_reject_file(path: str, rows: Iterable[Reject]) -> int:
    """Stream ``rows`` into one parquet file at ``path``; returns the row count."""
    written = 0
    with ExitStack() as stack:
        blobs = _sorted_blobs(rows, stack)
        with atomic_output(path) as fh:
            writer = pq.ParquetWriter(pa.PythonFile(fh, mode="w"), REJECT_SCHEMA,
                                      compression="zstd")
            try:
                for batch in _batches(blobs):
                    writer.write_batch(batch, row_group_size=ROW_GROUP)
                    written += batch.num_rows
            finally:
                writer.close()
    return written


class WriteRejects(beam.PTransform):
    """Rejects -> rejects/rejects-<stage>-BBB.parquet; emits the relative paths written.

    Takes one PCollection of rejects or a tuple of them (an element: a Reject or a list of
    them, ``pipeline.rejects.rejects_in``). Each is parked where it is made, in
    batches per file (``pipeline.outputs.spool``), so neither the Flatten of the stages'
    rejects nor the group per file carries the rows: a runner that buffers them holds one
    reference per batch."""

    def __init__(self, out_dir: str, buckets: int = REJECT_BUCKETS,
                 shuffle: Shuffle = RUNNER) -> None:
        super().__init__()
        if not 1 <= buckets <= 999:
            raise ValueError("shards.reject_buckets must be within [1, 999]")
        self.out_dir, self.buckets, self.sh = out_dir, buckets, shuffle

    def expand(self, rejects):
        out_dir, n = self.out_dir, self.buckets
        streams = rejects if isinstance(rejects, tuple) else (rejects,)

        def file_of(r: Reject) -> tuple[str, int]:
            return r.stage, stable_bucket(r.source, n)

        def write(group: tuple[tuple[str, int], Iterable[SpoolRef]]) -> str:
            (stage, bucket), refs = group
            rel = reject_file(stage, bucket)
            reader = SpoolReader()
            try:
                write_reject_file(FileSystems.join(out_dir, rel), unbatched(refs, reader))
            finally:
                reader.close()
            return rel

        parked = [park_batches(s, f"Park{i}", out_dir, file_of, values_of=rejects_in)
                  for i, s in enumerate(streams)]
        return self.sh.group("Group", *parked) | "Write" >> beam.Map(write)

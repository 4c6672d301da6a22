"""Rejects -> rejects/*.parquet: one row per input that did not reach a shard."""

from __future__ import annotations

import io
import math
from collections.abc import Iterable

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from pipeline.outputs.atomic import write_atomic
from pipeline.outputs.shards import stable_bucket
from schemas import Reject
from schemas.arrow import REJECT_SCHEMA

REJECTS_PER_FILE = 250_000


def _reject_table(rows: Iterable[Reject]) -> bytes:
    rows = sorted(rows, key=lambda r: (r.stage, r.source, r.url, r.filter, r.reason))
    cols = {f.name: [getattr(r, f.name) for r in rows] for f in REJECT_SCHEMA}
    table = pa.Table.from_pydict(cols, schema=REJECT_SCHEMA)
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    return buf.getvalue()


class WriteRejects(beam.PTransform):
    """Rejects -> rejects/rejects-BBBBB.parquet, bucketed by source; emits relative paths."""

    def __init__(self, out_dir: str) -> None:
        super().__init__()
        self.out_dir = out_dir

    def expand(self, rejects):
        count = rejects | "Count" >> beam.combiners.Count.Globally()
        out_dir = self.out_dir

        def keyed(r, n):
            return stable_bucket(r.source, max(1, math.ceil(n / REJECTS_PER_FILE))), r

        def write(group):
            bucket, rows = group
            rel = f"rejects/rejects-{bucket:05d}.parquet"
            write_atomic(FileSystems.join(out_dir, rel), _reject_table(rows))
            return rel

        return (
            rejects
            | "Bucket" >> beam.Map(keyed, n=beam.pvalue.AsSingleton(count))
            | "Group" >> beam.GroupByKey()
            | "Write" >> beam.Map(write)
        )

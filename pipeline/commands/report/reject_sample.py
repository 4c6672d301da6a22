"""A bounded, seeded read of rejects/*.parquet: for every (stage, filter:reason) the examples
nearest their threshold, the measured values for a histogram, and the images and paragraphs
dropped from the sampled documents.

Each stage's files are read in seeded order, one record batch at a time, and a stage stops
after ``max_rows`` rows: rows are spread over a stage's files by a hash of their source, so
what is read is a fair sample of the stage, and time and memory stop growing beyond it."""

from __future__ import annotations

import math
from array import array
from collections import defaultdict
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any

from apache_beam.io.filesystems import FileSystems

from pipeline.commands.report.loading import Build, ReportError, build_path
from pipeline.commands.report.sampling import BottomK, in_seeded_order
from pipeline.commands.report.thresholds import Threshold, closeness, thresholds_for
from pipeline.outputs.reject_files import reject_file_token
from pipeline.sources.files import expand_patterns
from schemas.arrow import REJECT_SCHEMA

MAX_ROWS_PER_STAGE = 500_000
BATCH_ROWS = 8192
COLUMNS = tuple(REJECT_SCHEMA.names)
DROPPED_FROM_DOCUMENTS = ("image", "node")  # rejects of parts of a kept document


@dataclass
class ReasonSample:
    stage: str
    name: str  # "filter:reason", as the funnel names it
    thresholds: list[Threshold]
    examples: BottomK
    values: array = field(default_factory=lambda: array("d"))
    read: int = 0  # rows of this reason read


@dataclass
class RejectSample:
    reasons: dict[tuple[str, str], ReasonSample] = field(default_factory=dict)
    rows_read: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    cut: set[str] = field(default_factory=set)  # stages whose files were not all read
    # rows of the sampled documents' dropped images and paragraphs, by document key
    dropped: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))


def reject_files(build: Build) -> dict[str, list[str]]:
    """rejects/*.parquet by the stage their name carries."""
    found, _ = expand_patterns([build_path(build.root, "rejects/*.parquet")])
    out: dict[str, list[str]] = defaultdict(list)
    for path in found:
        token = reject_file_token(path)
        if token is not None:
            out[token].append(path)
    return dict(out)


def _batches(path: str) -> Iterator[Any]:
    """The record batches of one reject file (only the columns it has of ``COLUMNS``)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        with FileSystems.open(path) as fh:
            pf = pq.ParquetFile(fh)
            names = set(pf.schema_arrow.names)
            missing = {"stage", "filter", "reason"} - names
            if missing:
                raise ReportError(f"{path}: not a reject file (no {', '.join(sorted(missing))})")
            cols = [c for c in COLUMNS if c in names]
            yield from pf.iter_batches(batch_size=BATCH_ROWS, columns=cols)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise ReportError(f"{path}: corrupt reject file, not readable parquet ({exc})"
                          ) from None


def sample_rejects(build: Build, n: int, seed: int, doc_keys: set[str] | frozenset[str] = (),
                   max_rows: int = MAX_ROWS_PER_STAGE) -> RejectSample:
    """Examples (``n`` per reason, nearest the threshold first), values, and what was dropped
    from the documents ``doc_keys``. Among examples equally near, the first read wins: files
    in seeded order, rows within a file in the order of their digest (reject_files.py)."""
    out = RejectSample()
    cfg = build.config
    keys = _key_set(doc_keys)
    for token, paths in sorted(reject_files(build).items()):
        # a file holds the rejects of one stage: only image and node rejects are parts
        part_keys = keys if token in DROPPED_FROM_DOCUMENTS else None
        for path in in_seeded_order(seed, paths):
            with closing(_batches(path)) as batches:
                for batch in batches:
                    _add_batch(out, batch, out.rows_read[token], cfg, n, part_keys)
                    out.rows_read[token] += batch.num_rows
                    if out.rows_read[token] >= max_rows:
                        out.cut.add(token)  # the rest of this file, at least, is unread
                        break
            if token in out.cut:
                break
    return out


def _key_set(doc_keys: Any) -> Any:
    import pyarrow as pa

    return pa.array(sorted(doc_keys), type=pa.string()) if doc_keys else None


def _add_batch(out: RejectSample, batch: Any, seq: int, cfg: dict[str, Any], n: int,
               doc_keys: Any) -> None:
    """One record batch, vectorized per (stage, filter, reason): values go to the histogram,
    and only the rows that would enter a reason's examples become Python objects. Rows whose
    source is among ``doc_keys`` (given for image and node rejects only) are kept whole as
    what was dropped from those documents."""
    import numpy as np
    import pyarrow.compute as pc

    # _batches refuses a file without these three columns
    stage, filt, reason = (pc.fill_null(batch.column(c), "") for c in ("stage", "filter", "reason"))
    groups = pc.binary_join_element_wise(stage, filt, reason, "\x1f").dictionary_encode()
    codes = groups.indices.to_numpy(zero_copy_only=False)
    values = batch.column("value").to_numpy(zero_copy_only=False).astype(float) \
        if "value" in batch.schema.names else np.full(batch.num_rows, np.nan)
    for code, joined in enumerate(groups.dictionary.to_pylist()):
        st, f, r = joined.split("\x1f", 2)
        key = (st, f"{f}:{r}")
        entry = out.reasons.get(key)
        if entry is None:
            entry = ReasonSample(st, key[1], thresholds_for(cfg, st, f, r), BottomK(n))
            out.reasons[key] = entry
        idx = np.flatnonzero(codes == code)
        v = values[idx]
        finite = np.isfinite(v)
        entry.read += len(idx)
        entry.values.extend(v[finite].tolist())
        near = closeness(v, entry.thresholds)
        worst = entry.examples.worst()
        if worst is not None:  # full: only rows strictly nearer can enter
            nearer = near < worst[0]
            idx, near = idx[nearer], near[nearer]
        order = np.argsort(near, kind="stable")[:n]
        if not len(order):
            continue
        rows = batch.take(idx[order]).to_pylist()
        for row, i, d in zip(rows, idx[order], near[order]):
            row["value"] = _finite(row.get("value"))
            row["closeness"] = None if math.isinf(d) else float(d)
            entry.examples.add((float(d), seq + int(i)), row)
    if doc_keys is not None and "source" in batch.schema.names:
        mine = pc.is_in(batch.column("source"), value_set=doc_keys)
        for row in batch.filter(mine).to_pylist():
            row["value"] = _finite(row.get("value"))
            out.dropped[row["source"]].append(row)


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None

"""Payload parked on the build's filesystem while corpus-wide decisions are made, so that it
crosses no shuffle and waits in no runner buffer.

Deduplication, image assembly, the shard groups and the reject files each join every document
(or sample, or reject) with something that exists only once the whole corpus has been seen.
Sending the payload through those joins would cost a shuffle of the corpus's text each time,
and a runner that keeps its shuffles in memory (the local one does, at about twice the
encoded size) would hold all of it until the last verdict is in. Instead the payload is
appended, encoded, to a spool file of the bundle that parks it
(``DIR/_work/spool/<random>.spool``), and only a ``SpoolRef`` (file, offset, length: about a
hundred bytes) travels; the stage after the join reads the payload back.

A spool file is closed when its bundle finishes, before any reference to it can reach a
join, and a retried bundle writes a file of its own, so a reference always points at
complete bytes; each record carries a CRC (``schemas.codec``). Nothing parked reaches an
output by its location, so outputs do not depend on which bundle parked what. ``m3w build``
removes ``_work/`` once the manifest is written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.utils.windowed_value import WindowedValue

from pipeline.bundles import at_bundle_end
from pipeline.outputs.image_store import WORK_DIR, member_bytes
from pipeline.outputs.work_files import Appender, OpenFiles
from schemas import Document, codec

SPOOL_DIR = f"{WORK_DIR}/spool"
BATCH = 500  # rejects parked together under one reference


@dataclass(frozen=True)
class SpoolRef:
    """Where a parked value's encoding lies."""

    path: str
    offset: int
    length: int


class DamagedSpool(ValueError):
    """A parked value that cannot be read back whole: remove DIR/_work and rerun."""


def spool_root(out_dir: str) -> str:
    return FileSystems.join(out_dir, SPOOL_DIR)


class SpoolWriter:
    """Appends values, encoded, to one spool file, opened at the first value."""

    def __init__(self, root: str) -> None:
        self._out = Appender(root, ".spool")

    def put(self, value: Any) -> SpoolRef:
        data = codec.encode(value)
        return SpoolRef(*self._out.append(data), len(data))

    def close(self) -> None:
        self._out.close()


class SpoolReader:
    """Reads parked values back (spooled values and parked images), keeping the most
    recently used files open."""

    def __init__(self) -> None:
        self._files = OpenFiles()

    def read(self, ref: SpoolRef) -> Any:
        try:
            data = self._files.read(ref.path, ref.offset, ref.length)
        except OSError as exc:
            raise DamagedSpool(f"{ref.path}: {exc}; remove the build's {WORK_DIR}/ folder "
                               f"and rerun") from None
        try:
            return codec.decode(data)
        except ValueError as exc:
            raise DamagedSpool(f"{ref.path} at {ref.offset}: {exc}; remove the build's "
                               f"{WORK_DIR}/ folder and rerun") from None

    def value(self, value: Any) -> Any:
        """``value`` itself, or what it refers to: the value of a SpoolRef, the bytes of a
        parked image's reference (a ``str``)."""
        if isinstance(value, SpoolRef):
            return self.read(value)
        if isinstance(value, str):
            return member_bytes(value, self._files)
        return value

    def close(self) -> None:
        self._files.close()


class _SpoolingFn(beam.DoFn):
    """A DoFn with one spool writer per bundle (``self.spool``), closed when it ends."""

    def __init__(self, root: str) -> None:
        self.root = root

    def start_bundle(self) -> None:
        self.spool = SpoolWriter(self.root)

    def finish_bundle(self) -> Iterable[WindowedValue] | None:
        self.spool.close()
        return None

    def teardown(self) -> None:
        if hasattr(self, "spool"):
            self.spool.close()


class ReadingFn(beam.DoFn):
    """A DoFn that reads parked values (``self.spool``)."""

    def setup(self) -> None:
        self.spool = SpoolReader()

    def finish_bundle(self) -> None:
        self.spool.close()

    def teardown(self) -> None:
        self.spool.close()


class _ParkFn(_SpoolingFn):
    def process(self, doc: Document) -> Iterator[tuple[str, SpoolRef]]:
        yield doc.key, self.spool.put(doc)


def park(docs: beam.PCollection, name: str, out_dir: str) -> beam.PCollection:
    """Documents -> (key, SpoolRef), parked under ``out_dir``'s work folder."""
    return docs | name >> beam.ParDo(_ParkFn(spool_root(out_dir)))


class ParkMembersFn(_SpoolingFn):
    """(group, (sample key, members)) -> the same with every in-memory member (bytes) parked:
    a shard group then carries references only (spooled members and parked images)."""

    def process(self, item: tuple[Any, tuple[str, dict[str, Any]]]) -> Iterator[Any]:
        group, (key, members) = item
        put = self.spool.put
        yield group, (key, {ext: put(v) if isinstance(v, bytes) else v
                            for ext, v in members.items()})


class _ParkBatchesFn(_SpoolingFn):
    """Values -> (key, SpoolRef of a list of up to ``batch`` values with that key), per
    bundle."""

    def __init__(self, root: str, key_of: Callable[[Any], Any], batch: int,
                 values_of: Callable[[Any], Iterable[Any]] | None) -> None:
        super().__init__(root)
        self.key_of, self.batch, self.values_of = key_of, batch, values_of

    def start_bundle(self) -> None:
        super().start_bundle()
        self.pending: dict[Any, list] = {}

    def process(self, element: Any) -> Iterator[tuple[Any, SpoolRef]]:
        for value in (element,) if self.values_of is None else self.values_of(element):
            key = self.key_of(value)
            batch = self.pending.setdefault(key, [])
            batch.append(value)
            if len(batch) >= self.batch:
                del self.pending[key]
                yield key, self.spool.put(batch)

    def finish_bundle(self) -> Iterator[WindowedValue]:
        for key, batch in self.pending.items():
            yield at_bundle_end((key, self.spool.put(batch)))
        self.pending = {}
        self.spool.close()


def one_key(_: Any) -> int:
    """The key of values parked together whatever they are (batches only bound their size)."""
    return 0


def park_batches(values: beam.PCollection, name: str, out_dir: str,
                 key_of: Callable[[Any], Any], batch: int = BATCH,
                 values_of: Callable[[Any], Iterable[Any]] | None = None) -> beam.PCollection:
    """Values -> (key, SpoolRef) of batches of values sharing ``key_of(value)``.
    ``values_of``: the values in one element, for elements that carry several."""
    return values | name >> beam.ParDo(
        _ParkBatchesFn(spool_root(out_dir), key_of, batch, values_of))


class _UnparkBatchesFn(ReadingFn):
    def process(self, item: tuple[Any, SpoolRef]) -> Iterator[Any]:
        yield from self.spool.read(item[1])


def unpark_batches(refs: beam.PCollection, name: str) -> beam.PCollection:
    """(key, SpoolRef of a batch) -> the batches' values read back, one at a time."""
    return refs | name >> beam.ParDo(_UnparkBatchesFn())


def unbatched(refs: Iterable[SpoolRef], spool: SpoolReader) -> Iterator[Any]:
    """The values of parked batches, one at a time."""
    for ref in refs:
        yield from spool.read(ref)

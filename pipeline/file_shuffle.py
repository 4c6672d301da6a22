"""Groups made through sorted run files on the build's filesystem instead of the runner's
shuffle.

Why: a runner that keeps its shuffles in memory (the local one does, decoded, at about twice
the encoded size) holds every grouped record of the build until its consumer runs, so even the
small projections of deduplication (a few dozen records a document) make its memory grow with
the corpus. Here a group is made the way an external sort makes one:

1. each bundle buffers its (key, value) records encoded, per partition (a hash of the key),
   and when the buffers pass ``spill_bytes`` (and when the bundle ends) writes them to one
   run file, ``<root>/<label>/<random>.run``: each partition's records sorted, one partition
   after the other. A run is one partition's part of a file, and only (partition, (file,
   offset, length)) elements go on. One file per spill, not one per partition: the files a
   build creates grow with its bundles, not with bundles times partitions;
2. those few elements cross the runner's GroupByKey: a barrier that carries file names only;
3. one task per partition merges its runs (``heapq.merge``: one record per run in memory) and
   hands each key with its values to the consumer, then the next key.

A combine (``combine``) folds each key's values into an accumulator inside the bundle first,
so a key written by a bundle takes one record, as Beam's combiner lifting does.

``spill_bytes`` is one budget for all the run writers a worker process is running, not one
each: a runner fuses every writer fed by one stream into one stage (near dedup's edges feed two
writers per round of its label propagation, 22 at the default 10 rounds), and buffers of
``spill_bytes`` each would make that stage's memory grow with the number of groups and, until
they fill, with the corpus. When the writers together pass the budget, a writer holding at
least its share spills: the buffers stay within about twice the budget, however many there are.

Memory is the writers' buffers, one open reader per run of the partition being merged (runs per
partition are bundles times spills; past ``max_open_runs`` they are merged in passes first,
so a merge never holds more readers than that) and, while a key is handed over, that
key's values: past ``_IN_MEMORY`` of them they wait in a temporary file, so a hot key (one
soft-404 text on millions of pages) costs disk, not memory. Keys and values are ordered by
their encoding (``schemas.codec``: equal values encode to equal bytes), so what a consumer sees
never depends on bundling, on the number of workers or on a retried bundle (whose files are
never named by an output that counts). The run files live in ``_work/shuffle`` and go with
the rest of ``_work/`` when the build ends.

``Shuffle`` picks the mechanism: ``files`` (above), ``runner`` (Beam's own GroupByKey and
CombinePerKey, the better choice on a service with a managed shuffle), or ``auto``: files on
the local runner, the runner's shuffle elsewhere.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import struct
import tempfile
import threading
import uuid
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from operator import itemgetter
from typing import IO, Any

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.utils.windowed_value import WindowedValue

from pipeline.bundles import at_bundle_end
from pipeline.config import SHUFFLE_MODES
from pipeline.outputs.atomic import atomic_output
from pipeline.outputs.image_store import WORK_DIR
from pipeline.outputs.work_files import MIME
from schemas import codec

SHUFFLE_DIR = f"{WORK_DIR}/shuffle"
_HEAD = struct.Struct(">II")
_RECORD_OVERHEAD = 120  # bytes of Python objects around each buffered record
_IN_MEMORY = 20_000  # values of one key held in memory while it is handed over
_WRITE_CHUNK = 4096  # records joined per write
PARTITIONS, SPILL_MB = 16, 8  # defaults of shuffle.partitions and shuffle.spill_mb
MAX_OPEN_RUNS = 64  # default of shuffle.max_open_runs
Run = tuple[str, int, int]  # (run file, offset, length): one partition's sorted records


class DamagedRun(ValueError):
    """A run file cut short: remove the build's _work/ folder and rerun."""


def partition_of(key: bytes, partitions: int) -> int:
    """The partition of an encoded key: its CRC-32 trailer (``schemas.codec``) is a hash of
    the key that every process computes alike."""
    return int.from_bytes(key[-4:], "big") % partitions


Pairs = Callable[[Any], Iterable[tuple[Any, Any]]]


@dataclass(frozen=True)
class Spread:
    """A stream whose elements each make several (key, value) pairs, by ``fn``: through files
    they are made where the runs are written (one element a document, not one a pair,
    crosses the runner); for the runner's shuffle, by a FlatMap before it. Pass it where a
    stream of pairs goes. ``fn`` None: the elements are the pairs."""

    pcoll: beam.PCollection
    fn: Pairs | None = None


Stream = beam.PCollection | Spread


class _Buffers:
    """The run writers of this process with records buffered (see the module's note on
    ``spill_bytes``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # bundles of a process may run on several threads
        self._writers: weakref.WeakSet[_RunWriterFn] = weakref.WeakSet()

    def join(self, writer: _RunWriterFn) -> None:
        with self._lock:
            self._writers.add(writer)

    def leave(self, writer: _RunWriterFn) -> None:
        with self._lock:
            self._writers.discard(writer)

    def over(self, writer: _RunWriterFn) -> bool:
        """Whether ``writer`` should spill now: the writers together hold ``spill_bytes`` or
        more, and it holds at least its share."""
        budget = writer.spill_bytes
        if writer._size * max(1, len(self._writers)) < budget:
            return False  # below its share: cheap, and the common case
        with self._lock:
            return sum(w._size for w in self._writers) >= budget


_BUFFERS = _Buffers()


class _RunWriterFn(beam.DoFn):
    """Buffers encoded records per partition; writes sorted runs; yields (partition, Run).
    Its elements are (key, value) pairs, or elements ``fan_out`` makes pairs of."""

    def __init__(self, root: str, partitions: int, spill_bytes: int,
                 fan_out: Pairs | None = None) -> None:
        self.root, self.partitions, self.spill_bytes = root, partitions, spill_bytes
        self.fan_out = fan_out

    def _pairs_of(self, element: Any) -> Iterable[tuple[Any, Any]]:
        return (element,) if self.fan_out is None else self.fan_out(element)

    def start_bundle(self) -> None:
        self._parts: dict[int, list[tuple[bytes, bytes]]] = {}
        self._size = 0
        _BUFFERS.join(self)

    def _add(self, key: bytes, value: bytes) -> None:
        self._parts.setdefault(partition_of(key, self.partitions), []).append((key, value))
        self._size += len(key) + len(value) + _RECORD_OVERHEAD

    def _records(self) -> dict[int, list[tuple[bytes, bytes]]]:
        return self._parts

    def _flush(self) -> Iterator[tuple[int, Run]]:
        parts, self._parts, self._size = self._records(), {}, 0
        if not parts:
            return
        path = FileSystems.join(self.root, f"{uuid.uuid4().hex}.run")
        runs = []
        offset = 0
        with FileSystems.create(path, MIME, CompressionTypes.UNCOMPRESSED) as fh:
            for part in sorted(parts):
                records = parts[part]
                records.sort()
                length = write_records(fh, records)
                runs.append((part, (path, offset, length)))
                offset += length
        yield from runs

    def _spill_if_over(self) -> Iterator[tuple[int, Run]]:
        if _BUFFERS.over(self):
            yield from self._flush()

    def finish_bundle(self) -> Iterator[WindowedValue]:
        for out in self._flush():
            yield at_bundle_end(out)
        _BUFFERS.leave(self)


class _GroupWriterFn(_RunWriterFn):
    """Writes every pair."""

    def process(self, element: Any) -> Iterator[tuple[int, Run]]:
        for key, value in self._pairs_of(element):
            self._add(codec.encode(key), codec.encode(value))
        yield from self._spill_if_over()


class _CombineWriterFn(_RunWriterFn):
    """Folds values into one accumulator per key within the bundle before anything is
    written (records are then (key, accumulator))."""

    def __init__(self, root: str, partitions: int, spill_bytes: int, fn: beam.CombineFn,
                 fan_out: Pairs | None = None) -> None:
        super().__init__(root, partitions, spill_bytes, fan_out)
        self.fn = fn

    def start_bundle(self) -> None:
        super().start_bundle()
        self._accs: dict[bytes, Any] = {}

    def process(self, element: Any) -> Iterator[tuple[int, Run]]:
        accs, fn = self._accs, self.fn
        for k, value in self._pairs_of(element):
            key = codec.encode(k)
            acc = accs.get(key)
            if acc is None:
                acc = fn.create_accumulator()
                self._size += len(key) + 2 * _RECORD_OVERHEAD
            accs[key] = fn.add_input(acc, value)
        yield from self._spill_if_over()

    def _records(self) -> dict[int, list[tuple[bytes, bytes]]]:
        accs, self._accs = self._accs, {}
        for key, acc in accs.items():
            self._add(key, codec.encode(self.fn.compact(acc)))
        return self._parts


def record(key: bytes, value: bytes) -> bytes:
    """One record as run files hold it (and a hot key's overflow file, and the sorted runs of
    a reject file)."""
    return _HEAD.pack(len(key), len(value)) + key + value


def write_records(fh: IO[bytes], records: Iterable[tuple[bytes, bytes]]) -> int:
    """Append (key, value) records to ``fh``, ``_WRITE_CHUNK`` of them per write; return
    the bytes written."""
    it = iter(records)
    written = 0
    while chunk := list(itertools.islice(it, _WRITE_CHUNK)):
        data = b"".join(record(k, v) for k, v in chunk)
        fh.write(data)
        written += len(data)
    return written


def records_of(fh: IO[bytes], name: str) -> Iterator[tuple[bytes, bytes]]:
    """The (key, value) records of ``fh`` in file order; a cut record raises DamagedRun."""
    while True:
        head = fh.read(_HEAD.size)
        if not head:
            return
        body = b""
        if len(head) == _HEAD.size:
            klen, vlen = _HEAD.unpack(head)
            body = fh.read(klen + vlen)
        if len(head) < _HEAD.size or len(body) < klen + vlen:
            raise DamagedRun(f"{name} is cut short; remove the build's {WORK_DIR}/ folder "
                             "and rerun")
        yield body[:klen], body[klen:]


class _Section:
    """The ``length`` bytes of ``fh`` from where it stands: one run of a run file."""

    def __init__(self, fh: IO[bytes], length: int) -> None:
        self._fh, self.left = fh, length

    def read(self, n: int) -> bytes:
        data = self._fh.read(min(n, self.left))
        self.left -= len(data)
        return data


def _run_records(run: Run) -> Iterator[tuple[bytes, bytes]]:
    path, offset, length = run
    with FileSystems.open(path, MIME, CompressionTypes.UNCOMPRESSED) as fh:
        fh.seek(offset)
        section = _Section(fh, length)
        yield from records_of(section, path)
        if section.left:  # the file ends where a record would start
            raise DamagedRun(f"{path} is cut short; remove the build's {WORK_DIR}/ folder "
                             "and rerun")


def _merged(runs: Iterable[Run], max_open: int
            ) -> Iterator[tuple[bytes, Iterator[tuple[bytes, bytes]]]]:
    """Every record of a partition's runs in (key, value) order, grouped by key. More than
    ``max_open`` runs are first merged in passes, ``max_open`` at a time, into runs beside
    them: a reader per run is what a merge holds (a read buffer each on an object store)."""
    runs = sorted(runs)
    while len(runs) > max_open:
        runs = [_merge_into_run(runs[i: i + max_open]) for i in range(0, len(runs), max_open)]
    merged = heapq.merge(*(_run_records(r) for r in runs))
    return itertools.groupby(merged, key=itemgetter(0))


def _merge_into_run(runs: list[Run]) -> Run:
    """One run holding every record of ``runs``, in a file named after them: a retried merge
    writes the same file from the same inputs, which stay until ``_work/`` goes."""
    folder = runs[0][0].rsplit("/", 1)[0]
    name = hashlib.blake2b(repr(runs).encode(), digest_size=16).hexdigest()
    out = f"{folder}/merged-{name}.run"
    merged = heapq.merge(*(_run_records(r) for r in runs))
    with atomic_output(out, durable=False) as fh:
        length = write_records(fh, merged)
    return out, 0, length


class GroupValues:
    """One key's values, iterable any number of times; past ``_IN_MEMORY`` values the rest
    wait encoded in a temporary file. ``nbytes`` (their encodings' total) sizes the group
    without decoding it: see ``pipeline.coders.GroupValuesCoder``."""

    def __init__(self, records: Iterable[tuple[bytes, bytes]]) -> None:
        self._mem: list[bytes] = []
        self._file: Any = None
        self.count = self.nbytes = 0
        for _, value in records:
            self.count += 1
            self.nbytes += len(value)
            if self._file is None and len(self._mem) < _IN_MEMORY:
                self._mem.append(value)
                continue
            if self._file is None:
                self._file = tempfile.TemporaryFile()
            self._file.write(record(b"", value))

    def encodings(self) -> Iterator[bytes]:
        """The values as ``schemas.codec`` encodes them, in order."""
        yield from self._mem
        if self._file is not None:
            self._file.seek(0)
            for _, value in records_of(self._file, "a hot key's overflow file"):
                yield value

    def __iter__(self) -> Iterator[Any]:
        return map(codec.decode, self.encodings())

    def __reduce__(self) -> tuple[Any, tuple[list[Any]]]:
        return list, (list(self),)  # crossing a stage boundary: plain values

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class _GroupReaderFn(beam.DoFn):
    def __init__(self, max_open: int, min_values: int = 1) -> None:
        self.max_open, self.min_values = max_open, min_values

    def process(self, item: tuple[int, Iterable[Run]]) -> Iterator[tuple[Any, GroupValues]]:
        for key, records in _merged(item[1], self.max_open):
            values = GroupValues(records)
            try:
                if values.count >= self.min_values:
                    yield codec.decode(key), values
            finally:
                values.close()


class _CombineReaderFn(beam.DoFn):
    """Merges each key's accumulators; ``keep`` (of the output) drops a key in the merge,
    before its key is decoded or an element is made for it."""

    def __init__(self, fn: beam.CombineFn, max_open: int,
                 keep: Callable[[Any], bool] | None = None) -> None:
        self.fn, self.max_open, self.keep = fn, max_open, keep

    def process(self, item: tuple[int, Iterable[Run]]) -> Iterator[tuple[Any, Any]]:
        keep = self.keep
        for key, records in _merged(item[1], self.max_open):
            out = self.fn.extract_output(
                self.fn.merge_accumulators(codec.decode(v) for _, v in records))
            if keep is None or keep(out):
                yield codec.decode(key), out


class _Only(beam.CombineFn):
    """Keeps nothing: a key's presence is the result (Distinct)."""

    def create_accumulator(self) -> None:
        return None

    def add_input(self, acc: None, value: Any) -> None:
        return None

    def merge_accumulators(self, accs: Iterable[None]) -> None:
        for _ in accs:
            pass
        return None

    def extract_output(self, acc: None) -> None:
        return None


class Shuffle:
    """How the build makes its groups: through run files under ``root`` (``files``) or
    through the runner's shuffle (``root`` None). Used while the graph is built."""

    def __init__(self, root: str | None, partitions: int = PARTITIONS,
                 spill_bytes: int = SPILL_MB << 20, max_open_runs: int = MAX_OPEN_RUNS) -> None:
        self.root, self.partitions, self.spill_bytes = root, partitions, spill_bytes
        self.max_open_runs = max_open_runs

    @classmethod
    def of(cls, cfg: dict[str, Any], out_dir: str, local: bool = True) -> Shuffle:
        """The shuffle ``cfg["shuffle"]`` asks for; ``auto`` takes files on a local runner."""
        scfg = cfg.get("shuffle", {})
        mode = scfg.get("mode", "auto")
        if mode not in SHUFFLE_MODES:
            raise ValueError(f"shuffle.mode must be one of {', '.join(SHUFFLE_MODES)}, "
                             f"got {mode!r}")
        if mode == "runner" or (mode == "auto" and not local):
            return RUNNER
        return cls(FileSystems.join(out_dir, SHUFFLE_DIR),
                   int(scfg.get("partitions", PARTITIONS)),
                   int(scfg.get("spill_mb", SPILL_MB)) << 20,
                   int(scfg.get("max_open_runs", MAX_OPEN_RUNS)))

    @property
    def files(self) -> bool:
        return self.root is not None

    def group(self, label: str, *streams: Stream, min_values: int = 1) -> beam.PCollection:
        """Streams of (key, value) -> (key, iterable of every value with that key). Pass
        streams made in different stages separately, not flattened (see ``combine``).

        ``min_values``: keys with fewer values are dropped, never handed on (a similarity
        bucket of one document is most buckets, and has nothing to compare)."""
        if not self.files:
            grouped = (_flat(label, _pairs(label, streams))
                       | f"{label}Group" >> beam.GroupByKey())
            if min_values > 1:
                grouped = grouped | f"{label}AtLeast" >> beam.Filter(
                    lambda kv: sum(1 for _ in itertools.islice(kv[1], min_values)) >= min_values)
            return grouped
        grouped = self._through_runs(label, streams, lambda root, pairs: _GroupWriterFn(
            root, self.partitions, self.spill_bytes, pairs),
            _GroupReaderFn(self.max_open_runs, min_values))
        # Set here, as the build turns type inference off: the groups' coder is then
        # pipeline.coders.GroupValuesCoder, which sizes a group without decoding it.
        grouped.element_type = beam.typehints.Tuple[Any, GroupValues]
        return grouped

    def combine(self, label: str, streams: Stream | tuple[Stream, ...],
                fn: Any) -> beam.PCollection:
        """(key, value) streams -> (key, ``fn`` over the key's values): a CombinePerKey.

        Several streams are written to runs each where it is made: a Flatten of streams made
        in different stages would be held whole by the local runner."""
        streams = streams if isinstance(streams, tuple) else (streams,)
        if not self.files:
            return _flat(label, _pairs(label, streams)) | label >> beam.CombinePerKey(fn)
        fn = beam.CombineFn.maybe_from_callable(fn)
        return self._through_runs(label, streams, lambda root, pairs: _CombineWriterFn(
            root, self.partitions, self.spill_bytes, fn, pairs),
            _CombineReaderFn(fn, self.max_open_runs))

    def distinct(self, label: str, pcoll: beam.PCollection) -> beam.PCollection:
        if not self.files:
            return pcoll | label >> beam.Distinct()
        keyed = pcoll | f"{label}Keys" >> beam.Map(lambda x: (x, None))
        return (self.combine(label, keyed, _Only())
                | f"{label}Only" >> beam.Map(lambda kv: kv[0]))

    def count(self, label: str, stream: Stream, at_least: int = 1) -> beam.PCollection:
        """(key, value) -> (key, number of values), for the keys with ``at_least`` values
        (through files, the others are dropped in the merge: most keys of a corpus-wide
        count are said once)."""
        if not self.files:
            (pairs,) = _pairs(label, (stream,))
            counts = pairs | label >> beam.combiners.Count.PerKey()
            if at_least <= 1:
                return counts
            return counts | f"{label}AtLeast" >> beam.Filter(lambda kv: kv[1] >= at_least)
        fn = beam.combiners.CountCombineFn()
        keep = None if at_least <= 1 else (lambda n: n >= at_least)
        return self._through_runs(label, (stream,), lambda root, pairs: _CombineWriterFn(
            root, self.partitions, self.spill_bytes, fn, pairs),
            _CombineReaderFn(fn, self.max_open_runs, keep))

    def _through_runs(self, label: str, streams: tuple[Stream, ...],
                      writer: Callable[[str, Pairs | None], beam.DoFn],
                      reader: beam.DoFn) -> beam.PCollection:
        root = FileSystems.join(self.root, label)
        runs = tuple(st.pcoll | f"{label}Spill{i}" >> beam.ParDo(writer(root, st.fn))
                     for i, st in enumerate(map(_spread, streams)))
        return (_flat(f"{label}Runs", runs) | f"{label}Barrier" >> beam.GroupByKey()
                | f"{label}Merge" >> beam.ParDo(reader))


def _spread(stream: Stream) -> Spread:
    return stream if isinstance(stream, Spread) else Spread(stream)


def _pairs(label: str, streams: tuple[Stream, ...]) -> tuple[beam.PCollection, ...]:
    """The streams as PCollections of pairs, a Spread's made by a FlatMap."""
    return tuple(st.pcoll if st.fn is None
                 else st.pcoll | f"{label}FanOut{i}" >> beam.FlatMap(st.fn)
                 for i, st in enumerate(map(_spread, streams)))


def _flat(label: str, pcolls: tuple[beam.PCollection, ...]) -> beam.PCollection:
    """One stream, or the Flatten of several (labelled ``<label>Flatten``)."""
    if len(pcolls) == 1:
        return pcolls[0]
    return pcolls | f"{label}Flatten" >> beam.Flatten()


def marked(pcoll: beam.PCollection, label: str, marker: Any) -> beam.PCollection:
    """(key, value) -> (key, (marker, value)): streams sharing one group told apart."""
    return pcoll | label >> beam.MapTuple(lambda key, value: (key, (marker, value)))


RUNNER = Shuffle(None)  # the runner's own shuffle

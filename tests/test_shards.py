"""Shard and reject writing: streamed, reproducible, grouped by input without a global count,
and published so that a reader never sees a partial or a missing file."""

from __future__ import annotations

import gc
import io
import json
import os
import random
import tarfile
import threading
from pathlib import Path
from types import SimpleNamespace

import apache_beam as beam
import pyarrow.parquet as pq
import pytest
import webdataset as wds
from apache_beam.io.filesystem import FileSystem

from pipeline.outputs import atomic, reject_files
from pipeline.outputs.atomic import TMP_MARK, atomic_output, write_atomic
from pipeline.outputs.reject_files import WriteRejects, write_reject_file
from pipeline.outputs.shards import WriteShards, input_group, sample_input, shard_name
from pipeline.outputs.summary import TopDomains, with_top_domains
from pipeline.outputs.tar import _member_order, read_samples, tar_info, write_group
from schemas import Reject


def tar_bytes(samples) -> bytes:
    """The plain in-memory tar of the samples in the order given: the reference the streamed
    shards must equal byte for byte."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for key, members in samples:
            for ext in sorted(members, key=_member_order):
                data = members[ext]
                tar.addfile(tar_info(f"{key}.{ext}", len(data)), io.BytesIO(data))
    return buf.getvalue()


def _sample(i: int, group: str = "") -> tuple[str, dict[str, bytes]]:
    meta = {"meta": {"source_id": f"{group}#{i}"}} if group else {}
    return f"k{i:04d}", {"json": json.dumps({"i": i, **meta}).encode(),
                         "000.jpg": bytes([i % 251]) * (100 + i), "txt": b"t" * (i % 7)}


def test_group_is_streamed_sorted_and_split_reproducibly(tmp_path):
    samples = [_sample(i) for i in range(25)]
    shuffled = samples[:]
    random.Random(1).shuffle(shuffled)
    a = write_group(str(tmp_path / "a"), iter(samples), lambda p: f"s-{p}.tar", 10, 10**9)
    b = write_group(str(tmp_path / "b"), iter(shuffled), lambda p: f"s-{p}.tar", 10, 10**9)
    assert b == a
    assert [(i.path, i.samples) for i in a] == [("s-0.tar", 10), ("s-1.tar", 10),
                                                ("s-2.tar", 5)]
    for info in a:
        data = (tmp_path / "a" / info.path).read_bytes()
        assert data == (tmp_path / "b" / info.path).read_bytes()
        assert info.bytes == len(data)
    # the same bytes as packing the sorted samples in memory: mtime 0, json member first
    assert (tmp_path / "a" / "s-0.tar").read_bytes() == tar_bytes(samples[:10])
    got = list(wds.WebDataset([str(tmp_path / "a" / i.path) for i in a], shardshuffle=False))
    assert [s["__key__"] for s in got] == [k for k, _ in samples]
    assert got[3]["000.jpg"] == samples[3][1]["000.jpg"]
    assert not [p for p in tmp_path.rglob("*") if TMP_MARK in p.name]


def test_parts_are_cut_by_payload_bytes(tmp_path):
    samples = [(f"k{i}", {"bin": b"x" * 400}) for i in range(5)]
    infos = write_group(str(tmp_path), samples, lambda p: f"p{p}.tar", 100, 1000)
    assert [i.samples for i in infos] == [2, 2, 1]


def test_a_dotted_key_is_refused(tmp_path):
    with pytest.raises(ValueError, match="contains a dot"):
        write_group(str(tmp_path), [("a.b", {"json": b"{}"})], lambda p: "x.tar", 10, 10)


def test_groups_come_from_inputs():
    assert input_group("/data/cc/part-0.warc.gz") == "part-0.warc.gz"
    assert input_group("fetch-0123abcd.warc.gz") == "fetched"
    assert input_group("https://example.com/page") == "fetched"
    assert sample_input(_sample(3, "/lists/pairs.jsonl")) == "pairs.jsonl"
    assert sample_input(_sample(3)) == "unknown"
    name = shard_name("image_text", "pairs.jsonl", 2, 11)
    assert name.startswith("shards/image_text/image_text-pairs_jsonl-")
    assert name.endswith("-002-00011.tar")
    assert shard_name("s", "a.b", 0, 0) != shard_name("s", "a_b", 0, 0)


def _collect(pcoll: beam.PCollection, path: Path) -> None:
    """Write a PCollection's elements to a JSON file (the pipeline runs out of this process'
    reach for plain lists)."""
    _ = (pcoll | "ToList" >> beam.combiners.ToList()
         | "Dump" >> beam.Map(lambda xs: path.write_text(json.dumps(xs, default=vars))))


def _run_shards(out: Path, samples: list, buckets: int) -> list:
    with beam.Pipeline("FnApiRunner") as p:
        infos = (p | beam.Create(samples)
                 | WriteShards(str(out), "image_text", 4, 10**9, buckets_per_input=buckets))
        _collect(infos, out / "infos.json")
    found = [(s, SimpleNamespace(**i)) for s, i in json.loads((out / "infos.json").read_text())]
    return sorted(found, key=lambda si: si[1].path)


def test_shards_pipeline_needs_no_global_count_and_never_mixes_inputs(tmp_path):
    samples = [_sample(i, f"list-{i % 3}.jsonl") for i in range(40)]
    infos = _run_shards(tmp_path / "a", samples, 2)
    assert sum(i.samples for _, i in infos) == 40
    for _, info in infos:
        got = list(wds.WebDataset(str(tmp_path / "a" / info.path), shardshuffle=False))
        groups = {json.loads(s["json"])["meta"]["source_id"].split("#")[0] for s in got}
        assert len(groups) == 1 and next(iter(groups)).replace(".", "_") in info.path
    again = _run_shards(tmp_path / "b", list(reversed(samples)), 2)
    assert [i.path for _, i in again] == [i.path for _, i in infos]
    for _, info in infos:
        assert (tmp_path / "a" / info.path).read_bytes() == \
            (tmp_path / "b" / info.path).read_bytes()


def _side_inputs(p: beam.Pipeline, under: str) -> list[str]:
    proto = p.to_runner_api()
    found = []
    for t in proto.components.transforms.values():
        if t.unique_name.startswith(under) and t.spec.urn == "beam:transform:pardo:v1":
            from apache_beam.portability.api import beam_runner_api_pb2

            payload = beam_runner_api_pb2.ParDoPayload.FromString(t.spec.payload)
            found += [t.unique_name] * len(payload.side_inputs)
    return found


def test_shard_and_reject_writers_wait_on_no_global_side_input(tmp_path):
    p = beam.Pipeline("FnApiRunner")
    _ = p | "S" >> beam.Create([_sample(1)]) | "Shards" >> WriteShards(str(tmp_path), "s", 2, 9)
    _ = (p | "R" >> beam.Create([Reject("a", "image", "f/v1", "r")])
         | "Rejects" >> WriteRejects(str(tmp_path)))
    names = [t.unique_name for t in p.to_runner_api().components.transforms.values()]
    assert any(n.startswith("Shards/") for n in names)
    assert _side_inputs(p, "Shards/") == [] and _side_inputs(p, "Rejects/") == []


def test_reject_files_stream_row_groups_in_an_order_of_their_own(tmp_path, monkeypatch):
    monkeypatch.setattr(reject_files, "ROW_GROUP", 7)
    rows = [Reject(f"f.warc.gz@{i}", "image", "image_check/v1", "too_small",
                   float(i) if i % 3 else None, f"http://x/{i}", "d\udcff" if i == 5 else "")
            for i in range(30)]
    assert write_reject_file(str(tmp_path / "a.parquet"), rows) == 30
    assert write_reject_file(str(tmp_path / "b.parquet"), rows[::-1]) == 30
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
    f = pq.ParquetFile(tmp_path / "a.parquet")
    assert f.metadata.num_row_groups == 5
    table = f.read().to_pylist()
    assert sorted(r["source"] for r in table) == sorted(r.source for r in rows)
    assert {r["value"] for r in table} == {r.value for r in rows}


def test_a_reject_file_sorted_in_many_runs_is_the_file_sorted_in_one(tmp_path, monkeypatch):
    rows = [Reject(f"f.warc.gz@{i % 23}", "image", "image_check/v1", "too_small", float(i),
                   f"http://x/{i % 11}", "") for i in range(60)]
    rows += rows[:5]  # identical rows stay, side by side
    assert write_reject_file(str(tmp_path / "one.parquet"), rows) == 65
    monkeypatch.setattr(reject_files, "RUN_ROWS", 4)  # 17 runs merged
    assert write_reject_file(str(tmp_path / "runs.parquet"), rows[::-1]) == 65
    assert (tmp_path / "one.parquet").read_bytes() == (tmp_path / "runs.parquet").read_bytes()
    got = pq.ParquetFile(tmp_path / "runs.parquet").read().to_pylist()
    assert sorted((r["source"], r["value"]) for r in got) == sorted(
        (r.source, r.value) for r in rows)


def test_reject_files_are_per_stage_and_bucket(tmp_path):
    rows = [Reject(f"s{i}", stage, "f/v1", "r") for i in range(20) for stage in ("read", "image")]
    with beam.Pipeline("FnApiRunner") as p:
        _ = p | beam.Create(rows) | WriteRejects(str(tmp_path), buckets=3)
    files = sorted(os.listdir(tmp_path / "rejects"))
    assert {f.split("-")[1] for f in files} == {"read", "image"} and len(files) <= 6
    table = pq.read_table(str(tmp_path / "rejects")).to_pylist()
    assert len(table) == 40
    for name in files:
        stages = set(pq.read_table(tmp_path / "rejects" / name).column("stage").to_pylist())
        assert stages == {name.split("-")[1]}


def test_top_domains_is_combined_per_host_with_stable_ties(tmp_path):
    hosts = ["b.org"] * 3 + ["a.org"] * 3 + ["c.org"] * 5 + [f"h{i}.net" for i in range(50)]
    with beam.Pipeline("FnApiRunner") as p:
        top = p | beam.Create([(1, 10, 1, h, "en") for h in hosts]) | TopDomains(3)
        _collect(top, tmp_path / "top.json")
    found = json.loads((tmp_path / "top.json").read_text())
    assert with_top_domains({}, found[0])["top_domains"] == [["c.org", 5], ["a.org", 3],
                                                             ["b.org", 3]]


def test_publishing_never_leaves_a_gap_or_a_part(tmp_path):
    path = tmp_path / "f.json"
    old, new = b"A" * 20_000, b"B" * 30_000
    write_atomic(str(path), old)
    seen, stop = [], threading.Event()

    def reader():
        while not stop.is_set():
            try:
                seen.append(len(path.read_bytes()))
            except FileNotFoundError:
                seen.append(-1)

    t = threading.Thread(target=reader)
    t.start()
    for i in range(200):  # delete-then-rename shows a gap here within a few dozen rounds
        write_atomic(str(path), new if i % 2 == 0 else old)
    stop.set()
    t.join()
    assert seen and set(seen) <= {len(old), len(new)}
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]


def test_a_failed_write_publishes_nothing(tmp_path):
    path = tmp_path / "shard.tar"
    with pytest.raises(RuntimeError):
        with atomic_output(str(path)) as fh:
            fh.write(b"partial")
            raise RuntimeError("disk on fire")
    assert list(tmp_path.iterdir()) == []


class _UploadStore:
    """An object store in memory: an object exists only once its upload is closed, as on
    gs:// and s3://; renames are copies."""

    objects: dict[str, bytes] = {}
    renames = 0


class _Upload(io.BytesIO):
    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path

    def close(self) -> None:  # completes the upload, whatever was written
        if not self.closed:
            _UploadStore.objects[self.path] = self.getvalue()
        super().close()

    def __del__(self) -> None:  # like io.IOBase: an upload left open closes when collected
        self.close()


class _MemStoreFileSystem(FileSystem):
    @classmethod
    def scheme(cls) -> str:
        return "memstore"

    def create(self, path, mime_type="application/octet-stream", compression_type=None):
        return _Upload(path)

    def exists(self, path):
        return path in _UploadStore.objects

    def rename(self, sources, destinations):
        _UploadStore.renames += 1
        raise AssertionError("an object store write must not rename")

    def join(self, base, *parts):
        return "/".join([base.rstrip("/"), *parts])


for _name in _MemStoreFileSystem.__abstractmethods__:
    setattr(_MemStoreFileSystem, _name, lambda *a, **k: None)
_MemStoreFileSystem.__abstractmethods__ = frozenset()


def test_object_store_objects_appear_whole_under_their_final_name(monkeypatch, tmp_path):
    monkeypatch.setattr(atomic, "OBJECT_STORES", ("memstore://",))
    _UploadStore.objects.clear()
    path = "memstore://bucket/shards/s/a.tar"
    with atomic_output(path) as fh:
        fh.write(b"x" * 10)
        assert path not in _UploadStore.objects  # nothing visible mid-upload
    assert _UploadStore.objects == {path: b"x" * 10}
    with pytest.raises(RuntimeError):
        with atomic_output("memstore://bucket/b.tar") as fh:
            fh.write(b"partial")
            raise RuntimeError("killed")
    del fh
    gc.collect()
    assert list(_UploadStore.objects) == [path]  # the failed upload never became an object
    infos = write_group("memstore://bucket", [_sample(1), _sample(2)], lambda p: f"p{p}.tar",
                        10, 10**9)
    assert _UploadStore.objects["memstore://bucket/p0.tar"] == tar_bytes([_sample(1),
                                                                            _sample(2)])
    assert infos[0].bytes == len(_UploadStore.objects["memstore://bucket/p0.tar"])
    assert _UploadStore.renames == 0


def test_a_shard_cut_at_or_inside_a_header_is_an_error_not_a_shorter_shard(tmp_path):
    samples = [(f"k{i:03d}", {"json": b"{}", "jpg": bytes([i]) * 3000}) for i in range(20)]
    (info,) = write_group(str(tmp_path), samples, lambda p: f"s{p}.tar", 100, 10**9)
    path = tmp_path / info.path
    data = path.read_bytes()
    assert [k for k, _ in read_samples(str(path))] == [k for k, _ in samples]
    with tarfile.open(path) as tar:
        header = tar.getmembers()[10].offset
    for cut in (header, header + 100):  # tarfile alone ends there quietly, five samples read
        path.write_bytes(data[:cut])
        with pytest.raises(tarfile.ReadError, match="cut short"):
            list(read_samples(str(path), wanted=lambda k: k < "k002"))

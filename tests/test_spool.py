"""Parked payload (pipeline.outputs.spool) and per-bundle funnel counts (pipeline.label_counts),
through real Beam pipelines on the local runner."""

from __future__ import annotations

import glob
import json
import os
from collections import Counter

import apache_beam as beam
import pytest

from pipeline import coders
from pipeline.label_counts import count_labels
from pipeline.outputs.reject_files import WriteRejects
from pipeline.outputs.shards import WriteShards
from pipeline.outputs.spool import (
    BATCH,
    SPOOL_DIR,
    DamagedSpool,
    SpoolReader,
    SpoolWriter,
    park,
    park_batches,
    unbatched,
    unpark_batches,
)
from pipeline.outputs.tar import read_samples
from schemas import Document, ImageNode, Reject, TextNode

coders.register()


def _doc(i: int) -> Document:
    nodes = [TextNode(text=f"paragraph {i} " + "word " * (i % 50)),
             ImageNode(src=f"http://h{i % 7}.example/{i}.jpg", alt="é\u0301 alt"),
             TextNode(text="\ud800 lone surrogate kept" if i % 3 == 0 else "plain")]
    return Document(key=f"doc{i:05d}", url=f"http://h{i % 7}.example/p{i}", nodes=nodes,
                    meta={"n": i, "nested": {"k": [i, None, 1.5]}})


def test_values_come_back_exactly(tmp_path):
    writer = SpoolWriter(str(tmp_path))
    values = [_doc(i) for i in range(40)] + [b"\x00\xff" * 1000, ["a", 1, None], b""]
    refs = [writer.put(v) for v in values]
    writer.close()
    assert len({r.path for r in refs}) == 1  # one file per writer
    reader = SpoolReader()
    try:
        # out of order, and every one twice: references are random-access
        for ref, value in list(zip(refs, values))[::-1] * 2:
            back = reader.read(ref)
            assert back == value
            assert type(back) is type(value)
    finally:
        reader.close()


def test_a_damaged_or_missing_spool_names_its_file(tmp_path):
    writer = SpoolWriter(str(tmp_path))
    ref = writer.put(_doc(1))
    writer.close()
    with open(ref.path, "r+b") as fh:
        fh.seek(ref.offset + ref.length // 2)
        byte = fh.read(1)
        fh.seek(ref.offset + ref.length // 2)
        fh.write(bytes([byte[0] ^ 0xFF]))
    reader = SpoolReader()
    with pytest.raises(DamagedSpool, match=os.path.basename(ref.path)):
        reader.read(ref)
    os.remove(ref.path)
    with pytest.raises(DamagedSpool, match="_work"):
        SpoolReader().read(ref)


class _ReadBack(beam.DoFn):
    def process(self, item):
        reader = SpoolReader()
        try:
            yield reader.read(item[1])
        finally:
            reader.close()


@pytest.mark.parametrize("batched", [False, True])
def test_park_then_group_then_read_back_keeps_every_document(tmp_path, batched):
    docs = [_doc(i) for i in range(300)]
    out = tmp_path / "got.json"
    with beam.Pipeline() as p:
        created = p | beam.Create(docs)
        if batched:  # as before the Flatten of the build's branches: 7 documents a reference
            refs = park_batches(created, "Park", str(tmp_path), lambda d: 0, 7)
            back = unpark_batches(refs | beam.Reshuffle(), "Unpark")
        else:  # as before dedup's and the image stage's joins: one reference a document
            refs = park(created, "Park", str(tmp_path))
            back = refs | beam.Reshuffle() | beam.ParDo(_ReadBack())
        _ = (back
             | beam.Map(lambda d: json.dumps(d.to_dict(), sort_keys=True))
             | beam.combiners.ToList()
             | beam.Map(lambda rows: out.write_text(json.dumps(rows))))
    # every document once: none lost, none read twice
    assert sorted(json.loads(out.read_text())) == sorted(
        json.dumps(d.to_dict(), sort_keys=True) for d in docs)
    assert glob.glob(str(tmp_path / SPOOL_DIR / "*.spool"))


def test_batches_hold_at_most_batch_values_and_lose_none(tmp_path):
    values = [(f"k{i % 3}", i) for i in range(2 * BATCH + 123)]
    out = tmp_path / "batches.json"

    def collect(group):
        key, refs = group
        reader = SpoolReader()
        sizes = [len(reader.read(r)) for r in refs]
        got = sorted(v[1] for v in unbatched(refs, reader))
        reader.close()
        return key, sizes, got

    with beam.Pipeline() as p:
        _ = (park_batches(p | beam.Create(values), "Batch", str(tmp_path), lambda v: v[0])
             | beam.GroupByKey() | beam.Map(collect) | beam.combiners.ToList()
             | beam.Map(lambda rows: out.write_text(json.dumps(rows))))
    rows = {key: (sizes, got) for key, sizes, got in json.loads(out.read_text())}
    assert set(rows) == {"k0", "k1", "k2"}
    for key, (sizes, got) in rows.items():
        assert max(sizes) <= BATCH
        assert got == sorted(i for k, i in values if k == key)


def _sample(i: int) -> tuple[str, dict[str, bytes]]:
    return f"s{i:04d}", {"json": json.dumps({"i": i}).encode(), "000.jpg": bytes([i % 256]) * i}


@pytest.mark.parametrize("buckets", [1, 3])
def test_parked_shard_members_write_the_same_tars(tmp_path, buckets):
    samples = [_sample(i) for i in range(60)]
    for park_members in (True, False):
        out = tmp_path / str(park_members)
        with beam.Pipeline() as p:
            _ = (p | beam.Create(samples)
                 | WriteShards(str(out), "image_text", 7, 10**9, buckets_per_input=buckets,
                               group_fn=lambda s: "list.jsonl", park=park_members))
    parked = sorted(glob.glob(str(tmp_path / "True" / "shards" / "*" / "*.tar")))
    plain = sorted(glob.glob(str(tmp_path / "False" / "shards" / "*" / "*.tar")))
    assert [os.path.basename(f) for f in parked] == [os.path.basename(f) for f in plain]
    for a, b in zip(parked, plain):
        with open(a, "rb") as fa, open(b, "rb") as fb:
            assert fa.read() == fb.read()
    got = {k: m for f in parked for k, m in read_samples(f)}
    assert got == dict(samples)


def test_rejects_from_several_streams_are_all_written(tmp_path):
    import pyarrow.parquet as pq

    rows = [Reject(source=f"doc{i}", stage="filter" if i % 2 else "dedup", filter="f/v1",
                   reason=f"r{i % 5}", value=float(i), url=f"http://x/{i}")
            for i in range(2 * BATCH + 77)]
    with beam.Pipeline() as p:
        a = p | "A" >> beam.Create(rows[: BATCH + 10])
        b = p | "B" >> beam.Create(rows[BATCH + 10:])
        _ = (a, b) | WriteRejects(str(tmp_path), buckets=3)
    files = glob.glob(str(tmp_path / "rejects" / "*.parquet"))
    table = [r for f in files for r in pq.read_table(f).to_pylist()]
    assert sorted(r["source"] for r in table) == sorted(r.source for r in rows)
    assert Counter(r["stage"] for r in table) == Counter(r.stage for r in rows)


def test_counts_per_bundle_equal_counting_each_element(tmp_path):
    items = list(range(1000))
    out = tmp_path / "counts.json"

    def counts_of(i: int):
        yield ("mod3", str(i % 3)), 1
        yield ("weight", ""), i
        if i % 7 == 0:
            yield ("zero", ""), 0

    with beam.Pipeline() as p:
        _ = (count_labels(p | beam.Create(items) | beam.Reshuffle(), "Count", counts_of)
             | beam.CombinePerKey(sum) | beam.combiners.ToList()
             | beam.Map(lambda kv: out.write_text(json.dumps(sorted(kv)))))
    want = Counter()
    for i in items:
        for label, n in counts_of(i):
            want[label] += n
    got = {tuple(k): v for k, v in json.loads(out.read_text())}
    assert got == {k: want[k] for k in want} | {("zero", ""): 0}

"""The record coders round-trip every field exactly, are deterministic and compact, and are
the ones Beam uses for the build's untyped and typed PCollections."""

from __future__ import annotations

import dataclasses
import json
import marshal
import math
import pickle
import struct
import zlib
from typing import Any

import apache_beam as beam
import pytest
from apache_beam.coders import coders as beam_coders
from apache_beam.coders import typecoders
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline import coders
from schemas import Document, ImageNode, ImageTextPair, Reject, TextNode, VideoTextPair, codec
from scrapers.warc_read import WebRecord

coders.register()

SURROGATES = st.sampled_from(["\udcff", "a\ud800b", "caf\udce9"])
TEXT = st.text(max_size=40) | SURROGATES | st.text(alphabet="0123456789abcdef", min_size=16,
                                                     max_size=70)
OPT_INT = st.none() | st.integers(min_value=-(2**70), max_value=2**70)
FLOATS = st.floats(allow_nan=False) | st.just(-0.0) | st.just(math.inf)
LEAF = st.none() | st.booleans() | OPT_INT | FLOATS | TEXT | st.binary(max_size=30)
META = st.dictionaries(TEXT, st.recursive(
    LEAF, lambda kids: st.lists(kids, max_size=3) | st.tuples(kids, kids)
    | st.dictionaries(TEXT, kids, max_size=3), max_leaves=8), max_size=4)

TEXT_NODES = st.builds(TextNode, text=TEXT, tag=TEXT)
IMAGE_NODES = st.builds(ImageNode, src=TEXT, alt=TEXT, caption=TEXT, width=OPT_INT,
                        height=OPT_INT, member=st.none() | TEXT, sha256=st.none() | TEXT)
DOCUMENTS = st.builds(Document, url=TEXT, nodes=st.lists(TEXT_NODES | IMAGE_NODES, max_size=6),
                      title=TEXT, crawl_date=TEXT, source_file=TEXT, source_offset=OPT_INT,
                      language=TEXT, key=TEXT, meta=META)
REJECTS = st.builds(Reject, source=TEXT, stage=TEXT, filter=TEXT, reason=TEXT,
                    value=st.none() | FLOATS, url=TEXT, detail=TEXT)
RECORDS = st.builds(WebRecord, kind=TEXT, url=TEXT, source=TEXT, offset=OPT_INT, date=TEXT,
                    mime=TEXT, content_type=TEXT, status=OPT_INT,
                    payload=st.none() | st.binary(max_size=200), reason=st.none() | TEXT,
                    detail=TEXT, headers=st.dictionaries(TEXT, TEXT, max_size=4))


def _same(a: Any, b: Any) -> None:
    """Equal, with equal types all the way down (a tuple must not come back as a list) and
    -0.0 kept apart from 0.0."""
    assert type(a) is type(b)
    if isinstance(a, float):
        assert math.copysign(1, a) == math.copysign(1, b) and a == b
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    elif isinstance(a, dict):
        assert list(a) == list(b)  # insertion order too
        for k in a:
            _same(a[k], b[k])
    elif hasattr(a, "__dataclass_fields__"):
        for name in a.__dataclass_fields__:
            _same(getattr(a, name), getattr(b, name))
    else:
        assert a == b


@settings(max_examples=150, deadline=None)
@given(DOCUMENTS | REJECTS | RECORDS)
def test_records_round_trip_exactly_and_deterministically(record):
    blob = codec.encode(record)
    _same(codec.decode(blob), record)
    assert codec.encode(codec.decode(blob)) == blob
    coder = typecoders.registry.get_coder(type(record))
    assert isinstance(coder, coders.RecordCoder) and coder.is_deterministic()
    _same(coder.decode(coder.encode(record)), record)


@settings(max_examples=60, deadline=None)
@given(st.tuples(st.text(max_size=20), DOCUMENTS,  # Beam's own str encoding refuses surrogates
                 st.dictionaries(st.text(max_size=5), st.binary(max_size=20), max_size=3)))
def test_untyped_elements_encode_records_inside_tuples(element):
    coder = typecoders.registry.get_coder(Any)
    assert isinstance(coder, coders.BuildPrimitivesCoder)
    blob = coder.encode(element)
    _same(coder.decode(blob), element)
    assert b"schemas.document" not in blob  # no pickled class path


def test_pairs_and_unknown_objects_round_trip():
    pair = ImageTextPair(key="ab" * 12, caption="c", width=3, meta={"x": (1, 2)})
    video = VideoTextPair(key="k", caption="v", timestamps=[0.0, 1.0])
    odd = {"s": {1, 2}, "c": complex(1, 2)}  # not a registered record: pickled
    for value in (pair, video, odd, [pair, odd]):
        _same(codec.decode(codec.encode(value)), value)


def _reference_tree(v: Any) -> Any:
    """The encoding's plain tree, written out the slow, obvious way: the compiled per-class
    encoders must produce exactly this, or bytes (and so shuffle order) would change."""
    if type(v) in (str, bytes, int, float, bool, type(None)):
        return v
    if codec.is_record(v):
        cid = codec._ids[type(v)]
        return (..., cid, *(_reference_tree(getattr(v, n)) for n in codec._fields[cid]))
    if type(v) is list:
        return [_reference_tree(x) for x in v]
    if type(v) is dict:
        return {_reference_tree(k): _reference_tree(x) for k, x in v.items()}
    if type(v) is tuple:
        items = tuple(_reference_tree(x) for x in v)
        return (..., -1, *items) if items and items[0] is ... else items
    return (..., -2, pickle.dumps(v, protocol=pickle.HIGHEST_PROTOCOL))


@settings(max_examples=100, deadline=None)
@given(st.lists(DOCUMENTS | REJECTS | RECORDS | st.tuples(st.just(...), TEXT), max_size=3))
def test_compiled_encoders_write_the_reference_tree(values):
    assert codec.encode(values)[:-4] == marshal.dumps(_reference_tree(values), 2)


@settings(max_examples=100, deadline=None)
@given(DOCUMENTS)
def test_to_dict_is_asdict_with_node_types(doc):
    """A shard's JSON: what dataclasses.asdict gives, each node with its "type"."""
    want = dataclasses.asdict(doc)
    want["nodes"] = [dict(dataclasses.asdict(n), type="text" if isinstance(n, TextNode)
                          else "image") for n in doc.nodes]
    got = doc.to_dict()
    assert got == want and list(got) == list(want)
    assert got["meta"] is not doc.meta  # a copy, as asdict makes


def test_image_outcomes_are_records_not_pickles():
    from pipeline.stages.images import ImageOutcome

    out = ImageOutcome(True, "warc", jpeg="ab/abcd.jpg", width=3, height=4, sha256="ab" * 32,
                       phash=2**63 + 5, tags={"x": (1.5, None)}, record="f.warc.gz@12")
    blob = codec.encode((3, out))
    assert b"ImageOutcome" not in blob and b"pipeline.stages" not in blob
    _same(codec.decode(blob), (3, out))


def test_a_record_with_the_wrong_field_count_is_corrupt():
    cid = codec._ids[Reject]
    body = marshal.dumps((..., cid, "only", "three", "fields"), 2)
    with pytest.raises(ValueError):
        codec.decode(body + struct.pack(">I", zlib.crc32(body)))


def test_corrupt_encodings_raise():
    blob = codec.encode(Reject("a", "b", "c", "d", 1.0))
    with pytest.raises(ValueError):
        codec.decode(blob[:-3])
    with pytest.raises(ValueError):
        codec.decode(blob + b"\x00")


def _doc(i: int) -> Document:
    text = ("The harbour committee met again to talk about boats, markets and small shops "
            "near the water. ") * 4
    nodes: list = []
    for j in range(6):
        nodes.append(TextNode(f"{i} {j} {text}", "p"))
        nodes.append(ImageNode(src=f"https://news.example.org/img/{i}/{j}.jpg", alt="a photo",
                               caption="", width=512, height=384, member=f"{j:03d}.jpg",
                               sha256=f"{i * 7 + j:064x}"))
    return Document(url=f"https://news.example.org/2024/story-{i}.html", nodes=nodes,
                    title=f"Story {i}", crawl_date="2024-01-02T03:04:05Z",
                    source_file="CC-MAIN-20240101-00042.warc.gz", source_offset=1000 * i,
                    language="en", key=f"{i:024x}")


def test_compact_against_beams_default_pickle():
    default = beam_coders.FastPrimitivesCoder()
    ours = typecoders.registry.get_coder(Any)
    docs = [_doc(i) for i in range(20)]
    rejects = [Reject(f"CC-MAIN-00042.warc.gz@{i}", "filter", "gopher_quality/v1",
                      "too_few_words", 12.0, f"https://x.org/{i}") for i in range(20)]
    # Documents are mostly their text, so the names and class paths saved are a few percent;
    # small records like rejects lose a third or more.
    for items, saving in ((docs, 0.03), (rejects, 0.3)):
        before = sum(len(default.encode((it.key if hasattr(it, "key") else "", it)))
                     for it in items)
        after = sum(len(ours.encode((it.key if hasattr(it, "key") else "", it))) for it in items)
        assert after < before * (1 - saving), (before, after)


def test_a_pipeline_shuffles_documents_through_the_record_coders(tmp_path):
    docs = [_doc(i) for i in range(12)]
    out = tmp_path / "out.json"
    with beam.Pipeline("FnApiRunner") as p:
        _ = (p | beam.Create([(d.key[-1], d) for d in docs])
             | beam.GroupByKey()
             | beam.FlatMap(lambda kv: [d.to_dict() for d in kv[1]])
             | beam.combiners.ToList()
             | beam.Map(lambda rows: out.write_text(json.dumps(
                 sorted(rows, key=lambda r: r["key"])))))
    assert json.loads(out.read_text()) == [d.to_dict() for d in docs]


def test_the_build_graph_encodes_with_the_record_aware_coder(tmp_path):
    from apache_beam.runners import pipeline_context

    from pipeline.build import build_graph
    from pipeline.config import load_config

    cfg = load_config()
    cfg["sources"]["interleaved"]["input"] = [str(tmp_path / "*.warc.gz")]
    p = beam.Pipeline("FnApiRunner")
    build_graph(p, cfg, str(tmp_path / "out"))
    proto = p.to_runner_api()
    ctx = pipeline_context.PipelineContext(proto.components)
    kinds = {type(ctx.coders.get_by_id(cid)) for cid in proto.components.coders}
    assert coders.BuildPrimitivesCoder in kinds
    assert beam_coders.FastPrimitivesCoder not in kinds  # no element falls back to pickling

"""alt_text with TestPipeline: pairs harvested from kept documents, with the ALIGN rules."""

from __future__ import annotations

import json
import os

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipeline import funnel as fn
from pipeline.sources.pairs import add_pair_sources
from schemas import Document, ImageNode, TextNode
from tests.mediagen import image_bytes
from tests.test_video import read_shards

OPTIONS = PipelineOptions(["--runner=FnApiRunner"])


def doc(key: str, title: str, images: list[tuple[str, str]]) -> tuple[Document, dict]:
    nodes: list = [TextNode("Some text about the harbour and its boats.")]
    members = {}
    for i, (alt, caption) in enumerate(images):
        member = f"{i:03d}.jpg"
        members[member] = image_bytes(120, 90, "JPEG", seed=hash((key, i)) % 1000)
        nodes.append(ImageNode(src=f"http://site.example/{key}/{i}.jpg", alt=alt,
                               caption=caption, width=120, height=90, member=member,
                               sha256=f"{key}-{i}"))
    nodes.append(ImageNode(src="http://site.example/not-stored.jpg", alt="A photo never stored"))
    return Document(url=f"http://site.example/{key}", nodes=nodes, title=title, key=key), members


def test_alt_text_pairs_from_kept_documents(tmp_path):
    shared = "Product photo of our bestselling widget"
    kept = [
        doc("d1", "Harbour at dawn | Site", [
            ("A red boat moored in the harbour at dawn", ""),
            ("IMG_2041.jpg", "Fishermen unloading the morning catch"),
            ("click here", ""),
            ("", ""),
            ("Harbour at dawn", ""),
            ("Sunset", ""),
        ]),
        doc("d2", "Shop", [(shared, ""), (shared, ""), (shared, "")]),
        doc("d3", "Other shop", [(shared.upper(), "")]),
    ]
    cfg = {"sources": {"interleaved": {}, "alt_text": {"from": "interleaved", "max_shared": 3}},
           "shards": {"max_samples": 100, "max_bytes": 10**9}}
    out = str(tmp_path / "out")
    with TestPipeline(options=OPTIONS) as p:
        docs = p | beam.Create(kept)
        _shards, rejects, counts = add_pair_sources(p, cfg, out, docs)
        every = tuple(rejects) | "AllRejects" >> beam.Flatten()  # one stream per stage
        rej = every | beam.Map(lambda r: (r.source, r.filter, r.reason, r.value))
        assert_that(rej, equal_to([
            ("d1#002.jpg", "alt_text/v1", "boilerplate", None),
            ("d1#003.jpg", "alt_text/v1", "empty", 0.0),
            ("d1#004.jpg", "alt_text/v1", "same_as_title", None),
            ("d1#005.jpg", "alt_text/v1", "too_few_words", 1.0),
            # Four distinct images share one alt text (case aside): over max_shared = 3.
            ("d2#000.jpg", "alt_text_shared/v1", "shared_alt_text", 4.0),
            ("d2#001.jpg", "alt_text_shared/v1", "shared_alt_text", 4.0),
            ("d2#002.jpg", "alt_text_shared/v1", "shared_alt_text", 4.0),
            ("d3#000.jpg", "alt_text_shared/v1", "shared_alt_text", 4.0),
        ]), label="rejects")
        assert_that(counts[0] | "Sum" >> beam.CombinePerKey(sum),
                    equal_to([(("alt_text", "out", ""), 2)]), label="counts")
        funnel = (
            (counts[0], every | "RejectLabels" >> beam.Map(lambda r: (fn.reject_label(r), 1)))
            | "AllLabels" >> beam.Flatten() | "SumAll" >> beam.CombinePerKey(sum)
            | beam.combiners.ToList() | beam.Map(lambda c: fn.build_funnel(c)["sources"])
        )
        assert_that(funnel, equal_to([{
            "interleaved": {"input": 0, "kept": 0, "rejected": 0},
            "alt_text": {"input": 10, "kept": 2, "rejected": 8}}]), label="funnel")
    samples = read_shards(os.path.join(out, "shards", "alt_text"))
    by_caption = {s["txt"].decode(): s for s in samples.values()}
    assert set(by_caption) == {"A red boat moored in the harbour at dawn",
                               "Fishermen unloading the morning catch"}
    s = by_caption["Fishermen unloading the morning catch"]
    meta = json.loads(s["json"])
    assert s["jpg"] == kept[0][1]["001.jpg"]  # the same bytes as in the interleaved shard
    assert meta["url"] == "http://site.example/d1/1.jpg" and meta["source"] == "alt_text"
    assert meta["meta"]["text_from"] == "caption" and meta["meta"]["document"] == "d1"
    assert json.loads(by_caption["A red boat moored in the harbour at dawn"]["json"])[
        "meta"]["text_from"] == "alt"

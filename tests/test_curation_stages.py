"""The curation stages as Beam transforms: kept and rejected outputs of the quality filters,
each deduplication step and text decontamination, on documents the tests write."""

import json
import random

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipeline.config import load_config
from pipeline.rejects import REJECTS
from pipeline.sample_site import text
from pipeline.stages.decontam import DecontaminateText
from pipeline.stages.dedup import Deduplicate
from pipeline.stages.filter import FilterDocuments
from schemas import Document, TextNode

OPTIONS = PipelineOptions(["--runner=FnApiRunner"])


def prose(seed: int, paragraphs: int = 4, lang: str = "en") -> list[str]:
    rng = random.Random(seed)
    topic, used = rng.choice(text.TOPICS), set()
    return [text.paragraph(rng, topic, 5, lang, used) for _ in range(paragraphs)]


def doc(key: str, paras: list[str], url: str | None = None, date: str = "2024-01-01") -> Document:
    return Document(url=url or f"https://news.example/{key}", key=key, crawl_date=date,
                    nodes=[TextNode(p) for p in paras])


def config(**sections):
    return load_config(overrides=sections)


def no_dedup() -> dict:
    return {k: {"enabled": False} for k in ("url", "text", "near", "domain_paragraphs")}


def rejects_of(out) -> beam.PCollection:
    return out[REJECTS] | "why" >> beam.Map(lambda r: (r.source, r.stage, r.filter, r.reason))


def test_document_filters_keep_good_prose_and_name_each_drop():
    cfg = config(filters={"document": {"url_blocklist": {"domains": ["spam.example"]}}})
    docs = [
        doc("good", prose(1)),
        doc("french", prose(2, lang="fr")),
        doc("short", ["The harbour reopened on Monday after the storm."]),
        doc("blocked", prose(3), url="https://ads.spam.example/page"),
        doc("repeats", [prose(4, 1)[0]] * 6),
    ]
    with TestPipeline(options=OPTIONS) as p:
        out = p | beam.Create(docs) | FilterDocuments(cfg)
        assert_that(out.docs | beam.Map(lambda d: (d.key, d.language)),
                    equal_to([("good", "en")]), label="kept")
        assert_that(rejects_of(out), equal_to([
            ("french", "filter", "language/v1", "wrong_language"),
            ("short", "filter", "gopher_quality/v1", "too_few_words"),
            ("blocked", "filter", "url_blocklist/v1", "blocked_domain"),
            ("repeats", "filter", "gopher_repetition/v1", "dup_lines"),
        ]), label="rejected")


def test_node_filters_remove_bad_paragraphs_before_document_filters():
    cfg = load_config(overrides={"filters": {"node": {
        "node_words": {"min_words": 4, "max_words": 1000},
        "node_special_chars": {"max_ratio": 0.3}}}})
    junk = "$$$ buy ### now @@@ cheap %%% deals *** &&& !!! ??? ### $$$ @@@"
    docs = [doc("mixed", prose(5)[:3] + [junk, "Share"]), doc("all_junk", [junk, "Menu"])]
    with TestPipeline(options=OPTIONS) as p:
        out = p | beam.Create(docs) | FilterDocuments(cfg)
        assert_that(out.docs | beam.Map(lambda d: (d.key, len(d.nodes))),
                    equal_to([("mixed", 3)]), label="kept")
        assert_that(rejects_of(out), equal_to([
            ("mixed", "node", "node_special_chars/v1", "special_characters"),
            ("mixed", "node", "node_words/v1", "too_few_words"),
            ("all_junk", "node", "node_special_chars/v1", "special_characters"),
            ("all_junk", "node", "node_words/v1", "too_few_words"),
            ("all_junk", "filter", "text_left/v1", "no_text_left"),
        ]), label="rejected")


def test_tag_only_drops_nothing_and_records_every_measure():
    cfg = config(filters={"tag_only": True})
    with TestPipeline(options=OPTIONS) as p:
        out = p | beam.Create([doc("good", prose(1)), doc("french", prose(2, lang="fr"))]) \
            | FilterDocuments(cfg)
        tags = out.docs | beam.Map(lambda d: (
            d.key, sorted(d.meta["filters"]), d.meta["filters"]["language/v1"]["drop"]))
        names = sorted(["url_blocklist/v1", "language/v1", "gopher_quality/v1",
                        "gopher_repetition/v1"])
        assert_that(tags, equal_to([("good", names, None),
                                    ("french", names, "wrong_language")]), label="tags")
        assert_that(out[REJECTS], equal_to([]), label="none")


def dedup_corpus() -> list[Document]:
    base, other, third, fourth = prose(10, 5), prose(11, 5), prose(12, 5), prose(13, 5)
    footer = "Harbour News is published by the Harbour Press Group, all rights reserved."
    near = [p.replace(" the ", " a ", 1) for p in base[:1]] + base[1:]
    return [
        doc("a-orig", base + [footer], url="https://news.example/a", date="2024-01-01"),
        doc("a-recrawl", base + [footer], url="https://NEWS.example/a#top", date="2024-05-01"),
        doc("b-upper", [p.upper() for p in other] + [footer], url="https://news.example/b"),
        doc("b-orig", other + [footer], url="https://news.example/b2"),
        doc("c-near", near + [footer], url="https://news.example/c"),
        doc("d-other", third + [footer], url="https://blog.example/d"),
        doc("e-other", fourth + [footer], url="https://news.example/e"),
    ]


def test_each_dedup_step_keeps_one_survivor_and_names_it():
    with TestPipeline(options=OPTIONS) as p:
        kept, rejected = p | beam.Create(dedup_corpus()) | Deduplicate(config())
        assert_that(kept | beam.Map(lambda d: (d.key, len(d.nodes))),
                    equal_to([("a-recrawl", 5), ("b-orig", 5), ("d-other", 6), ("e-other", 5)]),
                    label="kept")
        why = rejected | beam.Map(lambda r: (r.source, r.stage, r.filter, r.reason, r.detail))
        footer_drops = [(k, "node", "domain_paragraphs/v1", "repeated_in_domain")
                        for k in ("a-recrawl", "b-orig", "e-other")]
        assert_that(why | beam.Map(lambda t: (t[0], t[1], t[2], t[3])), equal_to(footer_drops + [
            ("a-orig", "dedup", "url_dedup/v1", "duplicate_url"),
            ("b-upper", "dedup", "text_dedup/v1", "duplicate_text"),
            ("c-near", "dedup", "near_dedup/v1", "near_duplicate"),
        ]), label="rejected")
        survivors = why | beam.Filter(lambda t: t[1] == "dedup") | beam.Map(
            lambda t: (t[0], t[4]))
        assert_that(survivors, equal_to([("a-orig", "survivor a-recrawl"),
                                         ("b-upper", "survivor b-orig"),
                                         ("c-near", "survivor a-recrawl")]), label="survivors")


def _survivors(tmp_path, name: str, docs: list[Document], options: list[str]) -> list[str]:
    out = tmp_path / name
    with beam.Pipeline(options=PipelineOptions(options)) as p:
        kept, _ = p | beam.Create(docs) | Deduplicate(config())
        _ = kept | beam.Map(lambda d: d.key) | beam.io.WriteToText(str(out))
    return sorted(line.strip() for f in tmp_path.glob(f"{name}*") for line in f.open())


def test_survivors_do_not_depend_on_input_order_or_workers(tmp_path):
    docs = dedup_corpus()
    chain = prose(20, 6)  # x0 ~ x1 ~ x2: each edit moves one more paragraph
    for i in range(3):
        edited = [p.replace(" the ", " one ", 1) if j < i else p for j, p in enumerate(chain)]
        docs.append(doc(f"x{i}", edited, url=f"https://x.example/{i}"))
    shuffled = list(docs)
    random.Random(3).shuffle(shuffled)
    one = _survivors(tmp_path, "one", docs, ["--runner=FnApiRunner"])
    two = _survivors(tmp_path, "two", shuffled[::-1], [
        "--runner=DirectRunner", "--direct_num_workers=2",
        "--direct_running_mode=multi_processing"])
    assert one == two
    assert [k for k in one if k.startswith("x")] == ["x0"]


def test_switched_off_steps_keep_duplicates():
    cfg = config(dedup=no_dedup() | {"url": {"enabled": True}})
    with TestPipeline(options=OPTIONS) as p:
        kept, _ = p | beam.Create(dedup_corpus()) | Deduplicate(cfg)
        assert_that(kept | beam.Map(lambda d: d.key), equal_to(
            ["a-recrawl", "b-upper", "b-orig", "c-near", "d-other", "e-other"]))


def test_text_decontamination_names_the_evaluation_item(tmp_path):
    paras = prose(30)
    leaked = " ".join(paras[1].split()[3:20])
    evals = tmp_path / "questions.jsonl"
    evals.write_text(json.dumps({"question": "What did the council decide about the pier?"})
                     + "\n" + json.dumps({"question": leaked}) + "\n")
    cfg = config(decontam={"eval_texts": [str(evals)]})
    with TestPipeline(options=OPTIONS) as p:
        out = p | beam.Create([doc("leak", paras), doc("clean", prose(31))]) \
            | DecontaminateText(cfg)
        assert_that(out.docs | beam.Map(lambda d: d.key), equal_to(["clean"]), label="kept")
        assert_that(out[REJECTS] | beam.Map(lambda r: (r.source, r.stage, r.reason,
                                                       "questions.jsonl" in r.detail)),
                    equal_to([("leak", "decontam", "eval_text_match", True)]), label="rej")


@pytest.mark.parametrize("preset", ["m3w", "obelics"])
def test_every_configured_filter_and_dedup_step_is_declared_for_the_funnel(preset, tmp_path):
    from pipeline.catalog import declared_reasons
    from pipeline.funnel import build_funnel

    path = tmp_path / "c.yaml"
    path.write_text(f"preset: {preset}\n")
    declared = declared_reasons(load_config(str(path)))
    funnel = build_funnel([(("dedup", "reject", "near_dedup/v1", "near_duplicate"), 2)],
                          declared)
    by = {s["stage"]: s for s in funnel["stages"]}
    assert by["dedup"]["rejected_by_reason"]["near_dedup/v1:near_duplicate"] == 2
    assert by["dedup"]["rejected_by_reason"]["url_dedup/v1:duplicate_url"] == 0
    assert "language/v1" in by["filter"]["filters"]
    assert "image_dedup_phash/v1" in by["image"]["filters"]
    if preset == "obelics":
        assert "node_words/v1:too_few_words" in by["node"]["rejected_by_reason"]
        assert "gopher_quality/v1" not in by["filter"]["filters"]


def test_a_page_made_only_of_domain_boilerplate_leaves():
    footer = "Harbour News is published by the Harbour Press Group, all rights reserved."
    docs = [doc(f"p{i}", prose(40 + i) + [footer]) for i in range(3)] + [doc("only", [footer])]
    with TestPipeline(options=OPTIONS) as p:
        kept, rejected = p | beam.Create(docs) | Deduplicate(config())
        assert_that(kept | beam.Map(lambda d: (d.key, len(d.nodes))),
                    equal_to([("p0", 4), ("p1", 4), ("p2", 4)]), label="kept")
        assert_that(rejected | beam.Map(lambda r: (r.source, r.stage, r.reason)), equal_to(
            [(f"p{i}", "node", "repeated_in_domain") for i in range(3)]
            + [("only", "node", "repeated_in_domain"), ("only", "dedup", "no_text_left")]),
            label="rejected")

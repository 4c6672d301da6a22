"""Document deduplication at scale: hot keys resolved without holding their group, near-dup
clusters resolved to a fixed point, buckets verified beyond their head, inputs never
mutated, and boilerplate counted per domain. Real Beam pipelines on small inputs."""

from __future__ import annotations

import copy
import random

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.metrics import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.config import load_config
from pipeline.file_shuffle import RUNNER, Shuffle
from pipeline.stages import dedup
from pipeline.stages.dedup import Deduplicate
from schemas import Document, TextNode

OPTIONS = PipelineOptions(["--runner=FnApiRunner"])
NEAR = {"ngram": 5, "bands": 40, "rows": 5, "threshold": 0.6}
WORDS = ["".join(random.Random(i).choices("etaoinshrdlucmfwypb", k=random.Random(-i).randint(3, 9)))
         for i in range(4000)]


def config(params: dict | None = None, **steps: bool) -> dict:
    sections = {k: {"enabled": steps.get(k, True)}
                for k in ("url", "text", "near", "domain_paragraphs")}
    sections["near"].update(params or {})
    return load_config(overrides={"dedup": sections})


def doc(key: str, paras: list[str], url: str | None = None, date: str = "2024-01-01") -> Document:
    return Document(url=url or f"https://site.example/{key}", key=key, crawl_date=date,
                    nodes=[TextNode(p) for p in paras])


@pytest.fixture(params=["runner", "files"])
def shuffle(request, tmp_path) -> Shuffle:
    """Both ways of making groups: the runner's, and sorted run files with small buffers (so
    that a hot key spans many runs)."""
    return RUNNER if request.param == "runner" else Shuffle(str(tmp_path / "sh"), 4, 20_000)


def test_a_hot_text_key_keeps_the_newest_and_names_it_in_every_reject(shuffle):
    text = "Page not found. The page you asked for has moved or never existed on this site."
    rng = random.Random(0)
    docs = [doc(f"k{i:05d}", [text], date=f"2024-0{rng.randint(1, 5)}-01") for i in range(2000)]
    docs.append(doc("k99999", [text], date="2024-07-01"))  # the newest crawl wins
    docs.append(doc("k00000b", [text], date="2024-07-01"))  # ... and then the smallest key
    cfg = config(url=False, near=False, domain_paragraphs=False)
    with TestPipeline(options=OPTIONS) as p:
        kept, rejected = p | beam.Create(docs) | Deduplicate(cfg, shuffle=shuffle)
        assert_that(kept | beam.Map(lambda d: d.key), equal_to(["k00000b"]), label="kept")
        named = (rejected | beam.Map(lambda r: (r.filter, r.detail))
                 | beam.combiners.Count.PerElement())
        assert_that(named, equal_to([(("text_dedup/v1", "survivor k00000b"), 2001)]),
                    label="named")


def sliding_chain(n_docs: int, words: int = 240, step: int = 40, seed: int = 1) -> list[str]:
    """Windows sliding over one long word stream: neighbours share (words - step) of words,
    word 5-gram Jaccard (w - s) / (w + s) = 0.71; two apart 0.5, three apart 0.33."""
    rng = random.Random(seed)
    stream = rng.choices(WORDS, k=words + step * n_docs)
    return [" ".join(stream[i * step: i * step + words]) for i in range(n_docs)]


def test_a_chain_wider_than_the_rounds_of_old_collapses_to_one_survivor(shuffle):
    texts = sliding_chain(12)
    # Keys put the chain's best-ranked document in the middle: labels travel both ways.
    docs = [doc(f"c{(i * 5) % 12:02d}", [t]) for i, t in enumerate(texts)]
    cfg = config(NEAR | {"rounds": 4}, domain_paragraphs=False)
    p = TestPipeline(options=OPTIONS)
    kept, rejected = p | beam.Create(docs) | Deduplicate(cfg, shuffle=shuffle)
    assert_that(kept | beam.Map(lambda d: d.key), equal_to(["c00"]), label="kept")
    assert_that(rejected | beam.Map(lambda r: r.detail),
                equal_to(["survivor c00"] * 11), label="named")
    result = p.run()
    result.wait_until_finish()
    metrics = result.metrics().query(MetricsFilter().with_namespace("dedup"))
    used = [d.committed.max for d in metrics["distributions"]
            if d.key.metric.name == "near_rounds_used"]
    assert used and 1 <= max(used) < 4  # a fixed point within the bound (diameter 11)
    assert not [c for c in metrics["counters"]
                if c.key.metric.name == "near_unresolved" and c.committed]


def test_when_rounds_run_out_no_reject_names_a_rejected_document(caplog):
    texts = sliding_chain(16, seed=2)
    docs = [doc(f"c{(i * 7) % 16:02d}", [t]) for i, t in enumerate(texts)]
    cfg = config(NEAR | {"rounds": 1}, domain_paragraphs=False)
    with TestPipeline(options=OPTIONS) as p:
        kept, rejected = p | beam.Create(docs) | Deduplicate(cfg)
        kept_keys = kept | beam.Map(lambda d: d.key)
        pairs = rejected | beam.Map(lambda r: (r.source, r.detail.split()[-1]))

        def check(kept_list, pair_list):
            kept_set = set(kept_list)
            assert len(kept_set) + len(pair_list) == 16
            assert all(survivor in kept_set for _, survivor in pair_list), pair_list
            # Some were merged, and some were left unresolved (kept) when rounds ran out.
            return [(len(pair_list) > 0, len(kept_set) > 1)]

        assert_that(kept_keys | beam.combiners.ToList()
                    | beam.Map(check, beam.pvalue.AsList(pairs)), equal_to([[(True, True)]]))
    assert "still changing after 1 rounds" in caplog.text


def test_a_bucket_whose_head_is_a_chance_collision_still_merges_the_others(shuffle):
    # 4 bands x 2 rows. "h" ranks first and shares band 0 only; "a" and "b" share band 0 and
    # one value of each other band (5 of 8 values, estimated Jaccard 0.625): they meet in no
    # other bucket, so only a check beyond the head can merge them.
    a = np.arange(1, 9, dtype=np.uint16)
    b = a.copy()
    b[[3, 5, 7]] += 100
    h = a.copy()
    h[2:] += 1000
    sigs = [("2024|h", h), ("2024|a", a), ("2024|b", b)]
    with TestPipeline(options=OPTIONS) as p:
        losers = dedup._near_losers(
            p | "sigs" >> beam.Create([(r, s.tobytes()) for r, s in sigs]),
            NEAR | {"bands": 4, "rows": 2, "rounds": 2}, shuffle)
        assert_that(losers, equal_to([("2024|b", "2024|a")]))


def test_dofns_leave_their_inputs_unchanged():
    footer = "Site news is published by the Harbour Press Group, all rights reserved here."
    body = [" ".join(WORDS[i * 30:(i + 1) * 30]) for i in range(3)]
    docs = [doc("x", body + [footer]), doc("y", body[::-1] + [footer])]
    docs[0].meta["kept"] = {"note": [1]}
    kept_aside = copy.deepcopy(docs)
    project = dedup._ProjectFn(True, True, {"ngram": 5, "bands": 4, "rows": 2}, 30)
    outputs = list(project.process(docs))
    assert len(outputs) == 2 * 3
    h = dedup.paragraph_key("site.example", footer)
    for tag_only in (False, True):
        apply = dedup._ApplyFn(30, tag_only)
        verdicts = [("near", "y"), ("para", (h, 3))]
        out = list(apply.process(("x", [docs[0], *verdicts])))
        out += list(apply.process(("y", [("para", (h, 3)), docs[1]])))
        assert out
    assert docs == kept_aside
    assert docs[0].meta == {"kept": {"note": [1]}}


def test_tag_only_marks_copies_without_dropping_them_and_every_step_sees_all():
    footer = "Site news is published by the Harbour Press Group, all rights reserved here."
    body = [" ".join(WORDS[i * 30:(i + 1) * 30]) for i in range(3)]
    docs = [doc(f"p{i}", body + [footer], date=f"2024-0{i + 1}-01") for i in range(3)]
    cfg = load_config(overrides={"filters": {"tag_only": True}})
    with TestPipeline(options=OPTIONS) as p:
        kept, rejected = p | beam.Create(docs) | Deduplicate(cfg)
        marks = kept | beam.Map(lambda d: (d.key, len(d.nodes), d.meta.get("duplicate_of"),
                                           len(d.meta.get("repeated_paragraphs", []))))
        assert_that(marks, equal_to([
            ("p2", 4, None, 4),
            ("p1", 4, {"text_dedup/v1": "p2", "near_dedup/v1": "p2"}, 4),
            ("p0", 4, {"text_dedup/v1": "p2", "near_dedup/v1": "p2"}, 4),
        ]), label="marks")
        assert_that(rejected, equal_to([]), label="none")


def test_a_footer_on_many_pages_leaves_each_of_them_and_rare_paragraphs_stay():
    rng = random.Random(4)
    footer = "Read our privacy notice and terms of use before you share any story from here."
    shared_twice = "This paragraph appears on exactly two pages of the domain and is kept."
    docs = []
    for i in range(300):
        domain = "one.example" if i % 3 else "two.example"
        paras = [" ".join(rng.choices(WORDS, k=40)) for _ in range(2)] + [footer]
        if i in (1, 2):
            paras.append(shared_twice)
        docs.append(doc(f"p{i:03d}", paras, url=f"https://www.{domain}/{i}"))
    cfg = config(url=False, text=False, near=False)
    with TestPipeline(options=OPTIONS) as p:
        kept, rejected = p | beam.Create(docs) | Deduplicate(cfg)
        assert_that(kept | beam.Map(lambda d: (d.key, len(d.nodes))), equal_to(
            [(d.key, 3 if d.key in ("p001", "p002") else 2) for d in docs]), label="kept")
        counts = (rejected | beam.Map(lambda r: (r.reason, r.value, r.detail))
                  | beam.combiners.Count.PerElement())
        assert_that(counts, equal_to([(("repeated_in_domain", 200.0, footer), 200),
                                      (("repeated_in_domain", 100.0, footer), 100)]),
                    label="counts")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from("aZΣσς é.,!-_ \t\n'0İı"), max_size=12),
                max_size=6))
def test_the_text_hash_from_nodes_is_the_hash_of_their_joined_text(nodes):
    """The projection hashes a document from its nodes' normalized texts (each normalized
    once, for the paragraph keys too): it must equal the hash of the joined text, as before."""
    want = dedup.text_hash("\n".join(nodes))
    assert dedup._joined_hash([dedup.normalized_text(t) for t in nodes]) == want


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from("\x1c\x85\u2028\u3000_ "),
               max_size=30))
def test_normalized_text_is_words_joined_by_single_spaces(text):
    """One substitution and a strip: the same as splitting on any whitespace and joining."""
    folded = dedup._NON_WORD.sub(" ", text.lower())
    assert dedup.normalized_text(text) == " ".join(folded.split())

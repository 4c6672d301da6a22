"""Beam forbids a DoFn to change its input: the runner may hand the same object to another
consumer, or re-run a failed bundle on it. Each document-changing DoFn is fed documents whose
deep copies are kept aside, and the inputs must equal their copies afterwards."""

import copy
import random

from pipeline.config import load_config
from pipeline.sample_site import text
from pipeline.stages.filter import FilterFn
from schemas import Document, ImageNode, TextNode


def _docs() -> list[Document]:
    rng = random.Random(3)
    out = []
    for i in range(4):
        topic, used = rng.choice(text.TOPICS), set()
        paras = [text.paragraph(rng, topic, 5, "en", used) for _ in range(4)]
        nodes = [TextNode(p) for p in paras] + [TextNode("Buy now!!! $$$ ### @@@")]
        nodes.insert(1, ImageNode(src=f"https://news.example/{i}.jpg", alt="a photo"))
        out.append(Document(url=f"https://news.example/{i}", key=f"k{i}",
                            crawl_date="2024-01-01", nodes=nodes, meta={"seen": [i]}))
    return out


def _run(fn, docs: list[Document]) -> list:
    fn.setup()
    return [out for d in docs for out in fn.process(d)]


def test_filter_fn_leaves_its_inputs_unchanged_in_both_modes():
    for tag_only in (False, True):
        cfg = load_config(overrides={"filters": {
            "tag_only": tag_only,
            "node": {"node_special_chars": {"enabled": True, "max_ratio": 0.3}}}})
        docs = _docs()
        kept_aside = copy.deepcopy(docs)
        outputs = _run(FilterFn(cfg), docs)
        assert docs == kept_aside
        kept = [o for o in outputs if isinstance(o, Document)]
        assert kept, "the filters kept nothing: the test would prove nothing"
        if tag_only:
            assert all("filters" in d.meta for d in kept)
        else:  # the junk paragraph left the kept copies, not the inputs
            by_key = {d.key: d for d in docs}
            assert all(len(d.nodes) < len(by_key[d.key].nodes) for d in kept)


def test_text_decontamination_marks_a_copy_in_tag_only_mode(tmp_path):
    from pipeline.stages.decontam import DecontamTextFn

    docs = _docs()
    evals = tmp_path / "eval.txt"
    evals.write_text(docs[0].text.split("\n")[0] + "\n")  # a whole paragraph of doc 0
    fn = DecontamTextFn({"eval_texts": [str(evals)], "eval_images": [], "ngram": 13,
                         "min_words": 8, "max_distance": 4}, tag_only=True)
    kept_aside = copy.deepcopy(docs)
    outputs = _run(fn, docs)
    assert docs == kept_aside
    marked = [d for d in outputs if "eval_text_match" in d.meta]
    assert [d.key for d in marked] == ["k0"]

"""Existing corpora as build inputs: OBELICS-schema Parquet and MMC4-schema JSONL, written here,
go through the build's curation like pages from WARCs, bad rows become rejects with reasons,
and the result trains."""

from __future__ import annotations

import json
import os

import pyarrow.parquet as pq
import pytest
import yaml

from pipeline.cli import main
from schemas import make_key
from tests.corpusgen import (
    mmc4_doc,
    obelics_row,
    pages,
    shard_documents,
    write_jsonl,
    write_obelics,
)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def kept_documents(build) -> dict[str, tuple[dict, dict[str, bytes]]]:
    return {doc["url"]: (doc, sample) for doc, sample in shard_documents(build).values()}


def funnel(build, capsys) -> dict:
    capsys.readouterr()
    assert main(["stats", str(build), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert all(c["checked"] and c["ok"] for c in out["checks"]), out["checks"]
    return out


@pytest.fixture(scope="module")
def mixed(tmp_path_factory, server):
    """OBELICS rows whose images are fetched from a local server, MMC4 lines whose images are
    in the file, and bad rows of every kind in both."""
    root = tmp_path_factory.mktemp("import")
    served = pages(4, "http://site.test", seed=2, embed=True)
    for p in served:  # serve each image at a local URL, and name it in the row
        p.nodes = [n if n[0] == "text" else
                   ("image", server.url("/img/" + n[1].rsplit("/", 1)[-1]), n[2], n[3])
                   for n in p.nodes]
        for n in p.nodes:
            if n[0] == "image":
                server.route(n[1].split(server.base_url)[1],
                             (200, {"Content-Type": "image/jpeg"}, n[2]))
    rows = [obelics_row(p, embed=False) for p in served]
    text, image = rows[0]["texts"], rows[0]["images"]
    gm = rows[0]["general_metadata"]
    rows += [
        {**rows[0], "texts": ["both", *text[1:]], "images": ["http://x/a.jpg", *image[1:]]},
        {**rows[0], "texts": [None, *text[1:]], "images": [None, *image[1:]]},
        {**rows[0], "texts": text[:-1]},
        {**rows[0], "general_metadata": json.dumps({"title": "no url"})},
        {**rows[0], "general_metadata": "{not json"},
        {**rows[0], "metadata": json.dumps([None])},
    ]
    write_obelics(root / "site.parquet", rows, row_group_size=3)
    write_obelics(root / "old.parquet", [{"texts": ["a"], "general_metadata": gm}] * 2)

    mmc4 = pages(3, "http://mmc4.test", seed=3, embed=True)
    for p in mmc4:  # their URLs are not served: only the bytes in the file can make them
        p.nodes = [n if n[0] == "text" else ("image", server.url("/gone/" + n[1][-7:]), *n[2:])
                   for n in p.nodes]
    lines = [mmc4_doc(p) for p in mmc4]
    broken = json.loads(json.dumps(lines[0]))
    broken["image_info"][0]["image_base64"] = "@@not base64@@"
    far = json.loads(json.dumps(lines[0]))
    far["image_info"][0]["matched_text_index"] = 99
    lines += [broken, "{truncated", far, "[1, 2]", {"url": "http://mmc4.test/x"}]
    write_jsonl(root / "docs.jsonl.gz", lines)

    cfg = {"fetch": {"allowed_networks": ["127.0.0.0/8"], "per_host_interval": 0.0,
                     "retries": 0},
           "sources": {"interleaved": {"input_format": "obelics",
                                       "input": [str(root / "*.parquet"),
                                                 str(root / "docs.jsonl.gz")]}}}
    (root / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    assert main(["build", str(root / "cfg.yaml"), "--output", str(root / "build"),
                 "--no-progress"]) == 0
    return root, served, mmc4


def test_imported_rows_are_curated_and_stored_like_pages(mixed, server, capsys):
    root, served, mmc4 = mixed
    kept = kept_documents(root / "build")
    assert set(kept) == {p.url for p in served + mmc4}
    for p in served + mmc4:
        doc, sample = kept[p.url]
        assert [n.get("text") for n in doc["nodes"] if n["type"] == "text"] == p.texts
        images = [n for n in doc["nodes"] if n["type"] == "image"]
        assert [n["src"] for n in images] == p.image_urls
        if p in served:  # OBELICS metadata carries the alt texts
            assert [n["alt"] for n in images] == [n[3] for n in p.nodes if n[0] == "image"]
        assert all(sample[n["member"]][:2] == b"\xff\xd8" for n in images)
        assert doc["source_file"] in ("site.parquet", "docs.jsonl.gz")
    # OBELICS images came from the server, once each; MMC4's from the file, never fetched
    assert all(server.hits(u.split(server.base_url)[1]) == 1 for p in served
               for u in p.image_urls)
    assert server.hits("/gone/" + mmc4[0].image_urls[0][-7:]) == 0
    t = funnel(root / "build", capsys)["totals"]
    # 10 + 2 + 8 rows: every one a document or a reject
    assert t["records_read"] == t["html_records"] == 20
    assert t["documents"] == 7 and t["rejected_documents"] == 13


def test_bad_rows_are_rejects_with_their_reasons(mixed):
    root, _, _ = mixed
    rejects = pq.read_table(str(root / "build" / "rejects")).to_pylist()
    got = sorted((r["source"], r["reason"]) for r in rejects if r["filter"] == "import/v1")
    assert got == sorted([
        ("site.parquet#4", "bad_position"), ("site.parquet#5", "bad_position"),
        ("site.parquet#6", "misaligned"), ("site.parquet#7", "missing_columns"),
        ("site.parquet#8", "bad_json"), ("site.parquet#9", "misaligned"),
        ("old.parquet#0", "missing_columns"), ("old.parquet#1", "missing_columns"),
        ("docs.jsonl.gz#3", "bad_base64"), ("docs.jsonl.gz#4", "bad_json"),
        ("docs.jsonl.gz#5", "bad_position"), ("docs.jsonl.gz#6", "bad_row"),
        ("docs.jsonl.gz#7", "missing_columns"),
    ])
    assert all(r["stage"] == "extract" and r["detail"] for r in rejects
               if r["filter"] == "import/v1")


def test_an_imported_build_trains(mixed):
    root, _, _ = mixed
    run = root / "run"
    assert main(["train", "--manifest", str(root / "build" / "manifest.json"), "--model", "tiny",
                 "--steps", "2", "--batch-size", "2", "--max-len", "48", "--prefetch", "1",
                 "--device", "cpu", "--output", str(run)]) == 0
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["step"] for x in lines] == [1, 2]
    assert all(json.loads(x)["loss_interleaved"] > 0 for x in lines)


def test_mmc4_copies_and_contaminated_documents_are_exactly_the_ones_lost(tmp_path, capsys):
    """An MMC4 file re-curated with the OBELICS preset: an exact copy of a document (under
    another URL) and a document quoting an evaluation question leave; nothing else does."""
    docs = pages(5, "http://corpus.test", seed=4, embed=True)
    question = ("which of the three bridges over the river was built first by the engineers "
                "of the old railway company")
    docs[3].nodes.insert(1, ("text", f"Readers often ask {question}, and the answer may "
                                     "surprise you."))
    copy = mmc4_doc(docs[1])
    copy["url"] = "http://mirror.test/doc1"
    write_jsonl(tmp_path / "docs.jsonl", [mmc4_doc(p) for p in docs] + [copy])
    (tmp_path / "eval.jsonl").write_text(json.dumps({"question": question}) + "\n")
    (tmp_path / "cfg.yaml").write_text("preset: obelics\nfetch:\n  enabled: false\n")
    out = tmp_path / "build"
    assert main(["build", str(tmp_path / "cfg.yaml"), "--input", str(tmp_path / "docs.jsonl"),
                 "--eval-texts", str(tmp_path / "eval.jsonl"), "--output", str(out),
                 "--no-progress"]) == 0
    # the survivor of the two copies is the smaller key, as for pages
    loser = max((docs[1].url, 1), (copy["url"], 5),
                key=lambda u: make_key(u[0], "docs.jsonl", u[1]))[0]
    kept = kept_documents(out)
    assert set(kept) == ({p.url for p in docs} | {copy["url"]}) - {loser, docs[3].url}
    rejects = pq.read_table(str(out / "rejects")).to_pylist()
    documents = {(r["url"], r["stage"], r["reason"]) for r in rejects if r["stage"] != "node"}
    assert documents == {(loser, "dedup", "duplicate_text"),
                         (docs[3].url, "decontam", "eval_text_match")}
    t = funnel(out, capsys)["totals"]
    assert t["records_read"] == 6 and t["documents"] == 4 and t["rejected_documents"] == 2
    for url, (doc, _) in kept.items():  # images in place, from the file's bytes
        page = next(p for p in docs if p.url == url) if url != copy["url"] else docs[1]
        assert [n["src"] for n in doc["nodes"] if n["type"] == "image"] == page.image_urls


def test_an_unknown_input_format_is_refused(tmp_path):
    from pipeline.config import ConfigError, load_config

    path = tmp_path / "c.yaml"
    path.write_text("sources:\n  interleaved:\n    input_format: obelisk\n")
    with pytest.raises(ConfigError, match="input_format"):
        load_config(str(path))

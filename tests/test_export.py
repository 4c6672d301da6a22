"""`m3w export`: a build read back by the tools of the other corpora (Hugging Face `datasets`,
a reader that follows OpenFlamingo's MMC4 loader), and re-imported by `m3w build`."""

from __future__ import annotations

import base64
import io
import json
import os

import pyarrow.parquet as pq
import pytest
import webdataset as wds
import yaml
from PIL import Image

from pipeline.cli import main
from tests.corpusgen import pages, shard_documents, shard_samples, write_jsonl, write_warc
from tests.imagegen import image_bytes

os.environ.setdefault("HF_HUB_OFFLINE", "1")
OPENFLAMINGO_THRESHOLDS = (0.24, 0.32)  # its default mmc4_textsim_threshold, now and before


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A WARC of 6 pages with 2 stored images each, alt_text from them, and image_text from
    local files whose rows do not all have the same columns."""
    root = tmp_path_factory.mktemp("export")
    inp = root / "in"
    inp.mkdir()
    write_warc(inp / "site.warc.gz", pages(6, "http://site.example", seed=1))
    rows = []
    for i in range(8):
        path = inp / f"p{i}.jpg"
        path.write_bytes(image_bytes(200, 150 + 5 * i, "JPEG", 50 + i))
        row = {"image": str(path), "caption": f"A gradient study number {i} in soft colours"}
        if i >= 6:  # after the first five samples a shard may hold: datasets infers from those
            row["license"] = "cc-by"
        rows.append(row)
    write_jsonl(inp / "pairs.jsonl", rows)
    cfg = {"fetch": {"enabled": False}, "shards": {"buckets_per_input": 3},
           "sources": {"interleaved": {"input": [str(inp / "site.warc.gz")]},
                       "alt_text": {"from": "interleaved"},
                       "image_text": {"input": [str(inp / "pairs.jsonl")],
                                      "keep_columns": ["license"]}}}
    (root / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    assert main(["build", str(root / "cfg.yaml"), "--output", str(root / "build"),
                 "--no-progress"]) == 0
    docs = shard_documents(root / "build")
    assert len(docs) == 6 and all(len(d["nodes"]) == 6 for d, _ in docs.values())
    return root


def export(built, fmt: str, name: str, *extra: str):
    out = built / name
    assert main(["export", str(built / "build"), "--format", fmt, "--output", str(out),
                 *extra]) == 0
    return out, json.loads((out / "export.json").read_text())


def load_parquet(files: list[str], cache):
    import datasets

    return datasets.load_dataset("parquet", data_files={"train": files}, split="train",
                                 cache_dir=str(cache))


def test_obelics_export_loads_with_datasets_and_equals_the_shards(built, tmp_path):
    out, summary = export(built, "obelics", "obelics", "--embed-images", "--max-rows", "4",
                          "--row-group", "2")
    files = sorted(str(out / f["path"]) for f in summary["files"])
    # bounded files and row groups: 6 documents -> 4 + 2 rows, in groups of 2
    assert [f["rows"] for f in summary["files"]] == [4, 2]
    assert [pq.ParquetFile(f).num_row_groups for f in files] == [2, 1]
    ds = load_parquet(files, tmp_path / "cache")
    assert set(ds.column_names) == {"texts", "images", "metadata", "general_metadata",
                                    "image_bytes"}
    docs = shard_documents(built / "build")
    assert len(ds) == len(docs) == summary["samples"] == 6
    for row in ds:
        general = json.loads(row["general_metadata"])
        doc, sample = docs[general["key"]]
        assert general["url"] == doc["url"] and general["warc_filename"] == "site.warc.gz"
        assert general["warc_record_offset"] == doc["source_offset"]
        assert general["crawl_date"] == doc["crawl_date"] and general["language"] == "en"
        metadata = json.loads(row["metadata"])
        nodes = doc["nodes"]
        assert len(row["texts"]) == len(row["images"]) == len(metadata) == len(nodes)
        for i, node in enumerate(nodes):
            text, src, data = row["texts"][i], row["images"][i], row["image_bytes"][i]
            assert (text is None) != (src is None)  # exactly one per position
            if node["type"] == "text":
                assert text == node["text"] and data is None
                assert metadata[i]["tag"] == node["tag"]
            else:
                assert src == node["src"] and data == sample[node["member"]]
                assert metadata[i]["alt_text"] == node["alt"]
                assert metadata[i]["member"] == f"{doc['key']}.{node['member']}"
                assert (metadata[i]["width"], metadata[i]["sha256"]) == (node["width"],
                                                                          node["sha256"])


def test_obelics_export_without_images_has_no_bytes_column(built, tmp_path):
    out, summary = export(built, "obelics", "obelics-urls")
    ds = load_parquet([str(out / f["path"]) for f in summary["files"]], tmp_path / "cache")
    assert "image_bytes" not in ds.column_names and len(ds) == 6
    assert sum(i is not None for row in ds for i in row["images"]) == summary["images"] == 12


def openflamingo_sequence(doc: dict, threshold: float) -> tuple[str, list[Image.Image]]:
    """What OpenFlamingo's MMC4 loader makes of one document: images under the similarity
    threshold dropped, every image decoded from base64, `<|endofchunk|><image>` put before
    the text each image is matched to."""
    texts = list(doc["text_list"])
    images = []
    for info in doc["image_info"]:
        if info["matched_sim"] < threshold:
            continue
        im = Image.open(io.BytesIO(base64.b64decode(info["image_base64"])))
        im.load()
        images.append(im.convert("RGB"))
        texts[info["matched_text_index"]] = "<|endofchunk|><image>" + texts[
            info["matched_text_index"]]
    return " ".join(texts), images


def page_sequence(nodes: list[dict]) -> str:
    """A shard document's texts and images in page order, written as the loader writes them."""
    parts, pending = [], ""
    for node in nodes:
        if node["type"] == "image":
            pending += "<|endofchunk|><image>"
        else:
            parts.append(pending + node["text"])
            pending = ""
    return " ".join(parts + ([pending] if pending else []))


def test_mmc4_export_reads_as_openflamingo_reads_mmc4(built):
    out, summary = export(built, "mmc4", "mmc4", "--max-rows", "5")
    urls = [str(out / f["path"]) for f in summary["files"]]
    assert [f["rows"] for f in summary["files"]] == [5, 1]
    docs = shard_documents(built / "build")
    seen = 0
    for sample in wds.WebDataset(urls, shardshuffle=False).decode():
        doc = sample["json"]  # parsed as the loader's webdataset pipeline does
        n_images, n_texts = len(doc["image_info"]), len(doc["text_list"])
        assert len(doc["similarity_matrix"]) == n_images
        assert all(len(row) == n_texts for row in doc["similarity_matrix"])
        for info in doc["image_info"]:
            assert 0 <= info["matched_text_index"] < n_texts
            assert all(info["matched_sim"] >= t for t in OPENFLAMINGO_THRESHOLDS)
        ours, sample_members = docs[sample["__key__"]]
        for threshold in OPENFLAMINGO_THRESHOLDS:
            text, images = openflamingo_sequence(doc, threshold)
            assert text == page_sequence(ours["nodes"])  # the page's own order
            stored = [n for n in ours["nodes"] if n["type"] == "image"]
            assert len(images) == len(stored) == n_images
            for im, node in zip(images, stored):
                want = Image.open(io.BytesIO(sample_members[node["member"]])).convert("RGB")
                assert im.size == want.size and im.tobytes() == want.tobytes()
        seen += 1
    assert seen == 6 == summary["samples"]


def test_pair_shards_and_hf_export_load_with_datasets_webdataset(built, tmp_path):
    import datasets

    build = built / "build"
    manifest = json.loads((build / "manifest.json").read_text())
    # the build's own alt_text shards: KEY.jpg + KEY.txt + KEY.json
    alt_files = [str(build / s["path"]) for s in manifest["sources"]["alt_text"]["shards"]]
    ds = datasets.load_dataset("webdataset", data_files={"train": alt_files}, split="train",
                               cache_dir=str(tmp_path / "c1"))
    assert len(ds) == manifest["sources"]["alt_text"]["samples"] == 12
    assert all(r["txt"] == r["json"]["caption"] and r["jpg"].size[0] > 0 for r in ds)

    out, summary = export(built, "hf", "hf")
    assert summary["sources"] == ["alt_text", "image_text"] and summary["samples"] == 20
    for source, n in (("alt_text", 12), ("image_text", 8)):
        files = sorted(str(out / f["path"]) for f in summary["files"]
                       if f["path"].startswith(f"{source}/"))
        ds = datasets.load_dataset("webdataset", data_files={"train": files}, split="train",
                                   cache_dir=str(tmp_path / source))
        assert len(ds) == n
        originals = shard_samples(build, source)
        licences = 0
        for row in ds:
            original = originals[row["__key__"]]
            assert row["txt"] == original["txt"].decode()
            assert row["jpg"].size == Image.open(io.BytesIO(original["jpg"])).size
            meta = json.loads(row["json"]["meta"])  # every key kept, whatever sample 1-5 had
            assert meta == json.loads(original["json"]).get("meta", {})
            licences += meta.get("license") == "cc-by"
        assert licences == (2 if source == "image_text" else 0)


def test_export_as_a_beam_job_writes_the_same_rows(built):
    local, _ = export(built, "obelics", "obelics-local", "--embed-images")
    beam, summary = export(built, "obelics", "obelics-beam", "--embed-images", "--",
                           "--direct_num_workers", "1")
    manifest = json.loads((built / "build" / "manifest.json").read_text())
    shards = manifest["sources"]["interleaved"]["shards"]
    assert len(shards) > 1 and len(summary["files"]) == len(shards)  # a file per shard here

    def rows(folder):
        table = pq.read_table([str(p) for p in sorted(folder.glob("*.parquet"))])
        return sorted(table.to_pylist(), key=lambda r: r["general_metadata"])

    assert rows(local) == rows(beam)


def test_m3w_obelics_m3w_keeps_every_document(built, capsys):
    """Build -> OBELICS with images embedded -> build again, nothing fetched: the same
    documents, their texts, tags and images in the same order."""
    out, _ = export(built, "obelics", "roundtrip", "--embed-images", "--max-rows", "4")
    cfg = built / "reimport.yaml"
    cfg.write_text(yaml.safe_dump({"fetch": {"enabled": False},
                                   "sources": {"interleaved": {"input_format": "obelics"}}}))
    again = built / "again"
    assert main(["build", str(cfg), "--input", str(out / "*.parquet"), "--output", str(again),
                 "--no-progress"]) == 0
    first = {d["url"]: d for d, _ in shard_documents(built / "build").values()}
    second = {d["url"]: (d, s) for d, s in shard_documents(again).values()}
    assert first.keys() == second.keys()

    def shape(doc):
        return [(n["type"], n.get("text"), n.get("tag"), n.get("src"), n.get("alt"),
                 n.get("width"), n.get("height")) for n in doc["nodes"]]

    for url, doc in first.items():
        doc2, sample2 = second[url]
        assert shape(doc2) == shape(doc)
        assert doc2["meta"]["imported"]["key"] == doc["key"]
        assert doc2["crawl_date"] == doc["crawl_date"]
        assert all(sample2[n["member"]][:2] == b"\xff\xd8" for n in doc2["nodes"]
                   if n["type"] == "image")
    capsys.readouterr()
    assert main(["stats", str(again), "--json"]) == 0
    funnel = json.loads(capsys.readouterr().out)
    assert all(c["checked"] and c["ok"] for c in funnel["checks"])
    assert funnel["totals"]["records_read"] == funnel["totals"]["documents"] == 6
    extract = next(s for s in funnel["stages"] if s["stage"] == "extract")
    assert extract["rejected_by_reason"]["import/v1:bad_position"] == 0  # declared, by name

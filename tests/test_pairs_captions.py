"""Caption and alt-text rules, and reading pair lists from tables, folders and tars."""

from __future__ import annotations

import io
import json
import tarfile

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.sources.common import expand_inputs, source_config, source_defaults
from scrapers.captions import CaptionRules, check_caption, count_words, rules_from
from scrapers.pair_lists import ListOptions, caption_value, iter_items
from tests.imagegen import image_bytes

ALT = CaptionRules(min_words=3, max_words=20, reject_title=True)


@pytest.mark.parametrize("text,reason", [
    ("", "empty"),
    ("   \n\t", "empty"),
    ("image", "boilerplate"),
    ("Photo", "boilerplate"),
    ("click here", "boilerplate"),
    ("Click here to see the full size version", "boilerplate"),
    ("Image 3", "file_name"),
    ("Figure 12", "boilerplate"),
    ("IMG_1234.jpg", "file_name"),
    ("IMG_1234", "file_name"),
    ("DSC01234", "file_name"),
    ("holiday photo.JPG", "file_name"),
    ("hero_banner-final", "file_name"),
    ("https://example.com/a.png", "url"),
    ("12/03/2020 15:45 - 16:30 + 7", "few_letters"),
    ("A dog", "too_few_words"),
    (" ".join(["word"] * 21), "too_many_words"),
    ("Harbour at dawn", "same_as_title"),
    ("News", "too_few_words"),
])
def test_alt_text_rules_give_reason_codes(text, reason):
    v = check_caption(text, ALT, title="Harbour at dawn | News")
    assert not v.ok and v.reason == reason


@pytest.mark.parametrize("text", [
    "A brown dog running on the beach at sunset",
    "State-of-the-art engine design, seen from the side",
    "两个长头发的女子正坐在一张圆桌前讲话互动。",
    "COVID-19 vaccine vials on a tray",
])
def test_good_alt_texts_pass(text):
    v = check_caption(f"  {text}\n", ALT, title="Harbour at dawn")
    assert v.ok and v.text == text


def test_word_counts_and_language_rule():
    assert count_words("a  b, c") == 3
    assert count_words("一个男人") == 4  # one word per CJK character
    en = rules_from({"languages": ["en"]})
    assert check_caption("A photo of a dog sitting on the grass", en).ok
    v = check_caption("Ein Hund sitzt auf dem grünen Gras im Park", en)
    assert not v.ok and v.reason == "language"
    assert rules_from({"min_words": 2, "unknown": 1}).min_words == 2


def test_caption_cells():
    assert caption_value("x") == "x"
    assert caption_value(["", "first", "second"]) == "first"
    recs = [{"text": "一段卡通", "lang": "zh"}, {"text": "a cartoon", "lang": "en"}]
    assert caption_value(recs, "en") == "a cartoon"
    assert caption_value(recs) == "一段卡通"
    assert caption_value(None) == "" and caption_value(7) == "7"


def test_lists_folders_and_tars(tmp_path):
    rows = [{"image": "a.jpg", "caption": "first"}, {"url": "https://x.example/b.png",
                                                    "TEXT": "second"}]
    (tmp_path / "l.jsonl").write_text("\n".join(map(json.dumps, rows)) + "\n\nnot json\n")
    (tmp_path / "l.csv").write_text("file,caption\nsub/c.webp,third\n")
    pq.write_table(pa.Table.from_pylist([{"path": "/abs/d.jpg", "captions": ["fourth"],
                                          "license": "cc-by"}]), tmp_path / "l.parquet")
    opts = ListOptions(keep_columns=("license",))
    items = list(iter_items(str(tmp_path / "l.jsonl"), opts))
    assert [(i.path, i.url, i.caption) for i in items] == [
        (str(tmp_path / "a.jpg"), "", "first"), ("", "https://x.example/b.png", "second"),
        ("", "", "")]
    assert items[2].source_id.endswith("l.jsonl#2")
    (csv_item,) = iter_items(str(tmp_path / "l.csv"), opts)
    assert csv_item.path == str(tmp_path / "sub" / "c.webp") and csv_item.caption == "third"
    (pq_item,) = iter_items(str(tmp_path / "l.parquet"), opts)
    assert (pq_item.path, pq_item.caption, pq_item.meta) == ("/abs/d.jpg", "fourth",
                                                             {"license": "cc-by"})

    folder = tmp_path / "folder"
    (folder / "x").mkdir(parents=True)
    (folder / "x" / "b.png").write_bytes(b"png")
    (folder / "x" / "b.txt").write_text("caption b")
    (folder / "a.jpg").write_bytes(b"jpg")
    (folder / "notes.md").write_text("ignored")
    items = list(iter_items(str(folder), ListOptions()))
    assert [(i.path.rsplit("/", 1)[-1], i.caption) for i in items] == [("a.jpg", ""),
                                                                        ("b.png", "caption b")]

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in [("k1.jpg", image_bytes(80, 80)), ("k1.txt", b"tar caption"),
                           ("k1.json", b'{"license": "x"}'), ("k2.txt", b"no image")]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    (tmp_path / "w.tar").write_bytes(buf.getvalue())
    items = list(iter_items(str(tmp_path / "w.tar"), ListOptions(keep_columns=("license",))))
    assert [(i.source_id.rsplit("#", 1)[1], i.caption, i.data is not None, i.meta)
            for i in items] == [("k1", "tar caption", True, {"license": "x"}),
                                ("k2", "no image", False, {})]

    found, missing = expand_inputs([str(tmp_path / "l.*"), str(tmp_path / "zz*.csv")])
    assert [f.rsplit("/", 1)[1] for f in found] == ["l.csv", "l.jsonl", "l.parquet"]
    assert missing == [str(tmp_path / "zz*.csv")]


def test_source_defaults_and_overrides():
    assert {n: source_defaults(n)["weight"] for n in ("alt_text", "image_text", "video_text")} \
        == {"alt_text": 0.2, "image_text": 0.2, "video_text": 0.03}
    cfg = {"sources": {"video_text": {"input": ["v.jsonl"], "fps": 2,
                                      "caption": {"min_words": 3}}}}
    v = source_config(cfg, "video_text")
    assert (v["fps"], v["max_frames"], v["caption"]["min_words"], v["caption"]["max_words"]) \
        == (2, 8, 3, 100)
    with pytest.raises(ValueError):
        source_defaults("audio_text")

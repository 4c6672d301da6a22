"""Decontamination indexes: evaluation texts (n-grams and whole short texts) and evaluation
images (exact bytes, then pHash), read from files, folders and WebDataset shards."""

from __future__ import annotations

import io
import json
import pickle
import tarfile

import pytest
from PIL import Image

from filters.decontam import EvalImageIndex, EvalTextIndex, image_phash, read_eval_texts
from filters.phash import hamming, phash
from tests.test_phash import altered, jpeg, photo

LONG = ("The committee announced yesterday that the new bridge across the northern river "
        "will open to traffic early next spring after years of delays")
CAPTION = "A man riding a wave on top of a surfboard."  # 10 words: indexed whole
QUESTION = "What colour is the small dog sitting next to the red bicycle?"  # 12 words
FILLER = ("Our town has many parks and quiet streets where people walk in the evening. " * 5)


@pytest.fixture()
def eval_dir(tmp_path):
    root = tmp_path / "evals"
    (root / "coco").mkdir(parents=True)
    with open(root / "coco" / "captions.jsonl", "w") as fh:
        fh.write(json.dumps({"image_id": 1, "captions": ["two dogs", CAPTION]}) + "\n")
        fh.write("\n")
        fh.write(json.dumps({"image_id": 2, "captions": [LONG]}) + "\n")
    vqa = {"info": {"description": "a tiny made up set of questions for tests only"},
           "questions": [{"question_id": 7, "question": "Is it red?"},
                         {"question_id": 8, "question": QUESTION}]}
    (root / "vqa.json").write_text(json.dumps(vqa))
    (root / "notes.md").write_text(LONG)  # not an evaluation file kind: ignored
    (tmp_path / "lines.txt").write_text("too short line\n" + "one two three four five six "
                                        "seven eight nine ten eleven twelve thirteen\n")
    return tmp_path


def test_reading_files_and_item_ids(eval_dir) -> None:
    items = dict(read_eval_texts(str(eval_dir / "evals")))
    assert items == {
        "coco/captions.jsonl:0": CAPTION,
        "coco/captions.jsonl:2": LONG,
        "vqa.json:info": vqa_description(),
        "vqa.json:questions/1": QUESTION,
    }
    assert dict(read_eval_texts(str(eval_dir / "lines.txt"))) == {
        "lines.txt:1": "one two three four five six seven eight nine ten eleven twelve "
                       "thirteen\n"}
    with pytest.raises(FileNotFoundError):
        list(read_eval_texts(str(eval_dir / "missing")))
    with pytest.raises(ValueError):
        list(read_eval_texts(str(eval_dir / "evals" / "notes.md")))
    (eval_dir / "bad.jsonl").write_text('{"caption": "fine"}\n{"caption": broken\n')
    with pytest.raises(ValueError, match="bad.jsonl:1"):
        list(read_eval_texts(str(eval_dir / "bad.jsonl")))


def vqa_description() -> str:
    return "a tiny made up set of questions for tests only"


def test_text_matches(eval_dir) -> None:
    index = EvalTextIndex.from_paths([str(eval_dir / "evals"), str(eval_dir / "lines.txt")])
    assert index.lengths == (10, 12, 13)
    # A 13-word span of the long text, in another case and punctuation.
    quoted = "THE NEW BRIDGE ACROSS THE NORTHERN RIVER -- will open to traffic, early next spring"
    assert index.match(FILLER + quoted + " " + FILLER) == "coco/captions.jsonl:2"
    # Short texts match whole.
    assert index.match(FILLER + "Look: a man riding a wave on top of a surfboard!") == \
        "coco/captions.jsonl:0"
    assert index.match(QUESTION.upper()) == "vqa.json:questions/1"
    # 12 consecutive words of the long text are not enough; nor is most of the caption.
    assert index.match("the new bridge across the northern river will open to traffic "
                       "early") is None
    assert index.match("a man riding a wave on top of a") is None
    assert index.match(FILLER) is None
    assert index.match("") is None
    # Several matches: the first in text order wins.
    both = FILLER + QUESTION + " and then " + CAPTION
    assert index.match(both) == "vqa.json:questions/1"
    docs = [FILLER, both, quoted, ""]
    assert index.match_batch(docs) == [index.match(d) for d in docs]


def test_text_index_options_and_pickling(eval_dir) -> None:
    index = EvalTextIndex.from_paths([str(eval_dir / "evals")], n=8, min_words=10)
    assert index.lengths == (8,)  # texts of 10-12 words are now long enough for 8-grams
    assert index.match("riding a wave on top of a") is None
    assert index.match("riding a wave on top of a surfboard") == "coco/captions.jsonl:0"
    clone = pickle.loads(pickle.dumps(index))
    assert clone.match("riding a wave on top of a surfboard") == "coco/captions.jsonl:0"
    assert len(pickle.dumps(index)) < 20_000
    empty = EvalTextIndex.from_texts([("x:0", "too short")])
    assert len(empty) == 0 and empty.match(CAPTION) is None


def test_text_index_keeps_the_first_item_of_shared_ngrams() -> None:
    index = EvalTextIndex.from_texts([("a:0", LONG), ("b:0", LONG), ("c:0", LONG + " again")])
    assert index.match(LONG) == "a:0"
    assert index.match("xx " + LONG + " again") == "a:0"


@pytest.fixture()
def image_dir(tmp_path):
    folder = tmp_path / "imgs" / "sub"
    folder.mkdir(parents=True)
    (folder / "a.jpg").write_bytes(jpeg(photo(0), 90))
    buf = io.BytesIO()
    photo(1).save(buf, "PNG")
    (tmp_path / "imgs" / "b.png").write_bytes(buf.getvalue())
    (tmp_path / "imgs" / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (tmp_path / "imgs" / "readme.txt").write_text("not an image")
    with tarfile.open(tmp_path / "shard-000.tar", "w") as tar:
        for name, data in (("000.jpg", jpeg(photo(2), 90)), ("000.json", b"{}"),
                           ("001.webp", webp(photo(3))), ("002.jpg", b"garbage")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return tmp_path


def webp(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "WEBP", quality=90)
    return buf.getvalue()


def test_image_matches(image_dir) -> None:
    import hashlib

    index = EvalImageIndex.from_paths([str(image_dir / "imgs"), str(image_dir / "shard-000.tar")])
    assert len(index) == 4 and index.skipped == 2
    a_path = str(image_dir / "imgs" / "sub" / "a.jpg")
    assert sorted(index.ids) == sorted([a_path, str(image_dir / "imgs" / "b.png"),
                                        "shard-000.tar:000.jpg", "shard-000.tar:001.webp"])
    raw = (image_dir / "imgs" / "sub" / "a.jpg").read_bytes()
    sha = hashlib.sha256(raw).hexdigest()
    assert index.match(sha, None) == a_path  # same bytes
    # Altered copies match by pHash, whatever their bytes.
    for seed, item in ((0, a_path), (2, "shard-000.tar:000.jpg"), (3, "shard-000.tar:001.webp")):
        copy = altered(photo(seed))
        assert index.match("00" * 32, phash(copy)) == item
        assert index.match(None, image_phash(jpeg(copy))) == item
    assert index.match("00" * 32, phash(photo(7))) is None
    assert index.match("00" * 32, None) is None
    clone = pickle.loads(pickle.dumps(index))
    assert clone.match(sha, None) == a_path
    assert clone.match(None, phash(altered(photo(1)))) == str(image_dir / "imgs" / "b.png")
    assert len(pickle.dumps(index)) < 10_000


def test_image_phash_matches_a_full_decode() -> None:
    im = photo(4, 1200, 900)
    data = jpeg(im, 90)
    full = Image.open(io.BytesIO(data)).convert("RGB")
    assert hamming(image_phash(data), phash(full)) <= 2
    with pytest.raises(OSError):  # PIL's UnidentifiedImageError
        image_phash(b"nope")


def test_image_index_nearest_wins_and_distance_limit(image_dir) -> None:
    index = EvalImageIndex.from_paths([str(image_dir / "imgs")], max_distance=0)
    h = phash(Image.open(image_dir / "imgs" / "b.png").convert("RGB"))
    assert index.match(None, h) == str(image_dir / "imgs" / "b.png")
    assert index.match(None, h ^ 1) is None
    wide = EvalImageIndex.from_paths([str(image_dir / "imgs")], max_distance=8)
    assert wide.match(None, h ^ 0b111) == str(image_dir / "imgs" / "b.png")
    with pytest.raises(ValueError):
        EvalImageIndex.from_paths([str(image_dir / "imgs")], max_distance=64)

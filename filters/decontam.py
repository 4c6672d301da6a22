"""Decontamination against evaluation sets: indexes of evaluation texts and images that a
build document or image is looked up in.

Texts. Every evaluation text is normalised to its words (filters.textnorm: lower-cased, words
only) and indexed as hashed word n-grams (``n`` = 13 by default, as in GPT-3's contamination
study). A text shorter than ``n`` words but of at least ``min_words`` is indexed whole, so short
captions still match a document quoting them; a text under ``min_words`` words is too generic
to index. Hashes are those of filters.minhash (a 64-bit polynomial of fmix64 word hashes), the
same in every process, and a document is checked with one vectorised lookup per indexed length.

What is read:
- ``.txt``: one text per line; item id ``"name:line"`` (0-based line number);
- ``.jsonl``: one JSON value per line; every string of at least ``min_words`` words anywhere in
  it (captions, questions, answers...) is a text; item id ``"name:line"``;
- ``.json``: every such string anywhere in the file; item id ``"name:path"`` where path is the
  JSON path of the object holding the string ("annotations/17" for COCO's captions), or of the
  string itself when a list holds it ("items/3/captions/2");
- folders: every file of those three kinds below it, in sorted order; ``name`` is the path
  relative to the folder (a file named directly is named by its base name).

Images. Every image found (folders recursively, by extension; WebDataset ``.tar`` shards, every
member with an image extension) is stored as the SHA-256 of its raw bytes and the pHash of the
decoded picture (filters.phash). Undecodable files are skipped and counted. A build image
matches on equal bytes first, else on a pHash within ``max_distance``, found through the
pigeonhole bands of filters.phash. Item ids are file paths or ``"shard.tar:member"``.

Files are read through a scrapers.storage.Storage: the local disk by default, any store the
pipeline can read (gs://, s3://...) when it passes its own.

Both indexes hold only numpy arrays and lists of ids, so they pickle small.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from collections.abc import Iterator

import numpy as np

from filters.minhash import windows_by_length, word_hashes
from filters.phash import band_spans, phash
from filters.textnorm import words
from scrapers.storage import LOCAL, Storage

TEXT_SUFFIXES = (".txt", ".json", ".jsonl")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp")
_KEY = 0xDEC0  # window-hash key of the text index
_BATCH = 512  # texts hashed per vectorised call when building


def _files_below(path: str, suffixes: tuple[str, ...], storage: Storage = LOCAL
                 ) -> Iterator[tuple[str, str]]:
    """(file path, name) of every file with one of ``suffixes`` under ``path``, sorted."""
    if storage.is_dir(path):
        root = path.rstrip("/")
        for full in storage.files_under(path):
            if full.lower().endswith(suffixes):
                yield full, full[len(root) + 1:] if full.startswith(root + "/") else full
    elif storage.size(path) is not None:
        yield path, path.rstrip("/").rsplit("/", 1)[-1]
    else:
        raise FileNotFoundError(f"evaluation path not found: {path}")


def _strings(value: object, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], str]]:
    """(path of the holder, string) for every string inside a JSON value."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, str):
                yield path, v
            else:
                yield from _strings(v, (*path, str(k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, (*path, str(i)))


def _parse(text: str, where: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:  # name the file and line: eval files are curated
        raise ValueError(f"bad JSON in evaluation file {where}: {exc}") from None


def read_eval_texts(path: str, min_words: int = 8, storage: Storage = LOCAL
                    ) -> Iterator[tuple[str, str]]:
    """(item id, text) of every evaluation text under ``path`` with >= min_words words."""
    for full, name in _files_below(path, TEXT_SUFFIXES, storage):
        suffix = os.path.splitext(full)[1].lower()
        if suffix not in TEXT_SUFFIXES:
            raise ValueError(f"not an evaluation text file (.txt, .json, .jsonl): {full}")
        with storage.open(full) as raw, io.TextIOWrapper(raw, encoding="utf-8",
                                                         errors="replace") as fh:
            if suffix == ".json":
                found = ((f"{name}:{'/'.join(p)}", s)
                         for p, s in _strings(_parse(fh.read(), full), ()))
            elif suffix == ".jsonl":
                found = ((f"{name}:{i}", s) for i, line in enumerate(fh) if line.strip()
                         for _, s in _strings(_parse(line, f"{full}:{i}"), ()))
            else:
                found = ((f"{name}:{i}", line) for i, line in enumerate(fh))
            for item, text in found:
                if len(words(text)) >= min_words:
                    yield item, text


class EvalTextIndex:
    """Hashed word n-grams of evaluation texts -> the evaluation item they come from."""

    def __init__(self, n: int, min_words: int, ids: list[str], hashes: np.ndarray,
                 items: np.ndarray, lengths: tuple[int, ...]) -> None:
        self.n, self.min_words = n, min_words
        self.ids = ids  # item ids, indexed by ``items``
        self._hashes = hashes  # sorted, unique uint64 window hashes
        self._items = items  # int32: the first item holding each hash
        self.lengths = lengths  # window lengths present: n and the short texts' lengths
        # A bitmap of the hashes' top bits (16 bits per hash, about 6% false positives) spares
        # most lookups a binary search, whose cache misses would dominate matching.
        self._shift = np.uint64(64 - max(10, int(np.ceil(np.log2(max(len(hashes), 1) * 16)))))
        pos = hashes >> self._shift
        self._bitmap = np.zeros((1 << (64 - int(self._shift))) // 8, dtype=np.uint8)
        np.bitwise_or.at(self._bitmap, pos >> np.uint64(3),
                         np.left_shift(1, pos & np.uint64(7)).astype(np.uint8))

    @classmethod
    def from_texts(cls, texts: list[tuple[str, str]], n: int = 13, min_words: int = 8
                   ) -> EvalTextIndex:
        """Index (item id, text) pairs; texts under ``min_words`` words are left out."""
        if n < 1 or min_words < 1:
            raise ValueError("n and min_words must be positive")
        ids: list[str] = []
        all_hashes, all_items, lengths = [], [], {n}
        for lo in range(0, len(texts), _BATCH):
            chunk = texts[lo: lo + _BATCH]
            wh, off = word_hashes([t for _, t in chunk])
            counts = np.diff(off)
            wanted = sorted({int(c) for c in counts if min_words <= c < n} | {n})
            hashes, first, size = windows_by_length(wh, off, wanted, _KEY)
            text_of = np.searchsorted(off, first, side="right") - 1
            words_in = counts[text_of]
            # n-grams of long texts; short texts only as one whole window.
            keep = (words_in >= min_words) & ((words_in == size) | (size == n))
            all_hashes.append(hashes[keep])
            all_items.append(text_of[keep] + len(ids))
            lengths.update(np.unique(size[keep]).tolist())
            ids.extend(item for item, _ in chunk)
        if all_hashes:
            flat, items = np.concatenate(all_hashes), np.concatenate(all_items)
            # Stable: equal hashes keep the item read first.
            order = np.lexsort((items, flat))
            flat, items = flat[order], items[order]
            first = np.ones(len(flat), dtype=bool)
            first[1:] = flat[1:] != flat[:-1]
            flat, items = flat[first], items[first]
        else:
            flat, items = np.zeros(0, np.uint64), np.zeros(0, np.int64)
        lengths_found = tuple(sorted(lengths if len(flat) else {n}))
        return cls(n, min_words, ids, flat, items.astype(np.int32), lengths_found)

    @classmethod
    def from_paths(cls, paths: list[str], n: int = 13, min_words: int = 8,
                   storage: Storage = LOCAL) -> EvalTextIndex:
        """Index every evaluation text under ``paths`` (see the module docstring)."""
        texts = [pair for p in paths for pair in read_eval_texts(p, min_words, storage)]
        return cls.from_texts(texts, n, min_words)

    def __len__(self) -> int:
        return len(self._hashes)

    def match_batch(self, texts: list[str]) -> list[str | None]:
        """``match`` for several texts with one set of vectorised operations."""
        result: list[str | None] = [None] * len(texts)
        if not len(self._hashes) or not texts:
            return result
        wh, off = word_hashes(texts)
        hashes, first, size = windows_by_length(wh, off, self.lengths, _KEY)
        top = hashes >> self._shift
        maybe = np.flatnonzero((self._bitmap[top >> np.uint64(3)]
                                >> (top & np.uint64(7)).astype(np.uint8)) & 1)
        if not len(maybe):
            return result
        pos = np.searchsorted(self._hashes, hashes[maybe])
        pos[pos == len(self._hashes)] = 0
        hit = maybe[self._hashes[pos] == hashes[maybe]]
        items = self._items[pos[self._hashes[pos] == hashes[maybe]]]
        text_of = np.searchsorted(off, first[hit], side="right") - 1
        best: dict[int, tuple[int, int, int]] = {}  # text -> (start, -length, item)
        for t, start, length, item in zip(text_of.tolist(), first[hit].tolist(),
                                          size[hit].tolist(), items.tolist()):
            cand = (start, -length, item)
            if t not in best or cand < best[t]:
                best[t] = cand
        for t, (_, _, item) in best.items():
            result[t] = self.ids[item]
        return result

    def match(self, text: str) -> str | None:
        """The evaluation item sharing the earliest matching window of ``text``, or None."""
        return self.match_batch([text])[0]


def _read_images(path: str, storage: Storage = LOCAL) -> Iterator[tuple[str, bytes]]:
    """(item id, raw bytes) of every image file or tar member under ``path``."""
    for full, _ in _files_below(path, (*IMAGE_SUFFIXES, ".tar"), storage):
        if full.lower().endswith(".tar"):
            # Stream mode: members in order, so the shard need not be seekable.
            with storage.open(full) as raw, tarfile.open(fileobj=raw, mode="r|*") as tar:
                for member in tar:
                    if member.isfile() and member.name.lower().endswith(IMAGE_SUFFIXES):
                        fh = tar.extractfile(member)
                        if fh is not None:
                            yield f"{os.path.basename(full)}:{member.name}", fh.read()
        else:
            with storage.open(full) as fh:
                yield full, fh.read()


def image_phash(data: bytes) -> int:
    """pHash of encoded image bytes, decoded the way the build stores images (EXIF orientation
    applied, RGB). Raises on undecodable data."""
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data)) as im:
        im.draft("RGB", (128, 128))  # JPEG: decode at a reduced scale; the hash is 32 x 32
        if im.getexif().get(0x0112, 1) != 1:  # an EXIF orientation other than "upright"
            im = ImageOps.exif_transpose(im)
        return phash(im)  # phash reads other modes as the build does (alpha over white...)


_POP8 = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def _popcount64(x: np.ndarray) -> np.ndarray:
    """Set bits of each uint64 (np.bitwise_count needs numpy 2)."""
    return _POP8[x.view(np.uint8)].reshape(-1, 8).sum(axis=1)


class EvalImageIndex:
    """SHA-256 and pHash of evaluation images -> their item ids."""

    def __init__(self, max_distance: int, ids: list[str], sha: np.ndarray, ph: np.ndarray,
                 skipped: int = 0) -> None:
        self.max_distance = max_distance
        self.ids = ids
        self.skipped = skipped  # undecodable files left out
        self._ph = ph  # uint64 pHash per item
        order = np.argsort(sha, kind="stable")
        self._sha, self._sha_items = sha[order], order.astype(np.int32)  # sorted S32 digests
        self._spans = band_spans(max_distance)
        self._bands = []  # per band: (sorted band values, item of each)
        for shift, width in self._spans:
            vals = (ph >> np.uint64(shift)) & np.uint64((1 << width) - 1)
            order = np.argsort(vals, kind="stable")
            self._bands.append((vals[order], order.astype(np.int32)))

    @classmethod
    def from_paths(cls, paths: list[str], max_distance: int = 4, storage: Storage = LOCAL
                   ) -> EvalImageIndex:
        """Index every image under ``paths`` (see the module docstring)."""
        band_spans(max_distance)  # validates max_distance before any decoding
        ids, digests, hashes, skipped = [], [], [], 0
        for p in paths:
            for item, data in _read_images(p, storage):
                try:
                    ph = image_phash(data)
                except Exception:  # any decoder failure: not an image we can match
                    skipped += 1
                    continue
                ids.append(item)
                digests.append(hashlib.sha256(data).digest())
                hashes.append(ph)
        sha = np.array(digests, dtype="S32") if digests else np.zeros(0, dtype="S32")
        return cls(max_distance, ids, sha, np.array(hashes, dtype=np.uint64), skipped)

    def __len__(self) -> int:
        return len(self.ids)

    def match(self, sha256: str | None, ph: int | None) -> str | None:
        """The evaluation item with the same bytes (hex ``sha256``), else the nearest one
        (then the first read) with a pHash within ``max_distance``, else None."""
        if sha256 and len(self._sha):
            digest = np.array([bytes.fromhex(sha256)], dtype="S32")
            pos = int(np.searchsorted(self._sha, digest)[0])
            if pos < len(self._sha) and self._sha[pos] == digest[0]:
                return self.ids[int(self._sha_items[pos])]
        if ph is None or ph < 0 or not len(self._ph):
            return None
        cands = []
        for (shift, width), (vals, items) in zip(self._spans, self._bands):
            v = np.uint64((ph >> shift) & ((1 << width) - 1))
            lo, hi = np.searchsorted(vals, v, "left"), np.searchsorted(vals, v, "right")
            cands.append(items[lo:hi])
        cand = np.unique(np.concatenate(cands))
        if not len(cand):
            return None
        dist = _popcount64(self._ph[cand] ^ np.uint64(ph))
        ok = dist <= self.max_distance
        if not ok.any():
            return None
        best = np.lexsort((cand[ok], dist[ok]))[0]
        return self.ids[int(cand[ok][best])]

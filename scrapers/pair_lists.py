"""Read (media, caption) pairs from lists and folders, for the image_text and video_text sources.

Inputs, chosen by what the path is:
- a table: ``.jsonl``/``.json``/``.csv``/``.tsv``/``.parquet`` (``.gz`` for the text ones), one
  row per pair, with a URL column (downloaded later) or a path column (relative paths are
  relative to ``base_dir``, default the list's own folder) and a caption column;
- a folder: every media file, with its caption in the sibling ``NAME.txt``;
- a WebDataset ``.tar``: samples with an image member and a ``txt`` caption.

Files are read through a scrapers.storage.Storage (the local disk by default; the pipeline
passes one for object stores too). A caption cell may be a string, a list of strings, or a list
of ``{"text", "lang"}`` records (the first in ``caption_lang`` wins, else the first). Nothing
here raises on a bad row: a row without a usable media reference still becomes a PairItem, so
that it can be rejected.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from scrapers.storage import LOCAL, Storage, local_path, scheme

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff")
VIDEO_EXTS = (".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi", ".gif", ".mpg", ".mpeg", ".ts")
TABLE_EXTS = (".jsonl", ".json", ".ndjson", ".csv", ".tsv", ".parquet")
URL_COLUMNS = ("url", "URL", "image_url", "video_url", "contentUrl")
PATH_COLUMNS = ("image", "video", "path", "file", "filepath", "filename")
CAPTION_COLUMNS = ("caption", "captions", "TEXT", "text", "description", "alt")
MAX_CAPTION_FILE = 1_000_000


@dataclass
class PairItem:
    source_id: str  # where the pair came from: "list.jsonl#12", a file path, "x.tar#key"
    caption: str
    url: str = ""  # http(s) URL to download
    path: str = ""  # local file
    data: bytes | None = None  # media bytes already in hand (WebDataset input)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def locator(self) -> str:
        return self.url or self.path or self.source_id


@dataclass(frozen=True)
class ListOptions:
    url_column: str | None = "url"
    path_column: str | None = None  # None: the first of PATH_COLUMNS present
    caption_column: str | None = "caption"
    caption_lang: str | None = None
    base_dir: str | None = None
    keep_columns: tuple[str, ...] = ()
    media: str = "image"  # "image" or "video": which files a folder or tar holds


def caption_value(cell: Any, lang: str | None = None) -> str:
    """The caption text in a cell: str, list of str, {"text", "lang"} records or a list."""
    if cell is None:
        return ""
    if isinstance(cell, str):
        return cell
    if isinstance(cell, dict):
        return str(cell.get("text") or cell.get("caption") or "")
    if isinstance(cell, (list, tuple)):
        if lang:
            for c in cell:
                if isinstance(c, dict) and c.get("lang") == lang and caption_value(c):
                    return caption_value(c)
        for c in cell:
            text = caption_value(c)
            if text.strip():
                return text
        return ""
    return str(cell)


def _open_text(path: str, storage: Storage) -> io.TextIOBase:
    raw: Any = storage.open(path)
    if path.endswith(".gz"):
        raw = gzip.GzipFile(fileobj=raw, mode="rb")
    return io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="")


def read_rows(path: str, storage: Storage = LOCAL) -> Iterator[dict[str, Any]]:
    """Rows of a JSONL/JSON/CSV/TSV/Parquet table as dicts. A bad JSON line yields {}."""
    name = path[:-3] if path.endswith(".gz") else path
    if name.endswith(".parquet"):
        import pyarrow.parquet as pq

        with storage.open(path) as fh:  # row groups are read one batch at a time
            for batch in pq.ParquetFile(fh).iter_batches(batch_size=4096):
                yield from batch.to_pylist()
        return
    with _open_text(path, storage) as fh:
        if name.endswith((".csv", ".tsv")):
            yield from csv.DictReader(fh, delimiter="\t" if name.endswith(".tsv") else ",")
            return
        first = fh.read(1)
        rest = fh.read() if first == "[" else None
        if rest is not None:  # a JSON array
            for row in json.loads(first + rest):
                yield row if isinstance(row, dict) else {}
            return
        lines = (first + line if i == 0 else line for i, line in enumerate(fh))
        for line in lines:
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                row = {}
            yield row if isinstance(row, dict) else {}


def _pick(row: dict[str, Any], column: str | None, fallbacks: tuple[str, ...]) -> Any:
    if column and column in row:
        return row[column]
    for name in fallbacks:
        if name in row and row[name] not in (None, ""):
            return row[name]
    return None


def row_item(row: dict[str, Any], source_id: str, opts: ListOptions, base_dir: str,
             storage: Storage = LOCAL) -> PairItem:
    caption = caption_value(_pick(row, opts.caption_column, CAPTION_COLUMNS), opts.caption_lang)
    url = _pick(row, opts.url_column, URL_COLUMNS)
    ref = _pick(row, opts.path_column, PATH_COLUMNS)
    meta = {k: row[k] for k in opts.keep_columns if k in row}
    item = PairItem(source_id, caption, meta=meta)
    for column, value in (("url", url), ("path", ref)):
        if not isinstance(value, str) or not value.strip():
            continue
        value = value.strip()
        kind = scheme(value)
        if kind == "file":
            item.path = local_path(value)
        elif kind in ("http", "https") or (kind and column == "url"):
            item.url = value  # any other scheme in a URL column: for the guard to judge
        elif kind:
            item.path = value  # gs://, s3://... in a path column: a stored file
        else:
            item.path = value if storage.is_absolute(value) else storage.join(base_dir, value)
        break
    return item


def table_items(path: str, opts: ListOptions, storage: Storage = LOCAL) -> Iterator[PairItem]:
    base = opts.base_dir or storage.dirname(path)
    for i, row in enumerate(read_rows(path, storage)):
        yield row_item(row, f"{path}#{i}", opts, base, storage)


def _sidecar_caption(path: str, present: set[str], storage: Storage) -> str:
    stem = os.path.splitext(path)[0]
    for cand in (stem + ".txt", path + ".txt"):
        if cand in present:
            with storage.open(cand) as fh:
                return fh.read(MAX_CAPTION_FILE).decode("utf-8", "replace")
    return ""


def folder_items(folder: str, opts: ListOptions, storage: Storage = LOCAL
                 ) -> Iterator[PairItem]:
    exts = IMAGE_EXTS if opts.media == "image" else VIDEO_EXTS
    files = storage.files_under(folder)  # one listing; sidecars are looked up in it
    present = set(files)
    for path in files:
        if path.lower().endswith(exts):
            yield PairItem(path, _sidecar_caption(path, present, storage), path=path)


def webdataset_items(path: str, opts: ListOptions, storage: Storage = LOCAL
                     ) -> Iterator[PairItem]:
    """Samples of a WebDataset tar, grouped by key (the name up to its first dot)."""
    exts = tuple(e.lstrip(".") for e in (IMAGE_EXTS if opts.media == "image" else VIDEO_EXTS))
    key: str | None = None
    members: dict[str, bytes] = {}

    def emit() -> Iterator[PairItem]:
        if key is None:
            return
        media = next((members[e] for e in exts if e in members), None)
        caption = members.get("txt", b"").decode("utf-8", "replace")
        meta: dict[str, Any] = {}
        if "json" in members:
            try:
                meta = {k: v for k, v in json.loads(members["json"]).items()
                        if k in opts.keep_columns}
            except ValueError:
                pass
        yield PairItem(f"{path}#{key}", caption, data=media, meta=meta)

    # Stream mode: members are read in order, so the tar need not be seekable.
    with storage.open(path) as raw, tarfile.open(fileobj=raw, mode="r|*") as tar:
        for info in tar:
            if not info.isfile():
                continue
            base = os.path.basename(info.name)
            k, _, ext = base.partition(".")
            k = os.path.join(os.path.dirname(info.name), k)
            if k != key:
                yield from emit()
                key, members = k, {}
            fh = tar.extractfile(info)
            members[ext.lower()] = fh.read() if fh else b""
    yield from emit()


def iter_items(path: str, opts: ListOptions, storage: Storage = LOCAL) -> Iterator[PairItem]:
    """Every pair in one input (table, folder or tar), in a stable order."""
    if storage.is_dir(path):
        yield from folder_items(path, opts, storage)
    elif path.endswith((".tar", ".tar.gz", ".tgz")):
        yield from webdataset_items(path, opts, storage)
    else:
        yield from table_items(path, opts, storage)

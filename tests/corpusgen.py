"""Small corpora in the OBELICS and MMC4 schemas, written by the tests themselves: English
prose that passes the m3w preset's filters, and real images; and a build's shards read back."""

from __future__ import annotations

import base64
import gzip
import json
import random
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import webdataset as wds

from pipeline.sample_site.text import TOPICS, paragraph
from tests.imagegen import image_bytes
from tests.warcgen import warc_bytes


@dataclass
class Page:
    """A document to write: nodes ("text", str) or ("image", url, bytes or None, alt), in
    order."""

    url: str
    nodes: list[tuple] = field(default_factory=list)

    @property
    def texts(self) -> list[str]:
        return [n[1] for n in self.nodes if n[0] == "text"]

    @property
    def image_urls(self) -> list[str]:
        return [n[1] for n in self.nodes if n[0] == "image"]


def pages(n: int, base: str, seed: int = 0, images: int = 2, embed: bool = True,
          paragraphs: int = 3) -> list[Page]:
    """``n`` pages of ``paragraphs`` distinct English paragraphs, an image after each of the
    first ``images`` of them (bytes included when ``embed``)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        used: set[str] = set()
        topic = TOPICS[i % len(TOPICS)]
        page = Page(f"{base}/doc{i}")
        for j in range(paragraphs):
            page.nodes.append(("text", paragraph(rng, topic, 5, used=used)))
            if j < images:
                data = image_bytes(220 + 10 * j, 160 + 7 * i, "JPEG", seed * 1000 + i * 10 + j)
                page.nodes.append(("image", f"{base}/img/{i}-{j}.jpg", data if embed else None,
                                   f"A picture of the {topic} story, number {i}.{j}"))
        out.append(page)
    return out


def obelics_row(page: Page, embed: bool = True) -> dict:
    row = {
        "texts": [n[1] if n[0] == "text" else None for n in page.nodes],
        "images": [n[1] if n[0] == "image" else None for n in page.nodes],
        "metadata": json.dumps([{"alt_text": n[3]} if n[0] == "image" else None
                                for n in page.nodes]),
        "general_metadata": json.dumps({"url": page.url, "warc_filename": "x.warc.gz",
                                        "warc_record_offset": 0}),
    }
    if embed:
        row["image_bytes"] = [n[2] if n[0] == "image" else None for n in page.nodes]
    return row


def write_obelics(path: str | Path, rows: list[dict], row_group_size: int = 4) -> None:
    """rows as given (bad ones too): columns typed as OBELICS publishes them."""
    fields = [("texts", pa.list_(pa.string())), ("images", pa.list_(pa.string())),
              ("metadata", pa.string()), ("general_metadata", pa.string())]
    if any("image_bytes" in r for r in rows):
        fields.append(("image_bytes", pa.list_(pa.binary())))
    names = {name for r in rows for name in r}
    schema = pa.schema([f for f in fields if f[0] in names])
    table = pa.Table.from_pylist([{k: r.get(k) for k in schema.names} for r in rows], schema)
    pq.write_table(table, str(path), row_group_size=row_group_size)


def mmc4_doc(page: Page, embed: bool = True) -> dict:
    """MMC4's document object: each image matched to the text that follows it."""
    texts, infos = [], []
    pending: list[tuple] = []
    for node in page.nodes:
        if node[0] == "image":
            pending.append(node)
            continue
        for _, url, data, _alt in pending:
            info = {"raw_url": url, "image_name": url.rsplit("/", 1)[-1],
                    "matched_text_index": len(texts), "matched_sim": 0.3}
            if embed and data is not None:
                info["image_base64"] = base64.b64encode(data).decode()
            infos.append(info)
        pending = []
        texts.append(node[1])
    return {"url": page.url, "text_list": texts, "image_info": infos,
            "similarity_matrix": [[0.3] * len(texts) for _ in infos]}


def write_jsonl(path: str | Path, lines: list[dict | str]) -> None:
    """One JSON object a line (a str line is written as it is); gzipped for a .gz name."""
    body = "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines).encode()
    Path(path).write_bytes(gzip.compress(body, mtime=0) if str(path).endswith(".gz") else body)


def html(page: Page, title: str) -> bytes:
    parts = [f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"]
    for node in page.nodes:
        if node[0] == "text":
            parts.append(f"<p>{node[1]}</p>")
        else:
            parts.append(f"<figure><img src='{node[1]}' alt='{node[3]}'></figure>")
    parts.append("</article></body></html>")
    return "".join(parts).encode()


def write_warc(path: str | Path, pages: list[Page]) -> None:
    """The pages as HTML responses with their images stored as image records."""
    records = []
    for i, p in enumerate(pages):
        records.append({"url": p.url, "body": html(p, f"Page number {i} of the site")})
        records += [{"url": n[1], "body": n[2], "ctype": "image/jpeg"}
                    for n in p.nodes if n[0] == "image" and n[2] is not None]
    Path(path).write_bytes(warc_bytes(records))


def shard_samples(build: Path, source: str) -> dict[str, dict[str, bytes]]:
    """key -> sample of one source's shards in a build, as webdataset reads them."""
    manifest = json.loads((build / "manifest.json").read_text())
    urls = [str(build / s["path"]) for s in manifest["sources"][source]["shards"]]
    return {s["__key__"]: s for s in wds.WebDataset(urls, shardshuffle=False)}


def shard_documents(build: Path) -> dict[str, tuple[dict, dict[str, bytes]]]:
    """key -> (document JSON, sample) of a build's interleaved shards."""
    return {k: (json.loads(s["json"]), s) for k, s in shard_samples(build, "interleaved").items()}

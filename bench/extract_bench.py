"""Compare the extraction backends (m3w's own and trafilatura) on the dev pages.

Usage: python bench/extract_bench.py [DATA_DIR] [--limit N] [--backends m3w,trafilatura]

Both backends run in this one process on the same pages, so their pages/s compare. Figures,
computed as the shared evaluation scripts do:
- text: mean token F1 against full-text gold (bag of lowercase \\w+ tokens), and snippet
  accuracy (share of `with` snippets found plus `without` snippets absent);
- images, on the Readability pages: micro precision and recall of image URLs against the
  <img src> of expected.html (resolved against the suite's base URL), and the mean pairwise
  order agreement.
DATA_DIR defaults to ../shared/data/dev; when it is missing the script says so and exits 0.
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urljoin

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scrapers.extract import extract  # noqa: E402
from scrapers.trafilatura_backend import extract_trafilatura  # noqa: E402

TOKEN = re.compile(r"\w+", re.UNICODE)
IMG = re.compile(r"<img\b[^>]*?\bsrc\s*=\s*[\"']([^\"']+)[\"']", re.I)
BASE = "http://fakehost/test/page.html"
DEV_DATA = Path(__file__).resolve().parents[2] / "shared/data/dev"  # beside the checkout
BACKENDS: dict[str, Callable] = {"m3w": extract, "trafilatura": extract_trafilatura}


def f1(pred: str, gold: str) -> float | None:
    p = collections.Counter(t.lower() for t in TOKEN.findall(pred))
    g = collections.Counter(t.lower() for t in TOKEN.findall(gold))
    if not g:
        return None
    overlap = sum((p & g).values())
    if not overlap:
        return 0.0
    prec, rec = overlap / sum(p.values()), overlap / sum(g.values())
    return 2 * prec * rec / (prec + rec)


def text_pages(data: Path, limit: int) -> list[tuple[str, str, bytes, object]]:
    per: dict[str, list] = collections.defaultdict(list)
    for line in open(data / "pages_gold/index.jsonl", encoding="utf-8"):
        r = json.loads(line)
        if r.get("gold_empty"):
            continue
        html = gzip.open(data / r["html"]).read()
        if r["gold_type"] == "full_text":
            gold: object = (data / r["gold"]).read_text(encoding="utf-8")
        else:
            gold = (r.get("with") or [], r.get("without") or [])
        per[r["dataset"]].append((r["dataset"], r.get("url") or "http://example.com/", html, gold))
    return [row for k in sorted(per) for row in (per[k][:limit] if limit else per[k])]


def image_pages(data: Path) -> list[tuple[str, bytes, list[str]]]:
    """(page id, html, expected image URLs in order) for each Readability page with images."""
    def norm(u: str) -> str:
        return u.strip().replace("&amp;", "&")

    rows = [json.loads(line) for line in open(data / "pages_images/index.jsonl", encoding="utf-8")]
    out = []
    for r in sorted(rows, key=lambda r: r["id"]):
        if not r["dataset"].startswith("readability") or r.get("synthetic_fixture"):
            continue
        exp = (data / r["expected_html"]).read_text(encoding="utf-8", errors="replace")
        want = [norm(urljoin(BASE, norm(s))) for s in IMG.findall(exp) if not s.startswith("data:")]
        if want:
            out.append((r["id"], (data / r["html"]).read_bytes(), want))
    return out


def run_text(fn: Callable, rows: list) -> dict:
    scores, snippets = [], []
    t0 = time.perf_counter()
    for _, url, html, gold in rows:
        try:
            doc = fn(html, url)
        except Exception:  # a crash scores as an empty extraction, as in the shared script
            doc = None
        text = "" if doc is None else doc.text
        if isinstance(gold, tuple):
            with_, without = gold
            if with_ or without:
                ok = sum(w in text for w in with_) + sum(w not in text for w in without)
                snippets.append(ok / (len(with_) + len(without)))
        else:
            s = f1(text, gold)
            if s is not None:
                scores.append(s)
    dt = time.perf_counter() - t0
    return {"f1": sum(scores) / max(len(scores), 1),
            "snippets": sum(snippets) / max(len(snippets), 1), "pages_per_s": len(rows) / dt}


def run_images(fn: Callable, rows: list) -> dict:
    tp = ngot = nwant = 0
    orders = []
    t0 = time.perf_counter()
    for _, html, want in rows:
        try:
            doc = fn(html, BASE)
        except Exception:
            doc = None
        got = [] if doc is None else [i.src.strip().replace("&amp;", "&") for i in doc.images]
        tp += len(set(got) & set(want))
        ngot += len(set(got))
        nwant += len(set(want))
        pos = {u: i for i, u in enumerate(got)}
        common = [u for u in want if u in pos]
        pairs = [(a, b) for i, a in enumerate(common) for b in common[i + 1:]]
        if pairs:
            orders.append(sum(pos[a] < pos[b] for a, b in pairs) / len(pairs))
    dt = time.perf_counter() - t0
    return {"precision": tp / max(ngot, 1), "recall": tp / max(nwant, 1),
            "order": sum(orders) / max(len(orders), 1), "pages_per_s": len(rows) / dt}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data", nargs="?", default=str(DEV_DATA))
    ap.add_argument("--limit", type=int, default=0, help="pages per gold set (0: all)")
    ap.add_argument("--backends", default="m3w,trafilatura")
    a = ap.parse_args(argv)
    data = Path(a.data)
    if not (data / "pages_gold/index.jsonl").exists():
        print(f"no dev data at {data} (pages_gold/index.jsonl missing); nothing to measure")
        return 0
    rows = text_pages(data, a.limit)
    imgs = image_pages(data) if (data / "pages_images/index.jsonl").exists() else []
    print(f"{len(rows)} text pages, {len(imgs)} image pages")
    print(f"{'backend':12s} {'F1':>6s} {'snip':>6s} {'pages/s':>8s} | "
          f"{'img P':>6s} {'img R':>6s} {'order':>6s} {'pages/s':>8s}")
    for name in a.backends.split(","):
        fn = BACKENDS[name]
        t = run_text(fn, rows)
        i = run_images(fn, imgs) if imgs else {"precision": 0, "recall": 0, "order": 0,
                                               "pages_per_s": 0}
        print(f"{name:12s} {t['f1']:6.4f} {t['snippets']:6.4f} {t['pages_per_s']:8.1f} | "
              f"{i['precision']:6.3f} {i['recall']:6.3f} {i['order']:6.3f} "
              f"{i['pages_per_s']:8.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

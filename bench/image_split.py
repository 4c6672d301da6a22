"""Generalisation check for the extractor's image choices: the dev pages split in two halves.

Usage: python bench/image_split.py [DATA_DIR] [--trafilatura]

The Readability pages with images in DATA_DIR (default ../shared/data/dev) are split by a hash
of their id, so the halves do not move when pages are added. Tune on half A only, then look at
half B: a rule that fits the pages it was written for lifts A and leaves B flat or worse. A
change to the image rules lands when neither half falls. Scoring is the shared evaluation
script's own (`image_eval.py` beside the data), imported rather than rewritten: exact-URL
precision, recall and pairwise order, and precision/recall with size variants of one picture
counted as one. When the data or that script is missing, the bench says so and exits 0.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def half(page_id: str) -> str:
    """"A" or "B", from the page id alone."""
    return "AB"[hashlib.sha256(page_id.encode()).digest()[0] & 1]


def load_eval(data: Path) -> ModuleType | None:
    """The shared image_eval module (in DATA_DIR/../../bench), or None when absent."""
    path = data.resolve().parents[1] / "bench" / "image_eval.py"
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location("image_eval", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def score(ev: ModuleType, fn: Callable, rows: Iterable[tuple[str, bytes, list[str]]]) -> dict:
    """Micro precision/recall (exact and same-picture) and mean pairwise order, as image_eval."""
    tp = ngot = nwant = ltp = lgot = lwant = 0
    orders = []
    pages = 0
    for _pid, html, want in rows:
        pages += 1
        try:
            got = fn(html, ev.BASE)
        except Exception:  # a crash scores as an empty page, as in image_eval
            got = []
        tp += len(set(got) & set(want))
        ngot += len(set(got))
        nwant += len(set(want))
        lg, lw = {ev.loose(u) for u in got}, {ev.loose(u) for u in want}
        ltp += len(lg & lw)
        lgot += len(lg)
        lwant += len(lw)
        agree, pairs = ev.order_agreement(got, want)
        if pairs:
            orders.append(agree / pairs)
    return {"pages": pages, "precision": tp / max(ngot, 1), "recall": tp / max(nwant, 1),
            "order": sum(orders) / max(len(orders), 1),
            "precision_loose": ltp / max(lgot, 1), "recall_loose": ltp / max(lwant, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", nargs="?", default=str(ROOT.parent / "shared" / "data" / "dev"))
    ap.add_argument("--trafilatura", action="store_true", help="score trafilatura too")
    a = ap.parse_args()
    data = Path(a.data)
    ev = load_eval(data) if (data / "pages_images" / "index.jsonl").exists() else None
    if ev is None:
        print(f"image_split: no pages_images/index.jsonl or bench/image_eval.py for {data}; "
              "nothing to measure")
        return 0
    rows = ev.pages(str(data))
    extractors = ev.extractors(True)
    if not a.trafilatura:
        extractors = {"ours": extractors["ours"]}
    for name, fn in extractors.items():
        for h in ("A", "B", "all"):
            part = [r for r in rows if h == "all" or half(r[0]) == h]
            r = score(ev, fn, part)
            print(f"{name:24s} half={h:3s} pages={r['pages']:3d} P={r['precision']:.3f} "
                  f"R={r['recall']:.3f} order={r['order']:.3f} (same picture at any size: "
                  f"P={r['precision_loose']:.3f} R={r['recall_loose']:.3f})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

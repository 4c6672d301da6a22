"""Generalisation check for the extractor's image choices: the dev pages split in two halves.

Usage: python bench/image_split.py [DATA_DIR] [--backends m3w,trafilatura]

The Readability pages with images in DATA_DIR (default ../shared/data/dev) are split by a hash
of their id, so the halves do not move when pages are added. Tune on half A only, then look at
half B: a rule that fits the pages it was written for lifts A and leaves B flat or worse. A
change to the image rules lands when neither half falls. Pages and scores are those of
`extract_bench.py` (exact-URL precision, recall and pairwise order, as the shared evaluation
script computes them). When the data is missing, the bench says so and exits 0.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from extract_bench import BACKENDS, DEV_DATA, image_pages, run_images  # noqa: E402


def half(page_id: str) -> str:
    """"A" or "B", from the page id alone."""
    return "AB"[hashlib.sha256(page_id.encode()).digest()[0] & 1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", nargs="?", default=str(DEV_DATA))
    ap.add_argument("--backends", default="m3w")
    a = ap.parse_args(argv)
    data = Path(a.data)
    if not (data / "pages_images/index.jsonl").exists():
        print(f"image_split: no pages_images/index.jsonl in {data}; nothing to measure")
        return 0
    rows = image_pages(data)
    print(f"{'backend':12s} {'half':>4s} {'pages':>5s} {'P':>6s} {'R':>6s} {'order':>6s}")
    for name in a.backends.split(","):
        for h in ("A", "B", "all"):
            part = [r for r in rows if h == "all" or half(r[0]) == h]
            r = run_images(BACKENDS[name], part)
            print(f"{name:12s} {h:>4s} {len(part):5d} {r['precision']:6.3f} {r['recall']:6.3f} "
                  f"{r['order']:6.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

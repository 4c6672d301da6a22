"""Deduplication cores: MinHash speed against datasketch, near-duplicate recall and precision,
and the speed of pHash and of the evaluation-text lookup.

Usage: python bench/dedup_bench.py [--docs 5000] [--pairs 400] [--per-bin 300] [--only-curve]
       [--seed 0]
Measures, single process, on generated English-like documents of about 2 KB (words drawn
from a seeded Zipf vocabulary, in sentences):
1. signatures/s: datasketch.MinHash(num_perm=112) updated with each word 5-gram (and with
   update_batch), against filters.minhash.minhash_batch in batches of 256; also shingling
   alone (word and 5-gram hashes);
2. near-duplicate quality of filters.near_dup.clusters (its default bands x rows, 16-bit
   signatures as the Beam stage ships them): duplicate pairs
   made from a base document by word substitutions, insertions and deletions until their true
   Jaccard (Python sets of 5-gram shingles) lands in [0.8, 1.0]; hard non-duplicates made the
   same way down to [0.3, 0.5); unrelated documents besides. A pair is a true duplicate when
   its true Jaccard is >= 0.8. Recall: true duplicate pairs put in one cluster; precision:
   pairs put in one cluster that are true duplicates (every such pair is checked);
3. the S-curve: share of pairs merged by true Jaccard, in bins of 0.05 from 0.30 to 1.00,
   for the old setting (14 x 8, verify >= 0.7) and the candidates for a new one, with the
   Beam stage's 16-bit signatures and bounded verification (each bucket member against the
   bucket's BUCKET_HEADS best-ranked members); targets: recall >= 0.99 at J >= 0.7, and
   >= 0.99 of pairs at J <= 0.5 left apart (``--only-curve`` runs it alone);
4. pHash images/s (640 x 480, decoded and from JPEG bytes) and evaluation-text matches/s.
Rates are items per CPU second of this single-threaded process, i.e. per core.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import sys
import time
from itertools import combinations

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from filters.textnorm import words  # noqa: E402

BATCH = 256
NGRAM = 5


class TextGen:
    """English-like text from a seeded vocabulary with Zipf frequencies."""

    def __init__(self, seed: int, vocab: int = 8000) -> None:
        self.rng = random.Random(seed)
        letters = "etaoinshrdlcumwfgypbvkjxqz"
        freq = [12, 9, 8, 7.5, 7, 6.7, 6.3, 6, 6, 4.3, 4, 2.8, 2.8, 2.4, 2.4, 2.2, 2, 2, 1.9,
                1.5, 1, 0.8, 0.2, 0.2, 0.1, 0.1]
        self.vocab = ["".join(self.rng.choices(letters, freq, k=self.rng.randint(1, 10)))
                      for _ in range(vocab)]
        self.weights = [1.0 / (i + 1) for i in range(vocab)]

    def words(self, k: int) -> list[str]:
        return self.rng.choices(self.vocab, self.weights, k=k)

    def document(self, chars: int = 2000) -> str:
        out, size = [], 0
        while size < chars:
            sent = self.words(self.rng.randint(6, 22))
            sent[0] = sent[0].capitalize()
            if len(sent) > 8 and self.rng.random() < 0.5:
                sent[len(sent) // 2] += ","
            s = " ".join(sent) + self.rng.choice([".", ".", ".", "?", "!"])
            out.append(s)
            size += len(s) + 1
        return " ".join(out)


def shingles(text: str, n: int = NGRAM) -> set[tuple[str, ...]]:
    w = words(text)
    return {tuple(w[i: i + n]) for i in range(max(len(w) - n + 1, 1))}


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def _rate(fn, count: int, repeat: int = 3) -> float:
    """Items per CPU second of this process, fastest of ``repeat`` runs (CPU time, not wall
    time, so that other work on the machine does not count against us)."""
    best = float("inf")
    for _ in range(repeat):
        t = time.process_time()
        fn()
        best = min(best, time.process_time() - t)
    return count / max(best, 1e-9)


def bench_speed(docs: list[str]) -> dict[str, float]:
    from datasketch import MinHash

    from filters.minhash import minhash_batch, window_hashes, word_hashes

    # Permutations made once and shared, as a careful datasketch user would.
    template = MinHash(num_perm=112)

    def new_minhash() -> MinHash:
        return MinHash(num_perm=112, permutations=template.permutations,
                       scheme=template.scheme)

    def ds_update(subset: list[str]) -> None:
        for doc in subset:
            w = words(doc)
            m = new_minhash()
            for i in range(max(len(w) - NGRAM + 1, 1)):
                m.update(" ".join(w[i: i + NGRAM]).encode("utf8"))

    def ds_batch(subset: list[str]) -> None:
        for doc in subset:
            w = words(doc)
            m = new_minhash()
            m.update_batch([" ".join(w[i: i + NGRAM]).encode("utf8")
                            for i in range(max(len(w) - NGRAM + 1, 1))])

    def ours() -> None:
        for i in range(0, len(docs), BATCH):
            minhash_batch(docs[i: i + BATCH], num_perm=112, ngram=NGRAM)

    def shingling() -> None:
        for i in range(0, len(docs), BATCH):
            window_hashes(*word_hashes(docs[i: i + BATCH]), NGRAM)

    ds_docs = docs[: min(len(docs), 2000)]  # datasketch is slow; its rate is per document
    out = {
        "datasketch_docs_per_s": _rate(lambda: ds_update(ds_docs), len(ds_docs), 1),
        "datasketch_batch_docs_per_s": _rate(lambda: ds_batch(ds_docs), len(ds_docs), 1),
        "ours_docs_per_s": _rate(ours, len(docs)),
        "ours_shingling_docs_per_s": _rate(shingling, len(docs)),
    }
    out["ratio"] = out["ours_docs_per_s"] / out["datasketch_docs_per_s"]
    out["ratio_vs_update_batch"] = out["ours_docs_per_s"] / out["datasketch_batch_docs_per_s"]
    return out


def _variant(gen: TextGen, base: list[str], lo: float, hi: float, base_sh: set
             ) -> tuple[list[str], float] | None:
    """Edit ``base`` one random word operation at a time until its true Jaccard with the
    base falls below ``hi``; None when it overshoots below ``lo``."""
    w = list(base)
    j = 1.0
    while j >= hi:
        op, pos = gen.rng.random(), gen.rng.randrange(len(w))
        if op < 0.5:
            w[pos] = gen.words(1)[0]
        elif op < 0.75:
            w.insert(pos, gen.words(1)[0])
        elif len(w) > NGRAM + 1:
            del w[pos]
        j = jaccard(base_sh, shingles(" ".join(w)))
    return (w, j) if j >= lo else None


PAIR_KINDS = (("dup", 0.8, 1.0), ("hard", 0.3, 0.5))  # (name, true Jaccard from, to)


def make_pairs(gen: TextGen, n_pairs: int, kinds: tuple[tuple[str, float, float], ...] = PAIR_KINDS,
               singles: bool = True) -> tuple[dict[str, str], list[tuple[str, str, float]]]:
    """Documents and the intended pairs (a, b, true Jaccard): n_pairs of each kind (by
    default duplicates in [0.8, 1] and hard non-duplicates in [0.3, 0.5)), and n_pairs
    unrelated singletons."""
    docs: dict[str, str] = {}
    pairs = []
    for kind, lo, hi in kinds:
        made = 0
        while made < n_pairs:
            base = gen.document()
            base_w = base.split()
            base_sh = shingles(base)
            # Aim the variant anywhere in [lo, hi]: some dup pairs are exact copies.
            target = gen.rng.uniform(lo, hi)
            if kind == "dup" and target > 0.99:
                found = (base_w, 1.0)
            else:
                found = _variant(gen, base_w, lo, max(target, lo + 1e-9), base_sh)
            if found is None:
                continue
            a, b = f"{kind}{made:05d}a", f"{kind}{made:05d}b"
            docs[a], docs[b] = base, " ".join(found[0])
            pairs.append((a, b, jaccard(base_sh, shingles(docs[b]))))
            made += 1
    for i in range(n_pairs if singles else 0):
        docs[f"single{i:05d}"] = gen.document()
    return docs, pairs


def grey_zone(gen: TextGen, n_pairs: int, thresholds: list[float]
              ) -> dict[str, dict[str, float]]:
    """Share of pairs merged, by true Jaccard band, for pairs between 0.5 and 0.8 (neither
    counted as duplicates nor as non-duplicates above), at each verification threshold."""
    from filters.minhash import compact_signatures, minhash_batch
    from filters.near_dup import DEFAULT_BANDS, DEFAULT_ROWS, clusters

    docs, pairs = make_pairs(gen, n_pairs, (("grey", 0.5, 0.8),), singles=False)
    ids = sorted(docs)
    sigs = dict(zip(ids, compact_signatures(minhash_batch(
        [docs[i] for i in ids], num_perm=DEFAULT_BANDS * DEFAULT_ROWS))))
    out: dict[str, dict[str, float]] = {}
    for threshold in thresholds:
        surv = clusters(sigs, threshold=threshold)
        shares = out[f"grey_t{threshold}"] = {}
        for lo in (0.5, 0.6, 0.7):
            band = [(a, b) for a, b, j in pairs if lo <= j < lo + 0.1]
            shares[f"{lo:.1f}-{lo + 0.1:.1f}"] = (
                sum(surv[a] == surv[b] for a, b in band) / len(band) if band else float("nan"))
    return out


def bench_quality(docs: dict[str, str], pairs: list[tuple[str, str, float]],
                  threshold: float, star: bool = False) -> dict[str, float]:
    from filters.minhash import compact_signatures, minhash_batch
    from filters.near_dup import DEFAULT_BANDS, DEFAULT_ROWS, clusters

    ids = sorted(docs)
    sig_rows = np.concatenate([minhash_batch([docs[i] for i in ids[k: k + BATCH]],
                                             num_perm=DEFAULT_BANDS * DEFAULT_ROWS)
                               for k in range(0, len(ids), BATCH)])
    sigs = dict(zip(ids, compact_signatures(sig_rows)))
    survivor = clusters(sigs, threshold=threshold, star=star)
    members: dict[str, list[str]] = {}
    for doc_id, s in survivor.items():
        members.setdefault(s, []).append(doc_id)
    sh = {}
    merged = true_merged = 0
    for group in members.values():
        for a, b in combinations(sorted(group), 2):
            for x in (a, b):
                if x not in sh:
                    sh[x] = shingles(docs[x])
            merged += 1
            true_merged += jaccard(sh[a], sh[b]) >= 0.8
    dups = [(a, b, j) for a, b, j in pairs if j >= 0.8]
    found = sum(survivor[a] == survivor[b] for a, b, _ in dups)
    low = [(a, b) for a, b, j in pairs if 0.8 <= j < 0.85]
    return {
        "dup_pairs": len(dups),
        "recall": found / len(dups) if dups else 1.0,
        "recall_0.80_0.85": (sum(survivor[a] == survivor[b] for a, b in low) / len(low)
                             if low else 1.0),
        "merged_pairs": merged,
        "precision": true_merged / merged if merged else 1.0,
        "hard_pairs_merged": sum(survivor[a] == survivor[b]
                                 for a, b, j in pairs if j < 0.5),
    }


# Near-duplicate settings compared on the S-curve: (name, ngram, bands, rows, threshold).
SETTINGS = (("5-gram 14x8 t0.70 (old)", 5, 14, 8, 0.70),
            ("5-gram 40x5 t0.60", 5, 40, 5, 0.60),
            ("3-gram 40x5 t0.70", 3, 40, 5, 0.70))
S_BINS = [round(0.30 + 0.05 * i, 2) for i in range(15)]  # true J from 0.30 to 1.00


def s_curve(gen: TextGen, per_bin: int, settings=SETTINGS, heads: int | None = None
            ) -> dict[str, dict[str, float]]:
    """Share of pairs merged by true word 5-gram Jaccard (bins of 0.05 from 0.30; the last
    bin holds exact copies), for each setting, with the Beam stage's verification (each
    bucket member against its ``heads`` best-ranked bucket members) and its compact 16-bit
    signatures. Pairs are made one base document each, so only the pair can merge."""
    from filters.minhash import compact_signatures, minhash_batch
    from filters.near_dup import clusters

    if heads is None:
        from pipeline.stages.dedup import BUCKET_HEADS as heads
    kinds = tuple((f"s{lo:.2f}", lo, lo + 0.05) for lo in S_BINS[:-1])
    docs, pairs = make_pairs(gen, per_bin, kinds, singles=False)
    for i in range(per_bin):  # exact copies: true J 1.0
        docs[f"copy{i:05d}a"] = docs[f"copy{i:05d}b"] = gen.document()
        pairs.append((f"copy{i:05d}a", f"copy{i:05d}b", 1.0))
    ids = sorted(docs)
    out: dict[str, dict[str, float]] = {}
    for name, ngram, bands, rows, threshold in settings:
        sig_rows = np.concatenate([
            minhash_batch([docs[i] for i in ids[k: k + BATCH]], num_perm=bands * rows,
                          ngram=ngram) for k in range(0, len(ids), BATCH)])
        sigs = dict(zip(ids, compact_signatures(sig_rows)))
        surv = clusters(sigs, bands, rows, threshold, heads=heads)
        merged: dict[float, list[bool]] = {}
        for a, b, j in pairs:
            lo = S_BINS[-1] if j >= 1.0 else max(x for x in S_BINS[:-1] if x <= j + 1e-12)
            merged.setdefault(lo, []).append(surv[a] == surv[b])
        curve = {f"{lo:.2f}": float(np.mean(v)) for lo, v in sorted(merged.items())}
        high = [surv[a] == surv[b] for a, b, j in pairs if j >= 0.7]
        low = [surv[a] == surv[b] for a, b, j in pairs if j <= 0.5]
        out[name] = {"curve": curve, "recall_j_ge_0.7": float(np.mean(high)),
                     "merged_j_le_0.5": float(np.mean(low)),
                     "precision": sum(high) / max(sum(high) + sum(low), 1)}
    return out


def bench_phash(n: int = 200) -> dict[str, float]:
    from PIL import Image

    from filters.decontam import image_phash
    from filters.phash import phash

    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:480, 0:640] / 640.0
    imgs, blobs = [], []
    for _ in range(20):
        a, b, c = rng.uniform(-3, 3, 3)
        arr = np.stack([128 + 100 * np.sin(a * x + b * y + k * c) for k in range(3)], -1)
        im = Image.fromarray(np.clip(arr + rng.normal(0, 8, arr.shape), 0, 255).astype("uint8"))
        imgs.append(im)
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=85)
        blobs.append(buf.getvalue())
    return {
        "phash_images_per_s": _rate(lambda: [phash(imgs[i % 20]) for i in range(n)], n),
        "phash_jpeg_images_per_s": _rate(lambda: [image_phash(blobs[i % 20]) for i in range(n)],
                                         n),
    }


def bench_decontam(gen: TextGen, docs: list[str]) -> dict[str, float]:
    from filters.decontam import EvalTextIndex

    evals = [(f"eval.jsonl:{i}", " ".join(gen.words(gen.rng.randint(8, 40))))
             for i in range(20000)]
    index = EvalTextIndex.from_texts(evals)
    sample = docs[:1000]
    return {
        "eval_texts": len(evals),
        "index_windows": len(index),
        "match_docs_per_s": _rate(lambda: [index.match(d) for d in sample], len(sample)),
        "match_batch_docs_per_s": _rate(
            lambda: [index.match_batch(sample[i: i + BATCH])
                     for i in range(0, len(sample), BATCH)], len(sample)),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=5000, help="documents for the speed runs")
    ap.add_argument("--pairs", type=int, default=400, help="pairs of each kind for quality")
    ap.add_argument("--per-bin", type=int, default=300, help="pairs per bin of the S-curve")
    ap.add_argument("--only-curve", action="store_true", help="run the S-curve alone")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    from filters.near_dup import DEFAULT_BANDS, DEFAULT_ROWS, DEFAULT_THRESHOLD

    gen = TextGen(a.seed)
    if a.only_curve:
        curves = s_curve(gen, a.per_bin)
        for name, c in curves.items():
            print(name, json.dumps(c))
        return
    docs = [gen.document() for _ in range(a.docs)]
    print(f"documents: {len(docs)}, mean {np.mean([len(d) for d in docs]):.0f} chars, "
          f"{np.mean([len(words(d)) for d in docs]):.0f} words")
    result: dict[str, object] = {"speed": bench_speed(docs)}
    s = result["speed"]
    print(f"minhash 112 perms: datasketch {s['datasketch_docs_per_s']:.0f} docs/s (update per "
          f"shingle), {s['datasketch_batch_docs_per_s']:.0f} docs/s (update_batch); ours "
          f"{s['ours_docs_per_s']:.0f} docs/s; ratio {s['ratio']:.1f}x "
          f"({s['ratio_vs_update_batch']:.1f}x against update_batch)")
    print(f"  shingling alone (word + 5-gram hashes): {s['ours_shingling_docs_per_s']:.0f} docs/s")

    pair_docs, pairs = make_pairs(gen, a.pairs)
    js = np.array([j for _, _, j in pairs])
    print(f"quality set: {len(pair_docs)} documents; {int((js >= 0.8).sum())} duplicate pairs "
          f"(true J {js[js >= 0.8].min():.2f}-{js[js >= 0.8].max():.2f}), "
          f"{int((js < 0.5).sum())} hard non-duplicates (true J {js[js < 0.5].min():.2f}-"
          f"{js[js < 0.5].max():.2f})")
    result["quality"] = {}
    for threshold in sorted({DEFAULT_THRESHOLD, 0.8}):
        for star in (False, True):
            q = bench_quality(pair_docs, pairs, threshold, star)
            name = f"t{threshold}{'_star' if star else ''}"
            result["quality"][name] = q
            star_note = " (star buckets)" if star else ""
            print(f"near_dup {DEFAULT_BANDS}x{DEFAULT_ROWS}, verify >= {threshold}{star_note}: "
                  f"recall {q['recall']:.3f} (J 0.80-0.85: {q['recall_0.80_0.85']:.3f}), "
                  f"precision {q['precision']:.3f} over {q['merged_pairs']} merged pairs, "
                  f"hard non-duplicates merged {q['hard_pairs_merged']}")

    for name, g in grey_zone(gen, a.pairs // 2, sorted({DEFAULT_THRESHOLD, 0.8})).items():
        result["quality"][name] = g
        print(f"  grey zone, verify >= {name[6:]}: share of pairs merged by true J "
              + ", ".join(f"{k}: {v:.2f}" for k, v in g.items()))

    curves = result["s_curve"] = s_curve(gen, a.per_bin)
    print(f"S-curve: share of pairs merged by true word 5-gram Jaccard ({a.per_bin} pairs a "
          "bin; 1.00 = exact copies), 16-bit signatures, the stage's heads a bucket")
    print(f"  {'setting':<26}" + "".join(f"{lo:>6.2f}" for lo in S_BINS))
    for name, c in curves.items():
        print(f"  {name:<26}" + "".join(f"{c['curve'].get(f'{lo:.2f}', float('nan')):>6.3f}"
                                        for lo in S_BINS))
        print(f"  {'':<26}recall at J >= 0.7: {c['recall_j_ge_0.7']:.4f}; merged at J <= 0.5: "
              f"{c['merged_j_le_0.5']:.4f}; precision over both: {c['precision']:.4f}")

    result["phash"] = bench_phash()
    print(f"phash: {result['phash']['phash_images_per_s']:.0f} images/s (640x480 decoded), "
          f"{result['phash']['phash_jpeg_images_per_s']:.0f} images/s (from JPEG bytes)")
    result["decontam"] = d = bench_decontam(gen, docs)
    print(f"decontam text index: {d['eval_texts']} eval texts, {d['index_windows']} windows; "
          f"match {d['match_docs_per_s']:.0f} docs/s, match_batch "
          f"{d['match_batch_docs_per_s']:.0f} docs/s")
    print(json.dumps(result, default=float))


if __name__ == "__main__":
    main()

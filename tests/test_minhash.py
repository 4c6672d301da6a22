"""MinHash signatures, LSH band keys and the near-duplicate clustering reference."""

from __future__ import annotations

import os
import random
import subprocess
import sys

import numpy as np
import pytest

from filters.minhash import (
    band_keys,
    band_keys_batch,
    compact_signatures,
    estimate_jaccard,
    minhash_batch,
    window_hashes,
    windows_by_length,
    word_hashes,
)
from filters.near_dup import clusters, verified, verified_pairs
from filters.textnorm import words

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RNG = random.Random(5)
VOCAB = ["".join(RNG.choices("etaoinshrdlucmfw", k=RNG.randint(2, 9))) for _ in range(3000)]


def doc(rng: random.Random, n_words: int = 300) -> list[str]:
    return rng.choices(VOCAB, k=n_words)


def shingles(text: str, n: int = 5) -> set[tuple[str, ...]]:
    w = words(text)
    return {tuple(w[i: i + n]) for i in range(max(len(w) - n + 1, 1))}


def true_jaccard(a: str, b: str) -> float:
    sa, sb = shingles(a), shingles(b)
    return len(sa & sb) / len(sa | sb)


def edited(rng: random.Random, w: list[str], edits: int) -> list[str]:
    w = list(w)
    for _ in range(edits):
        w[rng.randrange(len(w))] = rng.choice(VOCAB)
    return w


def test_shape_dtype_and_repeatability() -> None:
    rng = random.Random(0)
    texts = [" ".join(doc(rng)) for _ in range(5)]
    a, b = minhash_batch(texts), minhash_batch(texts)
    assert a.shape == (5, 112) and a.dtype == np.uint32
    assert np.array_equal(a, b)
    assert minhash_batch(texts, num_perm=64).shape == (5, 64)
    assert minhash_batch([]).shape == (0, 112)
    assert not np.array_equal(minhash_batch(texts[:1], seed=2), a[:1])


def test_signature_independent_of_batch_and_position() -> None:
    rng = random.Random(1)
    texts = [" ".join(doc(rng, rng.randint(0, 400))) for _ in range(40)]
    texts += ["", "two words", "Ünïcödé text — with “quotes” and 東京 words, l’été naïve café"]
    alone = np.stack([minhash_batch([t])[0] for t in texts])
    together = minhash_batch(texts)
    assert np.array_equal(alone, together)
    order = list(range(len(texts)))
    rng.shuffle(order)
    shuffled = minhash_batch([texts[i] for i in order])
    assert np.array_equal(shuffled, together[order])
    # An ASCII-only batch and a mixed batch take different encoding paths.
    ascii_batch = minhash_batch(texts[:5])
    assert np.array_equal(ascii_batch, together[:5])


def test_same_in_a_fresh_process_with_another_hash_seed() -> None:
    text = "The quick brown fox jumps over the lazy dog near the river bank today."
    code = ("import sys; sys.path.insert(0, sys.argv[1]);"
            "from filters.minhash import minhash_batch;"
            "print(' '.join(map(str, minhash_batch([sys.argv[2]])[0][:8])))")
    env = dict(os.environ, PYTHONHASHSEED="12345")
    out = subprocess.run([sys.executable, "-c", code, ROOT, text], env=env, check=True,
                         capture_output=True, text=True).stdout.split()
    assert [int(x) for x in out] == minhash_batch([text])[0][:8].tolist()


def test_identical_and_case_punctuation_variants_are_equal() -> None:
    a = "Hello, World! This is a test of the shingling code; nothing more."
    b = "hello world this is a TEST of the shingling code nothing more"
    sig = minhash_batch([a, b, a])
    assert np.array_equal(sig[0], sig[1]) and np.array_equal(sig[0], sig[2])


def test_short_and_empty_documents() -> None:
    sig = minhash_batch(["", "", "one two three", "one two three", "one two four", "   ..."])
    assert np.array_equal(sig[0], sig[1])
    assert np.array_equal(sig[0], sig[5])  # punctuation only: no words
    assert np.array_equal(sig[2], sig[3])
    assert not np.array_equal(sig[0], sig[2])
    assert estimate_jaccard(sig[2], sig[4]) < 0.2
    # One shingle fills every bin by densification: the signature is constant.
    assert len(set(sig[2].tolist())) == 1


def test_jaccard_estimates_are_unbiased_and_accurate() -> None:
    rng = random.Random(2)
    pairs = []
    for _ in range(150):
        base = doc(rng, rng.choice([20, 80, 300]))
        pairs.append((" ".join(base), " ".join(edited(rng, base, rng.randint(0, len(base) // 5)))))
    sig = minhash_batch([t for p in pairs for t in p])
    err = np.array([estimate_jaccard(sig[2 * i], sig[2 * i + 1]) - true_jaccard(a, b)
                    for i, (a, b) in enumerate(pairs)])
    assert abs(err.mean()) < 0.015
    assert np.abs(err).mean() < 0.045
    unrelated = minhash_batch([" ".join(doc(rng)) for _ in range(2)])
    assert estimate_jaccard(*unrelated) < 0.05


def test_tokeniser_matches_reference_words() -> None:
    text = ("Ünïcödé — “quoted” 東京、大阪。 l’été naïve café\u00a0x_y don't 3.14 "
            "ΑΒΓ Straße İstanbul")
    hashes, off = word_hashes([text])
    ref, _ = word_hashes([" ".join(words(text))])
    assert off.tolist() == [0, len(words(text))]
    assert np.array_equal(hashes, ref)
    assert "東京" in words(text) and "l" in words(text) and "été" in words(text)


def test_window_hashes_agree_across_lengths() -> None:
    h, off = word_hashes(["a b c d e f g h", "b c d", "", "q"])
    full, woff = window_hashes(h, off, 3)
    assert woff.tolist() == [0, 6, 7, 8, 9]
    assert full[1] == full[6]  # "b c d" inside the first text and as the second text whole
    multi, first, size = windows_by_length(h, off, [3, 1])
    assert np.array_equal(multi[size == 3], full[:7])
    assert first[size == 3].tolist() == [0, 1, 2, 3, 4, 5, 8]
    strict, soff = window_hashes(h, off, 3, whole_if_short=False)
    assert soff.tolist() == [0, 6, 7, 7, 7]


def test_band_keys() -> None:
    rng = np.random.default_rng(0)
    sig = rng.integers(0, 2**32, 112, dtype=np.uint64).astype(np.uint32)
    keys = band_keys(sig)
    assert len(keys) == 14 and len(set(keys)) == 14
    assert all(isinstance(k, bytes) and len(k) == 10 for k in keys)
    assert keys == band_keys(sig.copy())
    other = sig.copy()
    other[3 * 8 + 5] ^= 1
    changed = [i for i, (a, b) in enumerate(zip(keys, band_keys(other))) if a != b]
    assert changed == [3]
    batch = band_keys_batch(np.stack([sig, other]))
    assert batch[0] == keys and batch[1] == band_keys(other)
    # The band index is part of the key: equal rows in two bands give two keys.
    same = np.zeros(112, dtype=np.uint32)
    assert len(set(band_keys(same))) == 14
    with pytest.raises(ValueError):
        band_keys(sig[:100])


def test_verified_and_estimate() -> None:
    a = np.arange(112, dtype=np.uint32)
    b = a.copy()
    b[:30] += 1000
    assert estimate_jaccard(a, b) == pytest.approx(82 / 112)
    assert verified(a, b, 0.7) and not verified(a, b, 0.75)
    with pytest.raises(ValueError):
        estimate_jaccard(a, b[:50])


def test_clusters_survivor_is_smallest_and_order_independent() -> None:
    rng = random.Random(3)
    texts = {}
    for g in range(20):
        base = doc(rng)
        texts[f"g{g:02d}-0"] = " ".join(base)
        for v in range(1, rng.randint(1, 4)):
            texts[f"g{g:02d}-{v}"] = " ".join(edited(rng, base, 3))
    for s in range(20):
        texts[f"single{s:02d}"] = " ".join(doc(rng))
    ids = list(texts)
    sigs = dict(zip(ids, minhash_batch([texts[i] for i in ids], num_perm=200)))
    result = clusters(sigs)
    for doc_id, survivor in result.items():
        expected = doc_id.split("-")[0] + "-0" if doc_id.startswith("g") else doc_id
        assert survivor == expected, doc_id
    rng.shuffle(ids)
    assert clusters({i: sigs[i] for i in ids}) == result
    assert clusters({i: sigs[i] for i in ids}, star=True) == result
    assert clusters({i: sigs[i] for i in ids}, heads=4) == result


def test_chain_clusters_join_through_the_middle() -> None:
    rng = np.random.default_rng(4)
    a = rng.integers(0, 2**32, 112, dtype=np.uint64).astype(np.uint32)
    b = a.copy()
    b[rng.choice(56, 25, replace=False)] += 1  # changes only in bands 0-6
    c = b.copy()
    c[56 + rng.choice(56, 25, replace=False)] += 1  # changes only in bands 7-13
    assert verified(a, b, 0.7) and verified(b, c, 0.7) and not verified(a, c, 0.7)
    sigs = {"z": a, "m": b, "a": c, "x": rng.integers(0, 9, 112).astype(np.uint32)}
    assert verified_pairs(sigs, 14, 8, 0.7) == {("m", "z"), ("a", "m")}
    assert clusters(sigs, 14, 8, 0.7) == {"z": "a", "m": "a", "a": "a", "x": "x"}


def test_near_duplicates_found_and_distinct_documents_kept() -> None:
    rng = random.Random(6)
    texts, dup_pairs, far_pairs = {}, [], []
    for i in range(30):
        base = doc(rng)
        near = edited(rng, base, rng.randint(0, 4))
        far = edited(rng, base, 60)
        texts[f"{i:02d}a"], texts[f"{i:02d}b"] = " ".join(base), " ".join(near)
        texts[f"{i:02d}c"] = " ".join(far)
        if true_jaccard(texts[f"{i:02d}a"], texts[f"{i:02d}b"]) >= 0.8:
            dup_pairs.append((f"{i:02d}a", f"{i:02d}b"))
        if true_jaccard(texts[f"{i:02d}a"], texts[f"{i:02d}c"]) < 0.5:
            far_pairs.append((f"{i:02d}a", f"{i:02d}c"))
    assert len(dup_pairs) >= 25 and len(far_pairs) >= 25
    ids = sorted(texts)
    surv = clusters(dict(zip(ids, minhash_batch([texts[i] for i in ids], num_perm=200))))
    assert sum(surv[a] == surv[b] for a, b in dup_pairs) >= len(dup_pairs) - 1
    assert not any(surv[a] == surv[c] for a, c in far_pairs)


def test_bucket_members_are_verified_beyond_a_chance_collision_head() -> None:
    # 4 bands x 2 rows: head "a" shares band 0 only; "b" and "c" share band 0 and one value
    # of every other band, so they meet only in the bucket that "a" heads.
    b = np.arange(1, 9, dtype=np.uint32)
    c = b.copy()
    c[[3, 5, 7]] += 100
    a = b.copy()
    a[2:] += 1000
    sigs = {"a": a, "b": b, "c": c}
    assert verified_pairs(sigs, 4, 2, 0.6, star=True) == set()
    assert verified_pairs(sigs, 4, 2, 0.6, heads=2) == {("b", "c")}
    assert clusters(sigs, 4, 2, 0.6, heads=2) == {"a": "a", "b": "b", "c": "b"}


def test_compact_signatures_keep_estimates_and_bands() -> None:
    rng = random.Random(8)
    base = doc(rng)
    texts = [" ".join(base), " ".join(edited(rng, base, 20)), " ".join(doc(rng))]
    full = minhash_batch(texts, num_perm=200)
    small = compact_signatures(full)
    assert small.dtype == np.uint16 and small.shape == full.shape
    assert np.array_equal(small, (full & 0xFFFF).astype(np.uint16))
    for i, j in ((0, 1), (0, 2)):
        assert abs(estimate_jaccard(small[i], small[j]) - estimate_jaccard(full[i], full[j])
                   ) <= 1 / 200
    same = band_keys_batch(small[[0, 0]], 40, 5)
    assert same[0] == same[1] and len(set(same[0])) == 40


def test_the_presets_merge_light_edits_and_keep_pairs_at_half_overlap() -> None:
    """Copies with 3% of their words deleted (word 5-gram Jaccard about 0.75) merge, and so
    does every pair at J >= 0.7; pairs at J <= 0.5 stay apart, with the shipped settings."""
    from pipeline.config import load_config

    near = load_config()["dedup"]["near"]
    rng = random.Random(11)
    texts: dict[str, str] = {}
    close, far = [], []
    for i in range(160):
        base = doc(rng, 400)
        cut = list(base)
        for _ in range(12):  # 3% of the words deleted
            del cut[rng.randrange(len(cut))]
        apart = edited(rng, base, 50)
        a, b, c = f"{i:03d}a", f"{i:03d}b", f"{i:03d}c"
        texts[a], texts[b], texts[c] = " ".join(base), " ".join(cut), " ".join(apart)
        if true_jaccard(texts[a], texts[b]) >= 0.7:
            close.append((a, b))
        if true_jaccard(texts[a], texts[c]) <= 0.5:
            far.append((a, c))
    assert len(close) >= 150 and len(far) >= 150
    ids = sorted(texts)
    sigs = minhash_batch([texts[i] for i in ids], num_perm=near["bands"] * near["rows"],
                         ngram=near["ngram"])
    surv = clusters(dict(zip(ids, sigs)), bands=near["bands"], rows=near["rows"],
                    threshold=near["threshold"])
    recall = sum(surv[a] == surv[b] for a, b in close) / len(close)
    merged_far = sum(surv[a] == surv[c] for a, c in far)
    assert recall >= 0.99, recall
    assert merged_far <= 0.01 * len(far), merged_far

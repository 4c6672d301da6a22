"""MinHash signatures over word n-grams, computed for a whole batch of documents at once.

Method (every step is a numpy operation over the batch, never a loop per word or shingle):
1. Texts are lower-cased, UTF-8 encoded and joined; words follow filters.textnorm.
2. Each word is hashed with a polynomial hash over its bytes, read off prefix sums in wrapping
   uint64 arithmetic: with ``H[i] = sum_{j<i} b_j P^j``, the word at bytes [s, e) hashes to
   ``(H[e] - H[s]) * P^-s`` (P is odd, so invertible mod 2^64). The value does not depend on
   where the word sits in the batch, so a signature never depends on its batch either.
3. Word hashes go through a 64-bit finaliser (murmur3's fmix64); each run of ``ngram``
   consecutive words of a document becomes one shingle hash ``fmix64(poly(words) ^ key)``.
   A document with fewer words than ``ngram`` is one shingle of all its words; an empty
   document is the shingle of no words, so it has a fixed signature.
4. One-permutation hashing (Li, Owen & Zhang 2012): the top 32 bits of a shingle hash pick one
   of ``num_perm`` bins, the low 32 bits are its value, and each bin keeps its minimum. That
   is O(shingles) instead of O(num_perm x shingles) for ``num_perm`` independent hashes.
5. Empty bins are filled by optimal densification (Shrivastava 2017): empty bin j probes bins
   ``probe(j, 0), probe(j, 1), ...`` (a fixed hash of seed, j and attempt, the same for every
   document) and copies the first non-empty one. Two documents then agree on a position with
   probability exactly their Jaccard similarity, so ``estimate_jaccard`` is unbiased.

All constants are fixed or derived from ``seed`` with fmix64; no salted ``hash()``, so a
signature is the same in every process and on every machine.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence

import numpy as np

from filters.textnorm import encode_batch, word_mask

U64 = np.uint64
_MASK64 = (1 << 64) - 1
_P = 0x9E3779B97F4A7C15  # odd multiplier of the per-word byte polynomial
_M = 0xD6E8FEB86659FD93  # odd multiplier combining word hashes into a shingle
_C1, _C2 = 0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53  # murmur3 fmix64
_EMPTY = U64(1 << 32)  # bin sentinel: above every 32-bit value
_POW_CACHE_MAX = 1 << 21  # powers kept between calls (16 MiB each); longer batches recompute
_PROBE_CHUNK = 32
_CHUNK_CHARS = 1 << 17  # text hashed per round of per-byte numpy operations


def fmix64(x: np.ndarray) -> np.ndarray:
    """murmur3's 64-bit finaliser on a uint64 array (returns a new array)."""
    x = x ^ (x >> U64(33))
    x *= U64(_C1)
    x ^= x >> U64(33)
    x *= U64(_C2)
    x ^= x >> U64(33)
    return x


@functools.lru_cache(maxsize=1024)
def _fmix_int(v: int) -> int:
    return int(fmix64(np.array([v & _MASK64], dtype=U64))[0])


def _inverse64(a: int) -> int:
    """Inverse of odd ``a`` modulo 2^64 (Newton's iteration doubles the correct bits)."""
    x = a
    for _ in range(6):
        x = (x * (2 - a * x)) & _MASK64
    return x


_powers: list[tuple[np.ndarray, np.ndarray]] = []  # one (P^j, P^-j) pair, replaced whole


def _pow_tables(n: int) -> tuple[np.ndarray, np.ndarray]:
    """P^j and P^-j for j < n, wrapping mod 2^64. Cached as one tuple so that threads never
    see a half-updated pair."""
    have = _powers[0] if _powers else None
    if have is not None and len(have[0]) >= n:
        return have
    size = max(n, 1 << 16, 2 * len(have[0]) if have is not None else 0)
    p = np.full(size, U64(_P), dtype=U64)
    q = np.full(size, U64(_inverse64(_P)), dtype=U64)
    p[0] = q[0] = 1
    np.multiply.accumulate(p, out=p)
    np.multiply.accumulate(q, out=q)
    if size <= _POW_CACHE_MAX:
        _powers[:] = [(p, q)]
    return p, q


def word_hashes(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of every word of every text, in order, and each text's word offsets.

    Returns (uint64 hashes, int64 offsets of length len(texts) + 1): text i's words are
    ``hashes[offsets[i]:offsets[i + 1]]``. A word's hash depends only on its bytes.
    Texts are taken in chunks of about ``_CHUNK_CHARS``: the per-byte arrays (8 bytes per
    text byte) then stay in cache, which more than doubles the speed of large batches."""
    ends = np.cumsum([len(t) for t in texts]) // _CHUNK_CHARS
    cuts = [0, *(np.flatnonzero(np.diff(ends)) + 1).tolist(), len(texts)]
    if len(cuts) <= 3:
        return _word_hashes(texts)
    parts = [_word_hashes(texts[a:b]) for a, b in zip(cuts, cuts[1:]) if b > a]
    hashes = np.concatenate([h for h, _ in parts])
    starts = np.cumsum([0] + [len(h) for h, _ in parts])
    offsets = np.concatenate([off[:-1] + base for (_, off), base in zip(parts, starts)]
                             + [starts[-1:]])
    return hashes, offsets


def _word_hashes(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    buf, byte_off = encode_batch(texts)
    mask = word_mask(buf)
    n = len(buf)
    if n == 0:
        return np.zeros(0, dtype=U64), np.zeros(len(texts) + 1, dtype=np.int64)
    change = np.empty(n + 1, dtype=bool)  # word starts and ends alternate in this list
    change[0], change[n] = mask[0], mask[n - 1]
    np.not_equal(mask[1:], mask[:-1], out=change[1:n])
    edges = np.flatnonzero(change)
    starts, ends = edges[0::2], edges[1::2]
    p, q = _pow_tables(n + 1)
    prefix = np.empty(n + 1, dtype=U64)
    prefix[0] = 0
    np.multiply(p[:n], buf, out=prefix[1:])
    np.cumsum(prefix[1:], out=prefix[1:])
    raw = (prefix[ends] - prefix[starts]) * q[starts]
    # Mixing in the length separates words whose polynomials collide at different lengths.
    hashes = fmix64(raw ^ (ends - starts).astype(U64) << U64(56))
    offsets = np.searchsorted(starts, byte_off).astype(np.int64)
    return hashes, offsets


def _running(hashes: np.ndarray, max_len: int, key: int) -> Iterator[np.ndarray]:
    """Yields, for L = 1..max_len, the unfinalised hash of the L words starting at each word
    (words past the end read as 0: callers keep only windows inside a text). The same array
    is updated in place between yields."""
    n_words = len(hashes)
    padded = np.zeros(n_words + max_len, dtype=U64)
    padded[:n_words] = hashes
    acc = np.full(n_words, U64(_fmix_int(0x5EED ^ key)), dtype=U64)
    for t in range(max_len):
        acc *= U64(_M)
        acc += padded[t: t + n_words]
        yield acc


def _finish(acc: np.ndarray, key: int) -> np.ndarray:
    return fmix64(acc ^ U64(_fmix_int(key + 1)))


def window_hashes(hashes: np.ndarray, offsets: np.ndarray, n: int, key: int = 0,
                  whole_if_short: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of every run of ``n`` consecutive words within each text.

    With ``whole_if_short`` a text of fewer than ``n`` words (even none) gives one window of
    all its words; otherwise it gives none. Returns (uint64 window hashes, int64 offsets per
    text, like ``word_hashes``). A window's hash depends only on its words (their number
    included) and ``key``: the same words hash alike whatever ``n`` or text they come from."""
    if n < 1:
        raise ValueError("window length must be positive")
    n_texts = len(offsets) - 1
    nw = np.diff(offsets)
    short = np.flatnonzero(nw < n) if whole_if_short else np.zeros(0, np.int64)
    count = np.maximum(nw - n + 1, 0)
    count[short] = 1
    win_off = np.zeros(n_texts + 1, dtype=np.int64)
    np.cumsum(count, out=win_off[1:])
    # A short text's window is the running hash at its first word after len(text) steps;
    # an empty text keeps the starting value.
    short_acc = np.full(len(short), U64(_fmix_int(0x5EED ^ key)), dtype=U64)
    acc = np.zeros(0, dtype=U64)
    for step, acc in enumerate(_running(hashes, n, key), start=1):
        done = nw[short] == step
        if done.any():
            short_acc[done] = acc[offsets[short[done]]]
    out = np.empty(int(win_off[-1]), dtype=U64)
    long_slot = np.ones(len(out), dtype=bool)
    long_slot[win_off[short]] = False
    out[win_off[short]] = short_acc
    text_end = np.repeat(offsets[1:], nw)
    out[long_slot] = acc[np.flatnonzero(np.arange(len(hashes)) + n <= text_end)]
    return _finish(out, key), win_off


def windows_by_length(hashes: np.ndarray, offsets: np.ndarray, lengths: Sequence[int],
                      key: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every run of L consecutive words inside one text, for each L in ``lengths``, in one
    pass. Returns flat arrays (uint64 hash, global index of the first word, L); the hashes
    equal those of ``window_hashes`` for the same words and key."""
    wanted = set(lengths)
    if len(hashes) == 0 or not wanted:
        return np.zeros(0, U64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    room = np.repeat(offsets[1:], np.diff(offsets)) - np.arange(len(hashes))  # words left
    accs, firsts, sizes = [], [], []
    for length, acc in enumerate(_running(hashes, max(wanted), key), start=1):
        if length in wanted:
            inside = np.flatnonzero(room >= length)
            accs.append(acc[inside])
            firsts.append(inside)
            sizes.append(np.full(len(inside), length, dtype=np.int64))
    return _finish(np.concatenate(accs), key), np.concatenate(firsts), np.concatenate(sizes)


def _probe_table(num_perm: int, seed: int, chunk: int) -> np.ndarray:
    """Bins probed by empty bin j at attempts chunk*C .. chunk*C + C - 1: (num_perm, C)."""
    cached = _probes.get((num_perm, seed, chunk))
    if cached is not None:
        return cached
    j = np.arange(num_perm, dtype=U64)[:, None]
    a = np.arange(chunk * _PROBE_CHUNK, (chunk + 1) * _PROBE_CHUNK, dtype=U64)[None, :]
    h = fmix64((j << U64(32)) + a + U64(_fmix_int(seed * 0x9E3779B97F4A7C15 + 7)))
    table = (((h >> U64(32)) * U64(num_perm)) >> U64(32)).astype(np.int64)
    if len(_probes) < 4096:
        _probes[(num_perm, seed, chunk)] = table
    return table


_probes: dict[tuple[int, int, int], np.ndarray] = {}


def _densify(sig: np.ndarray, seed: int) -> None:
    """Fill empty bins in place by optimal densification (see the module docstring)."""
    num_perm = sig.shape[1]
    filled = sig != _EMPTY
    docs, bins = np.nonzero(~filled)
    chunk = 0
    while len(docs):
        cand = _probe_table(num_perm, seed, chunk)[bins]  # (pending, chunk size)
        ok = filled[docs[:, None], cand]
        hit = ok.any(axis=1)
        src = cand[np.arange(len(docs)), ok.argmax(axis=1)]
        sig[docs[hit], bins[hit]] = sig[docs[hit], src[hit]]
        docs, bins = docs[~hit], bins[~hit]
        chunk += 1


def minhash_batch(texts: Sequence[str], num_perm: int = 112, ngram: int = 5,
                  seed: int = 1) -> np.ndarray:
    """MinHash signatures of ``texts``: uint32 array of shape (len(texts), num_perm).

    A text's row depends only on that text, ``num_perm``, ``ngram`` and ``seed``."""
    if num_perm < 1 or ngram < 1:
        raise ValueError("num_perm and ngram must be positive")
    n = len(texts)
    if n == 0:
        return np.zeros((0, num_perm), dtype=np.uint32)
    words, offsets = word_hashes(texts)
    shingles, sh_off = window_hashes(words, offsets, ngram, key=_fmix_int(seed))
    doc_of = np.repeat(np.arange(n, dtype=np.int64), np.diff(sh_off))
    bins = ((shingles >> U64(32)) * U64(num_perm)) >> U64(32)
    flat = doc_of * num_perm + bins.astype(np.int64)
    sig = np.full(n * num_perm, _EMPTY, dtype=U64)
    np.minimum.at(sig, flat, shingles & U64(0xFFFFFFFF))
    sig = sig.reshape(n, num_perm)
    _densify(sig, seed)
    return sig.astype(np.uint32)


def estimate_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Share of signature positions on which ``a`` and ``b`` agree."""
    if a.shape != b.shape:
        raise ValueError(f"signature shapes differ: {a.shape} vs {b.shape}")
    return float(np.count_nonzero(a == b)) / a.shape[-1]


_BAND_DTYPE = np.dtype([("band", ">u2"), ("hash", ">u8")])
BAND_KEY_BYTES = _BAND_DTYPE.itemsize  # 2 bytes of band index, 8 of hashed rows


def band_keys_batch(sigs: np.ndarray, bands: int = 14, rows: int = 8) -> list[list[bytes]]:
    """LSH band keys of each signature row: ``bands`` keys of 10 bytes (band index, then a
    64-bit hash of the band's ``rows`` values). Equal bands give equal keys."""
    sigs = np.atleast_2d(sigs)
    if bands < 1 or rows < 1 or sigs.shape[1] < bands * rows:
        raise ValueError(f"{bands} bands x {rows} rows need {bands * rows} values, "
                         f"signature has {sigs.shape[1]}")
    n = sigs.shape[0]
    vals = sigs[:, : bands * rows].astype(U64).reshape(n, bands, rows)
    acc = np.broadcast_to(fmix64(np.arange(1, bands + 1, dtype=U64)), (n, bands)).copy()
    for r in range(rows):
        acc = acc * U64(_M) + vals[:, :, r]
    rec = np.empty((n, bands), dtype=_BAND_DTYPE)
    rec["band"] = np.arange(bands)
    rec["hash"] = fmix64(acc)
    raw = rec.tobytes()
    size = BAND_KEY_BYTES
    flat = [raw[i: i + size] for i in range(0, len(raw), size)]
    return [flat[i * bands: (i + 1) * bands] for i in range(n)]


def band_keys(sig: np.ndarray, bands: int = 14, rows: int = 8) -> list[bytes]:
    """LSH band keys of one signature (see ``band_keys_batch``)."""
    if sig.ndim != 1:
        raise ValueError("band_keys takes one signature; use band_keys_batch for several")
    return band_keys_batch(sig[None, :], bands, rows)[0]


def compact_signatures(sigs: np.ndarray) -> np.ndarray:
    """Signatures cut to their low 16 bits (uint16), half the bytes to ship and compare.

    Two different 32-bit minima still agree on 16 bits by chance with probability 2^-16, so a
    pair of Jaccard J agrees on a position with probability J + (1 - J) / 65536: the estimate
    moves by under 2e-5, and band keys over compact values collide just as rarely."""
    return np.ascontiguousarray(sigs, dtype=np.uint32).astype(np.uint16)

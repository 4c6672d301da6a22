"""Perceptual image hashes (64-bit) and the band keys that find near-equal hashes by exact
grouping.

``phash``: the image's 64 x 64 box-averaged thumbnail (filters.thumbnail, the one the pixel
statistics use too) goes to grey levels and 32 x 32 (2 x 2 means), then through an orthonormal
2-D DCT-II (the matrix is built here). The 64 lowest-frequency AC coefficients (ordered by
u + v, then u; the DC term is left out, since it only measures brightness) are compared with
their median: bit i is 1 when coefficient i is above it. Resizing, re-encoding and small
brightness or contrast changes move few bits; unrelated pictures differ in about half.

``phash_bands``: with d + 1 disjoint bands of the 64 bits, two hashes at Hamming distance
<= d agree exactly on at least one band (pigeonhole), so grouping by band keys finds every
such pair without comparing all of them.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from filters.thumbnail import gray, halve, thumbnail, to_rgb

_SIZE = 32
_BITS = 64


def _dct_matrix(n: int) -> np.ndarray:
    """Orthonormal DCT-II matrix: (D @ x) is the DCT of the column vector x."""
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    d = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    d[0] /= np.sqrt(2.0)
    return d


_DCT = _dct_matrix(_SIZE)
# The 64 lowest-frequency AC positions (u + v ascending, then u), as flat indices into the
# _REACH x _REACH corner of the 32 x 32 coefficients, the only part computed.
_ORDER = sorted(((u, v) for u in range(11) for v in range(11) if 0 < u + v <= 10),
                key=lambda uv: (uv[0] + uv[1], uv[0]))[:_BITS]
_REACH = 1 + max(max(uv) for uv in _ORDER)
_PICK = np.array([u * _REACH + v for u, v in _ORDER])
_LOW = np.ascontiguousarray(_DCT[:_REACH])  # only the rows the picked coefficients use


def _gray(img: Image.Image, size: tuple[int, int]) -> np.ndarray:
    """Grayscale pixels at ``size`` (Lanczos), modes read as the build stores images."""
    small = to_rgb(img).convert("L").resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)
    return np.asarray(small, dtype=np.float64)


def _bits_to_int(bits: np.ndarray) -> int:
    return int(np.packbits(bits.astype(np.uint8)).view(">u8")[0])


def phash(img: Image.Image) -> int:
    """64-bit DCT perceptual hash of ``img`` (any mode), as an int in [0, 2^64)."""
    return phash_thumb(thumbnail(img))


def phash_thumb(thumb: np.ndarray, grey: np.ndarray | None = None) -> int:
    """``phash`` of an RGB thumbnail from filters.thumbnail.thumbnail (64 x 64 x 3);
    ``grey``: its ``gray`` levels when the caller has them already."""
    pixels = halve(gray(thumb) if grey is None else grey)
    coeffs = (_LOW @ pixels @ _LOW.T).ravel()[_PICK]
    # Flat images give coefficients of rounding noise only; zero them so the hash is stable.
    coeffs = np.where(np.abs(coeffs) < 1e-6, 0.0, coeffs)
    # The median of an even count, as np.median takes it (the mean of the two middle
    # values), without its general-purpose overhead: a tenth of the time.
    middle = np.sort(coeffs)[_BITS // 2 - 1: _BITS // 2 + 1]
    return _bits_to_int(coeffs > (middle[0] + middle[1]) / 2)


def dhash(img: Image.Image) -> int:
    """64-bit difference hash: 9 x 8 grayscale, bit = pixel brighter than its right
    neighbour."""
    pixels = _gray(img, (9, 8))
    return _bits_to_int(pixels[:, :-1] > pixels[:, 1:])


def hamming(a: int, b: int) -> int:
    """Number of differing bits."""
    return (a ^ b).bit_count()


def band_spans(max_distance: int, bits: int = _BITS) -> list[tuple[int, int]]:
    """(shift, width) of the max_distance + 1 disjoint bands covering ``bits`` bits."""
    if not 0 <= max_distance < bits:
        raise ValueError(f"max_distance must be in [0, {bits - 1}], got {max_distance}")
    n = max_distance + 1
    spans, shift = [], 0
    for i in range(n):
        width = bits // n + (1 if i < bits % n else 0)
        spans.append((shift, width))
        shift += width
    return spans


def phash_bands(h: int, max_distance: int) -> list[bytes]:
    """Band keys of hash ``h``: one per band, the band index then the band's bits. Two hashes
    within ``max_distance`` share at least one key."""
    keys = []
    for i, (shift, width) in enumerate(band_spans(max_distance)):
        value = (h >> shift) & ((1 << width) - 1)
        keys.append(bytes([i]) + value.to_bytes((width + 7) // 8, "big"))
    return keys

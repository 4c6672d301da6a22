"""Perceptual hashes: robustness to resizing, re-encoding and brightness, separation of
different pictures, and the pigeonhole band keys."""

from __future__ import annotations

import io
import random

import numpy as np
import pytest
from PIL import Image, ImageEnhance

from filters.phash import band_spans, dhash, hamming, phash, phash_bands, phash_thumb


def photo(seed: int, w: int = 320, h: int = 240) -> Image.Image:
    """A photo-like picture: smooth colour waves, a few discs and boxes, sensor noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / max(w, h)
    arr = np.zeros((h, w, 3))
    for c in range(3):
        a, b, ph = rng.uniform(-1, 1, 3)
        arr[..., c] = 128 + 60 * np.sin(2 * np.pi * (a * x + b * y) + 3 * ph)
    for _ in range(6):
        cx, cy, r = rng.uniform(0, 1), rng.uniform(0, 0.75), rng.uniform(0.05, 0.25)
        if rng.random() < 0.5:
            mask = (x - cx) ** 2 + (y - cy) ** 2 < r * r
        else:
            mask = (abs(x - cx) < r) & (abs(y - cy) < 0.6 * r)
        arr[mask] = 0.3 * arr[mask] + 0.7 * rng.uniform(0, 255, 3)
    arr += rng.normal(0, 6, arr.shape)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def jpeg(im: Image.Image, quality: int = 50) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def altered(im: Image.Image) -> Image.Image:
    """Resized to 5/8, JPEG at quality 50, 10% brighter."""
    small = im.resize((im.width * 5 // 8, im.height * 5 // 8), Image.Resampling.BILINEAR)
    decoded = Image.open(io.BytesIO(jpeg(small))).convert("RGB")
    return ImageEnhance.Brightness(decoded).enhance(1.1)


def test_hash_is_a_64_bit_int_and_repeatable() -> None:
    h = phash(photo(0))
    assert isinstance(h, int) and 0 <= h < 2**64
    assert h == phash(photo(0))
    assert 16 < bin(h).count("1") < 48  # median threshold: about half the bits are set


@pytest.mark.parametrize("seed", range(8))
def test_same_picture_stays_close(seed: int) -> None:
    im = photo(seed)
    assert hamming(phash(im), phash(altered(im))) <= 6
    assert hamming(dhash(im), dhash(altered(im))) <= 6
    big = im.resize((1280, 960), Image.Resampling.BICUBIC)
    assert hamming(phash(im), phash(big)) <= 4


def test_different_pictures_are_far_apart() -> None:
    hashes = [phash(photo(s)) for s in (0, 1, 2, 3)]
    y, x = np.mgrid[0:240, 0:320]
    checker = Image.fromarray((((x // 40 + y // 40) % 2) * 255).astype(np.uint8))
    hashes.append(phash(checker))
    for i in range(len(hashes)):
        for j in range(i + 1, len(hashes)):
            assert hamming(hashes[i], hashes[j]) > 20, (i, j)


def test_modes_and_flat_images() -> None:
    im = photo(1)
    assert hamming(phash(im), phash(im.convert("L"))) <= 2
    assert hamming(phash(im), phash(im.convert("RGBA"))) == 0
    assert hamming(phash(im), phash(im.convert("P"))) <= 6
    assert phash(Image.new("RGB", (100, 80), (120, 130, 140))) == 0
    assert phash(Image.new("L", (10, 10), 255)) == 0
    assert phash(Image.new("RGBA", (50, 50), (0, 0, 0, 0))) == 0  # transparent reads white
    assert hamming(phash(im), phash(im.convert("CMYK"))) <= 2
    grey16 = Image.fromarray(np.asarray(im.convert("L")).astype(np.uint16) * 256)
    assert grey16.mode.startswith("I") and hamming(phash(im), phash(grey16)) <= 2


def test_hamming() -> None:
    assert hamming(0, 0) == 0
    assert hamming(0, 2**64 - 1) == 64
    assert hamming(0b1011, 0b0001) == 2


@pytest.mark.parametrize("d", [0, 1, 4, 6, 10, 63])
def test_bands_share_a_key_within_distance(d: int) -> None:
    spans = band_spans(d)
    assert len(spans) == d + 1 and sum(w for _, w in spans) == 64
    rng = random.Random(d)
    for _ in range(300):
        a = rng.getrandbits(64)
        b = a
        for bit in rng.sample(range(64), rng.randint(0, d)):
            b ^= 1 << bit
        ka, kb = phash_bands(a, d), phash_bands(b, d)
        assert len(ka) == d + 1 and len(set(ka)) == d + 1
        assert set(ka) & set(kb)
    assert phash_bands(5, d) == phash_bands(5, d)


def test_bands_separate_far_hashes_mostly() -> None:
    rng = random.Random(9)
    shared = sum(bool(set(phash_bands(rng.getrandbits(64), 4))
                      & set(phash_bands(rng.getrandbits(64), 4))) for _ in range(500))
    assert shared < 10  # 5 bands of 12-13 bits: about 0.1% of random pairs share one


def test_band_key_holds_band_index() -> None:
    keys = phash_bands(0, 3)
    assert len(set(keys)) == 4 and keys[0][0] == 0 and keys[3][0] == 3
    with pytest.raises(ValueError):
        phash_bands(0, 64)
    with pytest.raises(ValueError):
        phash_bands(0, -1)


def test_hash_of_the_thumbnail_is_the_hash() -> None:
    from filters.thumbnail import thumbnail

    im = photo(4)
    thumb = thumbnail(im)
    assert thumb.shape == (64, 64, 3) and thumb.dtype == np.uint8
    assert phash(im) == phash_thumb(thumb)


@pytest.mark.parametrize("seed", range(4))
def test_stored_image_hash_matches_the_filter_hash(seed: int) -> None:
    """The build hashes the pixels it stores; evaluation images are hashed with ``phash``:
    the two must agree on the same picture, here decoded at a reduced scale by the build."""
    from filters.decontam import image_phash
    from scrapers.images import process_image

    big = photo(seed).resize((1600, 1200), Image.Resampling.BICUBIC)
    data = jpeg(big, quality=90)
    res = process_image(data)
    assert res.ok and (res.width, res.height) == (512, 384)
    assert hamming(res.phash, phash(big)) <= 4
    assert hamming(res.phash, image_phash(data)) <= 4
    assert hamming(res.phash, phash(photo(seed))) <= 6

"""Real images made in tests with Pillow and numpy."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image


def image_bytes(w: int, h: int, fmt: str = "JPEG", seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    arr = np.stack([(x * 255 // max(w, 1)), (y * 255 // max(h, 1)),
                    rng.integers(0, 255, (h, w))], axis=-1).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, fmt)
    return buf.getvalue()


def truncated_jpeg(w: int = 200, h: int = 150) -> bytes:
    data = image_bytes(w, h, "JPEG", seed=7)
    return data[: len(data) // 2]


def png_bomb(side: int = 40000) -> bytes:
    """A tiny PNG whose header declares side x side pixels (a decompression bomb)."""
    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(
            ">I", zlib.crc32(tag + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    row = b"\x00" + b"\x00" * side
    comp = zlib.compressobj(9)
    idat = b"".join(comp.compress(row) for _ in range(64)) + comp.flush()
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")

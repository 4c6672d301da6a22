"""The written, versioned WebDataset layout. See schemas/LAYOUT.md.

A sample key never contains a dot: webdataset splits a member name at the first dot into
key and extension, so ``KEY.json`` and ``KEY.000.jpg`` form one sample.
"""

from __future__ import annotations

import hashlib

LAYOUT_VERSION = "m3w-wds/1"

INTERLEAVED = "interleaved"
ALT_TEXT = "alt_text"
IMAGE_TEXT = "image_text"
VIDEO_TEXT = "video_text"
SOURCE_KINDS = (INTERLEAVED, ALT_TEXT, IMAGE_TEXT, VIDEO_TEXT)


def image_member(index: int, ext: str = "jpg") -> str:
    """Suffix of the tar member holding a document's index-th stored image: ``000.jpg``."""
    return f"{index:03d}.{ext}"


def make_key(*parts: object) -> str:
    """A stable, dot-free sample key from identifying parts (url, source file, offset...)."""
    h = hashlib.sha1("\x1f".join(str(p) for p in parts).encode("utf-8", "surrogatepass"))
    return h.hexdigest()[:24]

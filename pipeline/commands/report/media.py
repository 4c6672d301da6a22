"""Image files beside the pages (``media/``): shard images as stored, and thumbnails of
rejected images read back from the input record that stored them (never fetched again). Only
bytes that decode become files, so every ``<img>`` the pages emit loads."""

from __future__ import annotations

import hashlib
import io
import os

THUMB_SIDE = 160
MAX_THUMB_PIXELS = 40_000_000  # larger originals are not decoded for a thumbnail
MAX_RECORD_BYTES = 20_000_000


class MediaDir:
    def __init__(self, report_dir: str) -> None:
        self.dir = os.path.join(report_dir, "media")
        os.makedirs(self.dir, exist_ok=True)
        self._thumbs: dict[str, tuple[str | None, str]] = {}

    def _write(self, data: bytes, ext: str) -> str:
        name = f"{hashlib.sha1(data).hexdigest()[:20]}.{ext}"
        path = os.path.join(self.dir, name)
        if not os.path.exists(path):
            with open(path, "wb") as fh:
                fh.write(data)
        return f"media/{name}"

    def image(self, data: bytes) -> str | None:
        """A shard's JPEG as it is stored, or None when its bytes do not decode."""
        from PIL import Image

        try:
            with Image.open(io.BytesIO(data)) as im:
                fmt = (im.format or "").lower()
                im.verify()
        except Exception:
            return None
        ext = {"jpeg": "jpg", "png": "png", "gif": "gif", "webp": "webp"}.get(fmt)
        return self._write(data, ext) if ext else None

    def record_thumbnail(self, record: str) -> tuple[str | None, str]:
        """(path of a thumbnail, "") from the input record ``PATH@OFFSET`` holding an image's
        bytes, or (None, why not)."""
        if record not in self._thumbs:
            self._thumbs[record] = self._record_thumbnail(record)
        return self._thumbs[record]

    def _record_thumbnail(self, record: str) -> tuple[str | None, str]:
        from pipeline.stages.images import stored_bytes

        path, _, offset = record.rpartition("@")
        if not path or not offset.isdigit():
            return None, f"unreadable record location {record!r}"
        try:
            data = stored_bytes((path, int(offset)), MAX_RECORD_BYTES)
        except Exception as exc:
            return None, f"the input record {record} cannot be read ({type(exc).__name__})"
        thumb, why = thumbnail(data)
        return (self._write(thumb, "jpg"), "") if thumb else (None, why)


def thumbnail(data: bytes) -> tuple[bytes | None, str]:
    """(a small JPEG of ``data``, "") or (None, why it cannot be shown)."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.width * im.height > MAX_THUMB_PIXELS:
                return None, f"too large to decode for a thumbnail ({im.width}x{im.height})"
            im.draft("RGB", (THUMB_SIDE, THUMB_SIDE))
            rgb = im.convert("RGB")
    except Image.DecompressionBombError:
        return None, "too large to decode for a thumbnail (a decompression bomb)"
    except Exception as exc:
        return None, f"the stored bytes do not decode as an image ({type(exc).__name__})"
    rgb.thumbnail((THUMB_SIDE, THUMB_SIDE))
    if rgb.width < 1 or rgb.height < 1:
        return None, "the image has no pixels"
    buf = io.BytesIO()
    rgb.save(buf, "JPEG", quality=80)
    return buf.getvalue(), ""

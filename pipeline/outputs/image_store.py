"""Checked images parked on the build's filesystem between the image stage and the shard
writer, so that their bytes cross no shuffle.

A stored image (tens of kilobytes) is used at three joins after it is checked: back to each
(document, position) asking for it, into its document, and into its shard. Moving the bytes
through them costs three shuffles of the corpus's pixels and, on the local runner, holds them
all in memory. The image stage instead writes each checked JPEG once, under a name made of its
SHA-256 (``DIR/_work/images/ab/abcd....jpg``), and passes the path; the shard writer reads it
back while it streams the tar. The same picture under many URLs is written once; a retried
bundle or a rerun after a kill rewrites the same bytes under the same name. ``m3w build``
removes ``_work/`` once the manifest is written.

In a sample's members, ``bytes`` are content and a ``str`` is such a path.
"""

from __future__ import annotations

import hashlib

from apache_beam.io.filesystems import FileSystems

from pipeline.outputs.atomic import write_atomic

WORK_DIR = "_work"
IMAGES_DIR = f"{WORK_DIR}/images"


class ImageStore:
    """Content-addressed JPEGs under ``root`` (any Beam filesystem)."""

    def __init__(self, root: str) -> None:
        self.root = root.rstrip("/")

    def put(self, data: bytes) -> str:
        """Store ``data`` once; return the path that stands for it in a sample."""
        digest = hashlib.sha256(data).hexdigest()
        path = FileSystems.join(self.root, digest[:2], f"{digest}.jpg")
        if not FileSystems.exists(path):
            write_atomic(path, data)
        return path


def member_bytes(value: bytes | str) -> bytes:
    """A member's content: the bytes themselves, or those of the stored image it names."""
    if isinstance(value, str):
        with FileSystems.open(value) as fh:
            return fh.read()
    return value

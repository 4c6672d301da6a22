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
        # Looked up once: FileSystems finds a path's filesystem anew on every call, and put()
        # runs for every checked image.
        self._fs = FileSystems.get_filesystem(self.root)

    def put(self, data: bytes) -> str:
        """Store ``data`` once; return the path that stands for it in a sample."""
        digest = hashlib.sha256(data).hexdigest()
        path = self._fs.join(self.root, digest[:2], f"{digest}.jpg")
        if not self._fs.exists(path):
            # No fsync: member_bytes checks the content against its name when it reads it.
            write_atomic(path, data, durable=False)
        return path


class DamagedImage(ValueError):
    """A parked image whose bytes no longer match the hash in its name (a machine crash
    before they reached the disk): remove DIR/_work and rerun the build."""


def member_bytes(value: bytes | str) -> bytes:
    """A member's content: the bytes themselves, or those of the stored image it names,
    checked against the SHA-256 in its name."""
    if not isinstance(value, str):
        return value
    with FileSystems.open(value) as fh:
        data = fh.read()
    name = value.rsplit("/", 1)[-1].split(".", 1)[0]
    if hashlib.sha256(data).hexdigest() != name:
        raise DamagedImage(f"{value}: content does not match its name; remove the build's "
                           f"{WORK_DIR}/ folder and rerun")
    return data

"""Write a file so that no reader ever sees it partial under its final name."""

from __future__ import annotations

import uuid

from apache_beam.io.filesystems import FileSystems

TMP_MARK = ".tmp-"


def write_atomic(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary sibling and a rename."""
    tmp = f"{path}{TMP_MARK}{uuid.uuid4().hex}"
    with FileSystems.create(tmp) as fh:
        fh.write(data)
    if FileSystems.exists(path):
        FileSystems.delete([path])
    FileSystems.rename([tmp], [path])

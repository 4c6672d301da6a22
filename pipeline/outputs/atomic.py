"""Publish a file so that no reader ever sees it partial, or missing, under its final name.

What each filesystem guarantees:

- Local paths: the bytes go to a temporary sibling ``NAME.tmp-<uuid>``, are flushed and
  fsync'ed, then ``os.replace`` renames the temporary over ``NAME``. POSIX rename is atomic:
  a reader opens the old file or the new one, never a partial file and never a gap without
  one. A writer killed midway leaves only the temporary, which ``m3w build`` deletes before it
  starts again (``pipeline.run.prepare_output`` removes every name holding ``.tmp-``).
- Object stores (``gs://``, ``s3://``): a rename is a copy plus a delete, so no temporary is
  used. The object is created under its final name and the store makes it visible only when
  the upload completes (the handle is closed), all at once, replacing any older object in one
  step. A writer that fails midway abandons its upload (never closing it: closing would
  publish what was written); a killed one leaves an unfinished upload that never becomes an
  object.
- Any other filesystem Beam knows (``hdfs://``...): temporary sibling, then Beam's rename,
  which there must delete an existing target first: readers may see a short gap, never a
  partial file.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO

from apache_beam.io.filesystems import FileSystems

TMP_MARK = ".tmp-"
OBJECT_STORES = ("gs://", "s3://")


class CountingWriter:
    """A write-only handle that counts the bytes through it: tar and parquet writers ask
    ``tell()``, which not every filesystem's upload stream answers."""

    def __init__(self, fh: IO[bytes]) -> None:
        self._fh = fh
        self.count = 0
        self.closed = False

    def write(self, data: bytes) -> int:
        self._fh.write(data)
        self.count += len(data)
        return len(data)

    def tell(self) -> int:
        return self.count

    def flush(self) -> None:
        self._fh.flush()

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readable(self) -> bool:
        return False

    def close(self) -> None:  # the owner closes the underlying handle
        self.closed = True


def _is_local(path: str) -> bool:
    return "://" not in path or path.startswith("file://")


def _local_path(path: str) -> str:
    return path[len("file://"):] if path.startswith("file://") else path


@contextmanager
def atomic_output(path: str, before_publish: Callable[[], None] | None = None,
                  durable: bool = True) -> Iterator[CountingWriter]:
    """A handle whose bytes appear under ``path`` only once the block exits cleanly.

    ``before_publish`` runs after the content is complete and before it is published.
    ``durable=False`` skips the local fsync: for work files whose reader checks them and
    whose loss a rerun repairs (a process kill loses nothing either way; a machine crash can).
    """
    if _is_local(path):
        final = _local_path(path)
        os.makedirs(os.path.dirname(final) or ".", exist_ok=True)
        tmp = f"{final}{TMP_MARK}{uuid.uuid4().hex}"
        try:
            with open(tmp, "wb") as fh:
                yield CountingWriter(fh)
                fh.flush()
                if durable:
                    os.fsync(fh.fileno())
            if before_publish is not None:
                before_publish()
            os.replace(tmp, final)
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise
        return
    if path.startswith(OBJECT_STORES):
        fh = FileSystems.create(path)
        ok = False
        try:
            yield CountingWriter(fh)
            if before_publish is not None:
                before_publish()
            ok = True
        finally:
            if ok:
                fh.close()  # completes the upload: the object appears whole
            else:
                _abort(fh)
        return
    tmp = f"{path}{TMP_MARK}{uuid.uuid4().hex}"
    with FileSystems.create(tmp) as fh:
        yield CountingWriter(fh)
    if before_publish is not None:
        before_publish()
    if FileSystems.exists(path):
        FileSystems.delete([path])
    FileSystems.rename([tmp], [path])


def _abort(fh: IO[bytes]) -> None:
    """Abandon an unfinished upload. Closing it would complete it and publish a partial
    object, and file objects close themselves when garbage-collected, so after trying the
    handle's own abort, its close is made a no-op."""
    for name in ("abort", "cancel", "discard"):
        if callable(getattr(fh, name, None)):
            try:
                getattr(fh, name)()
            except Exception:  # best effort: the no-op close below still holds
                pass
            break
    try:
        fh.close = lambda: None  # type: ignore[method-assign]
    except AttributeError:  # a handle without an instance dict cannot be finalized by us
        pass


def write_atomic(path: str, data: bytes, durable: bool = True) -> None:
    """Write ``data`` to ``path``; readers see the old content or the new, never a part."""
    with atomic_output(path, durable=durable) as fh:
        fh.write(data)

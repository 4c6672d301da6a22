"""Input files through Beam's FileSystems: the same code reads local paths, gs://, s3://...

`BEAM` implements scrapers.storage.Storage for the pure readers; `expand_patterns` matches
globs, plain files and folders (prefixes on object stores).
"""

from __future__ import annotations

from typing import IO

from apache_beam.io.filesystem import BeamIOError, CompressionTypes
from apache_beam.io.filesystems import FileSystems

from scrapers.storage import LOCAL, is_local, local_path


def _has_magic(pattern: str) -> bool:
    return any(c in pattern for c in "*?[")


def _match(pattern: str) -> list[str]:
    try:
        return [m.path for m in FileSystems.match([pattern])[0].metadata_list]
    except (BeamIOError, ValueError):  # a store may raise for a pattern matching nothing
        return []


class BeamStorage:
    """scrapers.storage.Storage over FileSystems; local paths keep their folder semantics."""

    def open(self, path: str) -> IO[bytes]:
        # UNCOMPRESSED: readers decide themselves (gzip tables, tar.gz, WARC offsets).
        return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)

    def size(self, path: str) -> int | None:
        if is_local(path):
            return LOCAL.size(path)
        try:
            found = FileSystems.match([path])[0].metadata_list
        except (BeamIOError, ValueError):  # ValueError: a scheme no file system serves
            return None
        return found[0].size_in_bytes if found else None

    def is_dir(self, path: str) -> bool:
        if is_local(path):
            return LOCAL.is_dir(path)
        return self.size(path) is None and bool(_match(path.rstrip("/") + "/**"))

    def files_under(self, folder: str) -> list[str]:
        if is_local(folder):
            return LOCAL.files_under(folder)
        return sorted(_match(folder.rstrip("/") + "/**"))

    def join(self, base: str, *parts: str) -> str:
        return FileSystems.join(base, *parts)

    def dirname(self, path: str) -> str:
        if is_local(path):
            return LOCAL.dirname(path)
        return FileSystems.split(path)[0]

    def is_absolute(self, path: str) -> bool:
        return LOCAL.is_absolute(path)


BEAM = BeamStorage()


def expand_patterns(patterns: list[str]) -> tuple[list[str], list[str]]:
    """(files and folders matched, patterns that matched nothing), both sorted.

    A glob matches files (and, on the local disk, folders too); a plain path is a file, a
    folder, or on an object store a prefix with files below it."""
    found: set[str] = set()
    missing: list[str] = []
    for pat in patterns:
        if _has_magic(pat):
            hits = _match(pat)
            if is_local(pat):  # a local glob may name folders, which FileSystems skips
                import glob

                hits += [h for h in glob.glob(local_path(pat)) if LOCAL.is_dir(h)]
        elif BEAM.size(pat) is not None or BEAM.is_dir(pat):
            hits = [pat]
        else:
            hits = []
        found.update(hits)
        if not hits:
            missing.append(pat)
    return sorted(found), sorted(missing)


__all__ = ["BEAM", "BeamStorage", "expand_patterns"]

"""Which input files are corpora to import, and in which schema.

``sources.interleaved.input_format`` says how: ``auto`` (the default) takes ``.jsonl`` and
``.jsonl.gz`` files as MMC4 and a ``.parquet`` file as OBELICS when it has ``texts`` and
``images`` columns (only the footer is read; any other Parquet file is a URL list);
``obelics`` takes every ``.parquet`` file as OBELICS, whatever its columns (a missing column
then rejects each row); ``mmc4`` is ``auto`` for the JSONL files without reading any footer.
"""

from __future__ import annotations

from typing import Any

OBELICS = "obelics"
MMC4 = "mmc4"
INPUT_FORMATS = ("auto", OBELICS, MMC4)
MMC4_SUFFIXES = (".jsonl", ".jsonl.gz")
OBELICS_COLUMNS = ("texts", "images")  # what recognises an OBELICS file in auto mode


def parquet_columns(path: str) -> set[str]:
    """The top-level column names of a Parquet file (its footer only); none when unreadable."""
    import pyarrow.parquet as pq
    from apache_beam.io.filesystem import CompressionTypes
    from apache_beam.io.filesystems import FileSystems

    try:
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as fh:
            return set(pq.ParquetFile(fh).schema_arrow.names)
    except Exception:  # unreadable here: the URL-list reader reports it as an error piece
        return set()


def corpus_format(path: str, input_format: str = "auto") -> str | None:
    """``obelics`` or ``mmc4`` when ``path`` is a corpus to import, else None."""
    name = path.lower()
    if name.endswith(MMC4_SUFFIXES):
        return MMC4
    if not name.endswith(".parquet") or input_format == MMC4:
        return None
    if input_format == OBELICS or set(OBELICS_COLUMNS) <= parquet_columns(path):
        return OBELICS
    return None


def imports_corpus(cfg: dict[str, Any]) -> bool:
    """Whether a build's inputs hold a corpus to import, judged before the build runs: by the
    config's input_format, the inputs' names, and the footer of the first Parquet file each
    input pattern matches (so the funnel can list the import reasons, zeros included)."""
    from apache_beam.io.filesystems import FileSystems

    src = cfg["sources"].get("interleaved") or {}
    fmt = src.get("input_format", "auto")
    if fmt != "auto":
        return True
    for pattern in src.get("input") or []:
        if pattern.lower().endswith(MMC4_SUFFIXES):
            return True
        try:
            found = [m.path for m in FileSystems.match([pattern])[0].metadata_list]
        except Exception:  # no match: check_inputs says so before the build starts
            continue
        first = next((p for p in sorted(found) if p.lower().endswith(".parquet")), None)
        if any(p.lower().endswith(MMC4_SUFFIXES) for p in found) or (
                first is not None and corpus_format(first, fmt)):
            return True
    return False

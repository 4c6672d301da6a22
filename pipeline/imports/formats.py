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


def input_format(cfg: dict[str, Any]) -> str:
    """The config's ``sources.interleaved.input_format`` (``auto`` when unset)."""
    return (cfg["sources"].get("interleaved") or {}).get("input_format", "auto")


def parquet_footer(path: str) -> tuple[set[str], int | None]:
    """A Parquet file's top-level column names and row-group count, from one read of its
    footer: no names when they cannot be read, no count (None) when the footer cannot be (the
    URL-list or corpus reader then reports the file as an error piece)."""
    import pyarrow.parquet as pq

    from pipeline.stages.read import open_input

    try:
        with open_input(path) as fh:
            pf = pq.ParquetFile(fh)
            groups = pf.num_row_groups
            try:
                names = set(pf.schema_arrow.names)
            except Exception:
                names = set()
    except Exception:
        return set(), None
    return names, groups


def corpus_format(path: str, input_format: str = "auto",
                  columns: set[str] | None = None) -> str | None:
    """``obelics`` or ``mmc4`` when ``path`` is a corpus to import, else None. ``columns``: the
    Parquet file's column names when its footer is already read (see parquet_footer)."""
    name = path.lower()
    if name.endswith(MMC4_SUFFIXES):
        return MMC4
    if not name.endswith(".parquet") or input_format == MMC4:
        return None
    if input_format == OBELICS:
        return OBELICS
    if columns is None:
        columns = parquet_footer(path)[0]
    if set(OBELICS_COLUMNS) <= columns:
        return OBELICS
    return None


def imports_corpus(cfg: dict[str, Any]) -> bool:
    """Whether a build's inputs hold a corpus to import, judged before the build runs: by the
    config's input_format, the inputs' names, and the footer of the first Parquet file each
    input pattern matches (so the funnel can list the import reasons, zeros included)."""
    from apache_beam.io.filesystems import FileSystems

    if input_format(cfg) != "auto":
        return True
    src = cfg["sources"].get("interleaved") or {}
    for pattern in src.get("input") or []:
        if pattern.lower().endswith(MMC4_SUFFIXES):
            return True
        try:
            found = [m.path for m in FileSystems.match([pattern])[0].metadata_list]
        except Exception:  # no match: check_inputs says so before the build starts
            continue
        first = next((p for p in sorted(found) if p.lower().endswith(".parquet")), None)
        if any(p.lower().endswith(MMC4_SUFFIXES) for p in found) or (
                first is not None and corpus_format(first)):
            return True
    return False

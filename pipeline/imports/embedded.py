"""Images whose bytes an imported row holds: used as they are, never fetched.

A WARC image record is re-read by (path, offset) when the image stage checks it. A row cannot
be re-read that cheaply: a Parquet file is read a whole column chunk at a time and a gzipped
JSONL file from its start. So the importer parks each embedded image once, where it meets the
row, in a pack file of its bundle in the build's work folder (``DIR/_work/embedded/``, which
``m3w build`` removes at the end; see ``pipeline.outputs.image_store``), and an
``EmbeddedImage`` carries only a reference to it to the image stage, where it takes the place
of a stored WARC copy of that URL. No image's bytes cross a shuffle, and a retried bundle
writes a pack of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.outputs.image_store import WORK_DIR

EMBEDDED_DIR = f"{WORK_DIR}/embedded"


@dataclass
class EmbeddedImage:
    """An image stored by an imported row: its URL, the row's place (``file#row#image``, the
    tie-break when several rows store one URL) and the reference to its parked bytes."""

    url: str
    source_id: str
    path: str  # a parked-image reference (pipeline.outputs.image_store)

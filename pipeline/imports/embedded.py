"""Images whose bytes an imported row holds: used as they are, never fetched.

A WARC image record is re-read by (path, offset) when the image stage checks it. A row cannot
be re-read that cheaply: a Parquet file is read a whole column chunk at a time and a gzipped
JSONL file from its start. So the importer parks each embedded image once, where it meets the
row, under the SHA-256 of its bytes in the build's work folder (``DIR/_work/embedded/``, which
``m3w build`` removes at the end), and an ``EmbeddedImage`` carries only its path to the image
stage, where it takes the place of a stored WARC copy of that URL. No image's bytes cross a
shuffle, and a retried bundle rewrites the same file under the same name.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.outputs.image_store import WORK_DIR

EMBEDDED_DIR = f"{WORK_DIR}/embedded"


@dataclass
class EmbeddedImage:
    """An image stored by an imported row: its URL, the row's place (``file#row#image``, the
    tie-break when several rows store one URL) and the path of its parked bytes."""

    url: str
    source_id: str
    path: str

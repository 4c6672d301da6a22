"""Beam coders for the build's records: Document (with its nodes), Reject, WebRecord, the
pair records, imported rows' EmbeddedImage, spool references and the image stage's
ImageOutcome, in the compact encoding of ``schemas.codec`` instead of a pickle carrying class
paths and field names. New types go at the end of ``RECORD_TYPES``: its order numbers them.

Three registrations, all made by ``register()`` (build.py calls it, so the pipeline that is
built, and the workers that decode its coders, use them):

- ``registry.register_coder(T, RecordCoder)`` for each record type: used wherever a
  PCollection's element type is known to be one of them;
- a fallback coder for untyped PCollections (most of a DAG of lambdas and DoFns): Beam's
  FastPrimitivesCoder, which already encodes tuples, lists, dicts, strings and bytes itself,
  with our records, wherever they sit inside those, encoded by ``schemas.codec`` instead of
  its pickle fallback. Other objects are still pickled;
- ``GroupValuesCoder`` for the groups of the file shuffle, which sets their element type.
"""

from __future__ import annotations

import io
import pickle
from typing import Any

from apache_beam.coders import coder_impl, coders, typecoders

from pipeline.file_shuffle import GroupValues, record, records_of, write_records
from pipeline.imports.embedded import EmbeddedImage
from pipeline.outputs.spool import SpoolRef
from pipeline.stages.images import ImageOutcome
from schemas import Document, ImageNode, ImageTextPair, Reject, TextNode, VideoTextPair, codec
from scrapers.warc_read import WebRecord

RECORD_TYPES = (Document, TextNode, ImageNode, Reject, WebRecord, ImageTextPair, VideoTextPair,
                EmbeddedImage, SpoolRef, ImageOutcome)
for _cls in RECORD_TYPES:  # this order fixes the class numbers
    codec.register_record(_cls)


class _Stateless(coders.Coder):
    """A coder without parameters: every instance of one class is the same coder."""

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other)

    def __hash__(self) -> int:
        return hash(type(self))


class RecordCoder(_Stateless):
    """One record type, compact and deterministic."""

    def encode(self, value: Any) -> bytes:
        return codec.encode(value)

    def decode(self, encoded: bytes) -> Any:
        return codec.decode(encoded)

    def is_deterministic(self) -> bool:
        return True

    def to_type_hint(self) -> Any:
        return Any


_RECORD, _PICKLED = b"\x01", b"\x00"
_RECORD_HEAD = len(record(b"", b""))  # the lengths before each value


class RecordOrPickleCoder(_Stateless):
    """FastPrimitivesCoder's fallback: our records compact, anything else pickled."""

    def encode(self, value: Any) -> bytes:
        if codec.is_record(value):
            return _RECORD + codec.encode(value)
        return _PICKLED + pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)

    def decode(self, encoded: bytes) -> Any:
        if encoded[:1] == _RECORD:
            return codec.decode(encoded[1:])
        return pickle.loads(encoded[1:])

    def _create_impl(self) -> coder_impl.CoderImpl:
        return coder_impl.CallbackCoderImpl(self.encode, self.decode)

    def is_deterministic(self) -> bool:
        return False  # pickle is not


class GroupValuesCoder(_Stateless):
    """A group's values from the file shuffle (``file_shuffle.GroupValues``): where they
    cross a stage boundary, their encodings as read, one record each, never decoded. Their
    size is known from those encodings: the runner samples element sizes (the first ten of
    each output, then fewer), and a hot key's group must not be decoded whole for that."""

    def encode(self, values: GroupValues) -> bytes:
        buf = io.BytesIO()
        write_records(buf, ((b"", v) for v in values.encodings()))
        return buf.getvalue()

    def decode(self, encoded: bytes) -> GroupValues:
        return GroupValues(records_of(io.BytesIO(encoded), "a group's values"))

    def estimate_size(self, values: GroupValues) -> int:
        return values.nbytes + _RECORD_HEAD * values.count

    def _create_impl(self) -> coder_impl.CoderImpl:
        return coder_impl.CallbackCoderImpl(self.encode, self.decode, self.estimate_size)

    def is_deterministic(self) -> bool:
        return True

    def to_type_hint(self) -> Any:
        return GroupValues


class BuildPrimitivesCoder(coders.FastPrimitivesCoder):
    """The default coder of untyped PCollections, with records encoded compactly."""

    def __init__(self, fallback_coder: coders.Coder | None = None) -> None:
        super().__init__(fallback_coder or RecordOrPickleCoder())


_registered = False


def register() -> None:
    """Register the record coders with Beam's global registry (idempotent)."""
    global _registered
    if _registered:
        return
    for cls in RECORD_TYPES:
        typecoders.registry.register_coder(cls, RecordCoder)
    typecoders.registry.register_coder(GroupValues, GroupValuesCoder)
    typecoders.registry.register_fallback_coder(BuildPrimitivesCoder)
    _registered = True

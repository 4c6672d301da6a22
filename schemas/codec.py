"""A compact, exact binary encoding of the build's records (no Beam here; the Beam coders in
``pipeline.coders`` wrap it).

A registered dataclass becomes a plain tuple ``(..., class number, field values in declared
order)``: no class path and no field names, unlike a pickle. The plain tree (strings, bytes,
numbers, lists, tuples, dicts) is then written by ``marshal`` at version 2, which runs in C (the
elements of a build are encoded and decoded at every fused-stage boundary, so a Python-level
encoder costs more CPU than it saves in bytes) and, unlike later versions and pickle, writes no
back-references, so equal values always encode to equal bytes. A user tuple that happens to
start with ``...`` is escaped, and anything marshal cannot write is pickled inside the tree, so
every value round-trips exactly (lone surrogates, big integers, -0.0, dict order included).

Class numbers come from the order of ``register_record`` calls, the same in every process
running the same code; the encoding is for shuffles within one build, not for storage.
"""

from __future__ import annotations

import dataclasses
import marshal
import pickle
import struct
import zlib
from typing import Any

_classes: list[type] = []
_ids: dict[type, int] = {}
_fields: list[tuple[str, ...]] = []


def register_record(cls: type) -> None:
    """Give dataclass ``cls`` a class number (idempotent)."""
    if cls in _ids:
        return
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    _ids[cls] = len(_classes)
    _classes.append(cls)
    _fields.append(tuple(f.name for f in dataclasses.fields(cls)))


def is_record(value: Any) -> bool:
    return type(value) in _ids


_MARK = ...  # first item of a record's tuple, of an escaped tuple, of a pickled value
_ESCAPED, _PICKLED = -1, -2
_CRC = struct.Struct(">I")
_LEAVES = (str, bytes, int, float, bool, type(None))


def _plain(v: Any) -> Any:
    t = type(v)
    if t in _LEAVES:
        return v
    cid = _ids.get(t)
    if cid is not None:
        d = v.__dict__
        return (_MARK, cid, *[_plain(d[name]) for name in _fields[cid]])
    if t is list:
        return [_plain(x) for x in v]
    if t is dict:
        return {_plain(k): _plain(x) for k, x in v.items()}
    if t is tuple:
        items = tuple(_plain(x) for x in v)
        return (_MARK, _ESCAPED, *items) if items and items[0] is _MARK else items
    return (_MARK, _PICKLED, pickle.dumps(v, protocol=pickle.HIGHEST_PROTOCOL))


def _unplain(v: Any) -> Any:
    t = type(v)
    if t is tuple:
        if v and v[0] is _MARK:
            tag = v[1]
            if tag == _PICKLED:
                return pickle.loads(v[2])
            if tag == _ESCAPED:
                return tuple(_unplain(x) for x in v[2:])
            cls = _classes[tag]
            obj = cls.__new__(cls)
            d = obj.__dict__
            for name, x in zip(_fields[tag], v[2:]):
                d[name] = _unplain(x)
            return obj
        return tuple(_unplain(x) for x in v)
    if t is list:
        return [_unplain(x) for x in v]
    if t is dict:
        return {_unplain(k): _unplain(x) for k, x in v.items()}
    return v


def encode(value: Any) -> bytes:
    body = marshal.dumps(_plain(value), 2)
    return body + _CRC.pack(zlib.crc32(body))


def decode(data: bytes) -> Any:
    """The value of ``encode``'s bytes; a cut, extended or damaged encoding raises ValueError
    (its 4-byte CRC-32 trailer no longer matches)."""
    body, trailer = data[:-4], data[-4:]
    if len(data) < 5 or _CRC.unpack(trailer)[0] != zlib.crc32(body):
        raise ValueError("corrupt record encoding: checksum mismatch")
    try:
        return _unplain(marshal.loads(body))
    except (EOFError, TypeError, ValueError, IndexError, KeyError) as exc:
        raise ValueError(f"corrupt record encoding: {exc}") from None

"""A compact, exact binary encoding of the build's records (no Beam here; the Beam coders in
``pipeline.coders`` wrap it).

Every value is one tag byte and its body: integers as zigzag varints, strings as a varint
length and UTF-8 (lone surrogates kept: ``surrogatepass``), lower-case hex strings (keys,
SHA-256 digests) as their raw bytes, floats as 8 bytes, lists, tuples and dicts as a count
and their items, and a registered dataclass as its class number and its fields in declared
order: no class path, no field names. Anything else is pickled, so every value round-trips
exactly. The encoding depends only on the value (dicts keep their insertion order), so equal
records encode to equal bytes.

Class numbers come from the order of ``register_record`` calls, the same in every process
running the same code; the encoding is for shuffles within one build, not for storage.
"""

from __future__ import annotations

import dataclasses
import pickle
import re
import struct
from typing import Any

_NONE, _FALSE, _TRUE, _INT, _FLOAT, _STR, _EMPTY, _HEX, _BYTES = range(9)
_LIST, _TUPLE, _DICT, _RECORD, _PICKLE = range(9, 14)

_HEX_RE = re.compile(r"(?:[0-9a-f]{2}){8,64}")
_DOUBLE = struct.Struct(">d")

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


def _varint(out: bytearray, n: int) -> None:
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def _write(out: bytearray, v: Any) -> None:
    t = type(v)
    if t is str:
        if not v:
            out.append(_EMPTY)
        elif len(v) <= 128 and _HEX_RE.fullmatch(v):
            out.append(_HEX)
            _varint(out, len(v) // 2)
            out += bytes.fromhex(v)
        else:
            b = v.encode("utf-8", "surrogatepass")
            out.append(_STR)
            _varint(out, len(b))
            out += b
    elif v is None:
        out.append(_NONE)
    elif t is int:
        out.append(_INT)
        _varint(out, (v << 1) if v >= 0 else ((-v << 1) - 1))
    elif t is bool:
        out.append(_TRUE if v else _FALSE)
    elif t is float:
        out.append(_FLOAT)
        out += _DOUBLE.pack(v)
    elif t in _ids:
        out.append(_RECORD)
        cid = _ids[t]
        _varint(out, cid)
        d = v.__dict__
        for name in _fields[cid]:
            _write(out, d[name])
    elif t is list or t is tuple:
        out.append(_LIST if t is list else _TUPLE)
        _varint(out, len(v))
        for item in v:
            _write(out, item)
    elif t is dict:
        out.append(_DICT)
        _varint(out, len(v))
        for k, item in v.items():
            _write(out, k)
            _write(out, item)
    elif t is bytes:
        out.append(_BYTES)
        _varint(out, len(v))
        out += v
    else:
        b = pickle.dumps(v, protocol=pickle.HIGHEST_PROTOCOL)
        out.append(_PICKLE)
        _varint(out, len(b))
        out += b


def encode(value: Any) -> bytes:
    out = bytearray()
    _write(out, value)
    return bytes(out)


def _read(data: bytes, pos: int) -> tuple[Any, int]:
    """The value starting at ``pos`` and the position after it. Branches in order of
    frequency in documents: strings first."""
    tag = data[pos]
    pos += 1
    if tag <= _BYTES and tag not in (_NONE, _FALSE, _TRUE, _EMPTY, _FLOAT):
        # _INT, _STR, _HEX, _BYTES: a varint, then for all but _INT that many bytes
        n = shift = 0
        while True:
            b = data[pos]
            pos += 1
            n |= (b & 0x7F) << shift
            if b < 0x80:
                break
            shift += 7
        if tag == _STR:
            end = pos + n
            if end > len(data):
                raise ValueError("truncated record encoding")
            return data[pos:end].decode("utf-8", "surrogatepass"), end
        if tag == _INT:
            return ((n >> 1) if not n & 1 else -((n + 1) >> 1)), pos
        end = pos + n
        if end > len(data):
            raise ValueError("truncated record encoding")
        return (data[pos:end].hex() if tag == _HEX else data[pos:end]), end
    if tag == _EMPTY:
        return "", pos
    if tag == _NONE:
        return None, pos
    if tag == _FALSE:
        return False, pos
    if tag == _TRUE:
        return True, pos
    if tag == _FLOAT:
        if pos + 8 > len(data):
            raise ValueError("truncated record encoding")
        return _DOUBLE.unpack_from(data, pos)[0], pos + 8
    if tag > _PICKLE:
        raise ValueError(f"unknown record encoding tag {tag}")
    n, pos = _read_varint(data, pos)
    if tag == _RECORD:
        cls = _classes[n]
        obj = cls.__new__(cls)
        d = obj.__dict__
        for name in _fields[n]:
            d[name], pos = _read(data, pos)
        return obj, pos
    if tag == _LIST or tag == _TUPLE:
        items = []
        for _ in range(n):
            v, pos = _read(data, pos)
            items.append(v)
        return (items if tag == _LIST else tuple(items)), pos
    if tag == _DICT:
        out = {}
        for _ in range(n):
            k, pos = _read(data, pos)
            out[k], pos = _read(data, pos)
        return out, pos
    end = pos + n  # _PICKLE
    if end > len(data):
        raise ValueError("truncated record encoding")
    return pickle.loads(data[pos:end]), end


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        b = data[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        if b < 0x80:
            return n, pos
        shift += 7


def decode(data: bytes) -> Any:
    try:
        value, pos = _read(data, 0)
    except IndexError:
        raise ValueError("truncated record encoding") from None
    if pos != len(data):
        raise ValueError("trailing bytes after a record encoding")
    return value

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
from collections.abc import Callable
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
    cid = len(_classes)
    _ids[cls] = cid
    _classes.append(cls)
    names = tuple(f.name for f in dataclasses.fields(cls))
    _fields.append(names)
    _to_plain[cls] = _record_plainer(cid, names)
    _from_plain.append(_record_builder(cls, names))


def is_record(value: Any) -> bool:
    return type(value) in _ids


_MARK = ...  # first item of a record's tuple, of an escaped tuple, of a pickled value
_ESCAPED, _PICKLED = -1, -2
_CRC = struct.Struct(">I")
_LEAVES = frozenset((str, bytes, int, float, bool, type(None)))
_NESTED = frozenset((tuple, list, dict))  # what decoding must look inside

# Records are most of what a build encodes, and most of their fields are leaves. So each
# class gets an encoder and a decoder compiled for its fields, with the leaf test inlined:
# a Python call per field would cost more than marshal's whole C pass.


def _record_plainer(cid: int, names: tuple[str, ...]) -> Callable[[Any], tuple]:
    lines = ["def plain_record(v):", "    d = v.__dict__"]
    items = []
    for i, name in enumerate(names):
        lines.append(f"    x{i} = d[{name!r}]")
        items.append(f"x{i} if type(x{i}) in L else P(x{i})")
    lines.append(f"    return (M, {cid}, {', '.join(items)})")
    return _compiled("\n".join(lines), "plain_record", {"L": _LEAVES, "P": _plain, "M": _MARK})


def _record_builder(cls: type, names: tuple[str, ...]) -> Callable[[tuple], Any]:
    lines = ["def build_record(v):", "    obj = new(cls)", "    d = obj.__dict__"]
    for i, name in enumerate(names):
        lines.append(f"    x = v[{i + 2}]")
        lines.append(f"    d[{name!r}] = U(x) if type(x) in N else x")
    lines.append("    return obj")
    return _compiled("\n".join(lines), "build_record",
                     {"new": object.__new__, "cls": cls, "N": _NESTED, "U": _unplain})


def _compiled(source: str, name: str, env: dict[str, Any]) -> Callable:
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<codec {name}>", "exec"), env, namespace)
    return namespace[name]


def _plain(v: Any) -> Any:
    t = type(v)
    if t in _LEAVES:
        return v
    to_plain = _to_plain.get(t)
    if to_plain is not None:
        return to_plain(v)
    return (_MARK, _PICKLED, pickle.dumps(v, protocol=pickle.HIGHEST_PROTOCOL))


def _plain_list(v: list) -> list:
    return [x if type(x) in _LEAVES else _plain(x) for x in v]


def _plain_tuple(v: tuple) -> tuple:
    items = tuple([x if type(x) in _LEAVES else _plain(x) for x in v])
    return (_MARK, _ESCAPED, *items) if items and items[0] is _MARK else items


def _plain_dict(v: dict) -> dict:
    return {_plain(k): x if type(x) in _LEAVES else _plain(x) for k, x in v.items()}


_to_plain: dict[type, Callable[[Any], Any]] = {
    list: _plain_list, tuple: _plain_tuple, dict: _plain_dict}
_from_plain: list[Callable[[tuple], Any]] = []


def _unplain(v: Any) -> Any:
    t = type(v)
    if t is tuple:
        if v and v[0] is _MARK:
            tag = v[1]
            if tag == _PICKLED:
                return pickle.loads(v[2])
            if tag == _ESCAPED:
                return tuple([_unplain(x) if type(x) in _NESTED else x for x in v[2:]])
            if len(v) != len(_fields[tag]) + 2:
                raise ValueError(f"record {tag} with {len(v) - 2} fields")
            return _from_plain[tag](v)
        return tuple([_unplain(x) if type(x) in _NESTED else x for x in v])
    if t is list:
        return [_unplain(x) if type(x) in _NESTED else x for x in v]
    if t is dict:
        return {_unplain(k): _unplain(x) if type(x) in _NESTED else x for k, x in v.items()}
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

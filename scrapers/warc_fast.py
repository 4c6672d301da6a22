"""A fast reader for the plain records of a record-per-member gzipped WARC file.

warcio reads a record through several Python layers (a buffered decompressor, line-by-line
header parsing, a length-limited stream): about twice the cost of inflating it. A Common
Crawl file holds one record per gzip member, in a form that needs none of that: ASCII
headers, an exact Content-Length, HTTP headers without transfer or content coding. Such a
member is inflated whole and split by hand here.

The fast path is only an accelerator, never a second parser with its own opinions: what it
cannot vouch for goes to warcio, so what is read is what warcio alone would read.
- A member known to hold one record, but with headers warcio might read otherwise (non-ASCII,
  folded, chunked or compressed HTTP bodies, a URI warcio rewrites), is read by warcio alone;
  after ODD_RUN such members in a row, warcio reads the rest of the file.
- Anything else (ARC, uncompressed, a wrong length, several records in one member, a corrupt
  or cut member, a record over the size cap) hands warcio the rest of the file, from that
  member on, in the read blocks warcio would have used from the file's start.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterator
from typing import IO, Any

from warcio.bufferedreaders import BUFF_SIZE as WARCIO_BLOCK

GZIP_MAGIC = b"\x1f\x8b"
READ_BLOCK = 1 << 20  # bytes read from the file at a time
FIRST_WINDOW = 1 << 15  # compressed bytes handed to zlib first: most members are smaller
WARC_LINES = (b"WARC/1.0", b"WARC/1.1")
HTTP_RECORDS = ("response", "request", "revisit")  # the types warcio reads HTTP headers of
END = b"\r\n\r\n"
# A file whose members are odd one after another (chunked bodies everywhere, say) is not a
# crawl's plain form: after this many in a row, warcio reads the rest of it, instead of
# every member being inflated twice.
ODD_RUN = 8


class NotPlain(Exception):
    """This member is for warcio to read: ``alone`` where it is known to hold exactly one
    record (warcio then reads that member alone), else from it to the end of the file."""

    def __init__(self, alone: bool = False) -> None:
        super().__init__()
        self.alone = alone


class PlainRecord:
    """The parts of a warcio ArcWarcRecord that the readers use, for a plain record."""

    raw_stream = None  # whole: nothing is missing

    def __init__(self, rec_type: str, rec_headers: Headers, http_headers: Headers | None,
                 payload: bytes) -> None:
        self.rec_type = rec_type
        self.rec_headers = rec_headers
        self.http_headers = http_headers
        self._payload = payload

    def content_stream(self) -> _Bytes:
        return _Bytes(self._payload)


class _Bytes:
    """read(n) over bytes; a read of everything returns the bytes themselves, uncopied."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self, size: int = -1) -> bytes:
        data, self.data = (self.data, b"") if size < 0 else (self.data[:size], self.data[size:])
        return data


class Headers:
    """Status line and header fields, looked up as warcio's StatusAndHeaders does (the
    first field of a name, any case), without its per-lookup scan."""

    def __init__(self, statusline: str, fields: list[tuple[str, str]]) -> None:
        self.statusline, self.headers = statusline, fields
        self._first = {name.lower(): value for name, value in reversed(fields)}

    def get_header(self, name: str, default: str | None = None) -> str | None:
        return self._first.get(name.lower(), default)

    def get_statuscode(self) -> str:
        return self.statusline.split(" ", 1)[0]


def _fields(block: bytes) -> list[tuple[str, str]] | None:
    """Header lines as warcio reads them, or None where warcio might read them otherwise
    (non-ASCII, folded, a blank-looking line, a bare CR or LF)."""
    if not block.isascii():
        return None
    text = block.decode("ascii")
    lines = text.split("\r\n")
    if text.count("\n") != len(lines) - 1 or text.count("\r") != len(lines) - 1:
        return None
    out = []
    for line in lines:
        line = line.rstrip()
        if not line or line[0] in " \t":
            return None
        name, sep, value = line.partition(":")
        if sep:  # warcio drops a line without a colon
            out.append((name.rstrip(" \t"), value.lstrip()))
    return out


def plain_record(raw: bytes) -> PlainRecord:
    """The record of one inflated member, parsed as warcio would; NotPlain otherwise."""
    head_end = raw.find(END)
    first_end = raw.find(b"\r\n")
    if head_end < 0 or raw[:first_end] not in WARC_LINES:
        raise NotPlain
    fields = _fields(raw[first_end + 2:head_end])
    if fields is None:
        raise NotPlain
    rec_headers = Headers("", fields)
    length = rec_headers.get_header("Content-Length") or ""
    if not length.isdigit():
        raise NotPlain
    start, length = head_end + 4, int(length)
    if len(raw) != start + length + 4 or not raw.endswith(END):
        raise NotPlain  # a wrong length, or more than one record in the member
    rec_type = rec_headers.get_header("WARC-Type")
    uri = rec_headers.get_header("WARC-Target-URI")
    http_records = rec_type in HTTP_RECORDS
    if not rec_type or (uri is None and http_records) or uri and (uri[0] == "<" or " " in uri):
        raise NotPlain(alone=True)  # warcio rewrites such a URI, and fails without one
    stop, http = start + length, None
    if length and http_records and uri.startswith(("http:", "https:")):
        http, start = _http(raw, start, stop, rec_type)
    return PlainRecord(rec_type, rec_headers, http, raw[start:stop])  # the payload, copied once


def _http(raw: bytes, start: int, stop: int, rec_type: str) -> tuple[Headers, int]:
    """The HTTP headers of the block raw[start:stop], and where its body starts."""
    end = raw.find(END, start, stop)
    first_end = raw.find(b"\r\n", start, stop)
    if end < 0:
        raise NotPlain(alone=True)
    status = raw[start:first_end]
    fields = _fields(raw[first_end + 2:end]) if first_end < end else []
    if fields is None or not status.isascii():
        raise NotPlain(alone=True)
    line = status.decode("ascii").rstrip()
    if not line:
        raise NotPlain(alone=True)
    # warcio reads the first line unverified: the protocol (or verb), then the status line
    headers = Headers(line.partition(" ")[2].strip(), fields)
    if rec_type != "request" and (headers.get_header("transfer-encoding")
                                  or headers.get_header("content-encoding")):
        raise NotPlain(alone=True)  # warcio decodes these bodies
    return headers, end + 4


class Members:
    """The gzip members of a stream, inflated one at a time, with their offsets."""

    def __init__(self, fileobj: IO[bytes], block: int = READ_BLOCK) -> None:
        self.fh = fileobj
        self.block = block
        self.buf = b""
        self.pos = 0  # the next member's start in buf
        self.base = 0  # the stream offset of buf[0]

    @property
    def offset(self) -> int:
        """The file offset of the next member."""
        return self.base + self.pos

    def _more(self) -> bool:
        # at least what is held: a large member's bytes are then copied a bounded number
        # of times in all, not once per block
        data = self.fh.read(max(self.block, len(self.buf) - self.pos))
        if not data:
            return False
        self.base += self.pos
        self.buf = self.buf[self.pos:] + data
        self.pos = 0
        return True

    def next(self, cap: int) -> bytes | None:
        """The next member inflated, None at the end of the stream; NotPlain where it is not
        a whole gzip member of at most ``cap`` bytes (nothing is consumed then)."""
        while len(self.buf) - self.pos < 2:
            if not self._more():
                if self.pos == len(self.buf):
                    return None
                raise NotPlain
        if self.buf[self.pos:self.pos + 2] != GZIP_MAGIC:
            raise NotPlain
        inflate = zlib.decompressobj(31)
        parts, size, at, window = [], 0, self.pos, FIRST_WINDOW
        while True:
            if at >= len(self.buf):
                at -= self.pos
                if not self._more():
                    raise NotPlain  # cut short
                at += self.pos
            chunk = memoryview(self.buf)[at:at + window]
            try:
                parts.append(inflate.decompress(chunk))
            except zlib.error:
                raise NotPlain from None
            size += len(parts[-1])
            if size > cap:
                raise NotPlain
            if inflate.eof:
                self.pos = at + len(chunk) - len(inflate.unused_data)
                return b"".join(parts)
            at += len(chunk)
            window = min(2 * window, self.block)

    def rest(self) -> _Rest:
        """The stream from the next member on, for warcio."""
        return _Rest(self.buf[self.pos:], self.fh, self.offset)


class _Rest:
    """Bytes already read, then the file, handed out in the blocks warcio would have read
    had it read the file from its start (it decompresses a block at a time, and what it
    makes of a corrupt member depends on where the blocks begin); tell() gives file
    offsets."""

    def __init__(self, head: bytes, fh: IO[bytes], offset: int) -> None:
        self.head, self.used, self.fh, self.at = head, 0, fh, offset

    def tell(self) -> int:
        return self.at

    def read(self, size: int = -1) -> bytes:
        if size == WARCIO_BLOCK:
            size -= self.at % WARCIO_BLOCK
        stop = len(self.head) if size < 0 else min(len(self.head), self.used + size)
        data, self.used = self.head[self.used:stop], stop
        if size < 0 or len(data) < size:
            data += self.fh.read(-1 if size < 0 else size - len(data))
        self.at += len(data)
        return data


def first_record(fileobj: IO[bytes], cap: int) -> PlainRecord | None:
    """The record of the member at the stream's position, or None where it is not plain."""
    try:
        raw = Members(fileobj, block=1 << 16).next(cap)
        return None if raw is None else plain_record(raw)
    except NotPlain:
        return None


def records(fileobj: IO[bytes], cap: int, fallback: Any) -> Iterator[tuple[Any, Any]]:
    """(record, offset getter) for each record of a stream read from its start: plain
    members here, and from the first member that is not plain on, the records of
    ``fallback(stream)`` (warcio's)."""
    members = Members(fileobj)
    odd_run = 0  # odd members in a row
    while True:
        offset = members.offset
        try:
            raw = members.next(cap)
            if raw is None:
                return
            yield plain_record(raw), (lambda o=offset: o)
            odd_run = 0
        except NotPlain as odd:
            odd_run += 1
            if odd.alone and odd_run < ODD_RUN:
                packed = members.buf[offset - members.base:members.pos]
                for rec, _ in fallback(io.BytesIO(packed)):
                    yield rec, (lambda o=offset: o)
                continue
            members.pos = offset - members.base  # back to the member's start
            yield from fallback(members.rest())
            return

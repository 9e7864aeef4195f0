"""A forward-only tar reader for layer streams: ustar, PAX and GNU long names.

The standard library's stream mode copies its whole read buffer for every 512-byte
header, which made a 30,000-file layer cost seconds; this reader walks headers and
skips content through one reusable buffer, so a scan runs at hashing speed. It also
bounds what a hostile archive can make it hold: extended headers and names are capped.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from auditor.errors import FormatError
from auditor.read.cursor import Cursor, SubCursor, as_cursor
from auditor.read.limits import MAX_NAME_BYTES, MAX_PAX_BYTES, env_limit, unbounded

BLOCK = 512
MAX_EXTENDED = 1 << 20  # a PAX or GNU long-name header larger than this is refused
# A member name or link target longer than four times PATH_MAX is refused: no engine
# unpacks a path the kernel will not take in one call, the filetree still meets deep ones,
# and it bounds what a layer's names hold (3,000 names hold at most 48 MiB, not 3 GiB).
MAX_NAME = 16384

# Type flags, as bytes.
REG, AREG, LNK, SYM, CHR, BLK = b"0", b"\0", b"1", b"2", b"3", b"4"
DIRT, FIFO, CONT = b"5", b"6", b"7"
PAX, PAX_GLOBAL, GNU_LONGNAME, GNU_LONGLINK, GNU_SPARSE = b"x", b"g", b"L", b"K", b"S"


class HeaderBudget:
    """What the headers of one image's tars may hold in all, shared by its layers:
    extended (PAX, GNU long-name) header bytes here, and the bytes of the names kept
    (``layers`` counts those). Made fresh, it holds the documented bounds."""

    def __init__(self) -> None:
        self.extended_left = unbounded(env_limit(MAX_PAX_BYTES))
        self.names_left = unbounded(env_limit(MAX_NAME_BYTES))

    def spend_extended(self, size: int) -> None:
        self.extended_left -= size
        if self.extended_left < 0:
            raise FormatError(f"tar: the image's extended (PAX) headers hold more than "
                              f"{env_limit(MAX_PAX_BYTES)} bytes in all ({MAX_PAX_BYTES[0]} "
                              "raises the limit)")

    def names_spent(self) -> FormatError:
        return FormatError(f"tar: the image's member names hold more than "
                           f"{env_limit(MAX_NAME_BYTES)} bytes in all ({MAX_NAME_BYTES[0]} "
                           "raises the limit)")


@dataclass(slots=True)
class TarHeader:
    name: str
    type: bytes
    mode: int
    uid: int
    gid: int
    size: int  # bytes of content that follow the header in the archive
    linkname: str
    mtime: int


_OCTAL_START = {bytes([c]) for c in b"01234567 "}
_ZERO_BLOCK = bytes(BLOCK)
_EXTENDED = frozenset((PAX, PAX_GLOBAL, GNU_LONGNAME, GNU_LONGLINK))
_NO_CONTENT = frozenset((LNK, SYM, CHR, BLK, DIRT, FIFO))


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _cstr(field: bytes) -> bytes:
    end = field.find(b"\0")
    return field if end < 0 else field[:end]


def _number(field: bytes, what: str) -> int:
    if field[:1] in _OCTAL_START:
        try:
            return int(field.rstrip(b" \0"), 8)  # the common case: octal digits, padded
        except ValueError:
            pass
    if field and field[0] & 0x80:  # GNU base-256 for values octal cannot hold
        if field[0] == 0xFF:
            raise FormatError(f"tar header: negative {what}")
        return int.from_bytes(bytes([field[0] & 0x7F]) + field[1:], "big")
    text = _cstr(field).strip(b" \0")
    if not text:
        return 0
    try:
        return int(text, 8)
    except ValueError:
        raise FormatError(f"tar header: {what} is not a number ({text[:20]!r})") from None


_NUMERIC_FIELDS = struct.Struct("8s8s8s12s12s8s")  # mode uid gid size mtime chksum at 100
# name, mode, uid, gid, size, mtime, chksum, typeflag, linkname: the first 257 bytes
_HEADER = struct.Struct("100s8s8s8s12s12s8sc100s")
_NUMERIC_NAMES = ("mode", "uid", "gid", "size", "mtime", "checksum")
_ODD_BITS = int.from_bytes(b"\1" * BLOCK, "little")


def _numbers(block: bytes) -> tuple[int, ...]:
    """mode, uid, gid, size, mtime and checksum of a header block."""
    fields = _NUMERIC_FIELDS.unpack_from(block, 100)
    try:
        # the common case: octal digits ended by NUL or space (int() takes the spaces)
        return tuple([int(f.rstrip(b" \0"), 8) for f in fields])
    except ValueError:
        return tuple([_number(f, what) for f, what in zip(fields, _NUMERIC_NAMES, strict=True)])


def _byte_sum(block: bytes) -> int:
    """The sum of a block's 512 unsigned bytes, exactly, at C speed: Adler-32 gives it
    modulo 65521, which leaves two candidates under 512 * 255; they differ by an odd
    number, and the parity of the number of odd bytes picks the right one."""
    low = ((zlib.adler32(block) & 0xFFFF) - 1) % 65521
    odd = (int.from_bytes(block, "little") & _ODD_BITS).bit_count() & 1
    return low if low & 1 == odd else low + 65521


def _checksum_ok(block: bytes, stored: int) -> bool:
    unsigned = _byte_sum(block) - sum(block[148:156]) + 8 * 32
    if stored == unsigned:
        return True
    signed = sum(b - 256 if b > 127 else b for b in block[:148] + block[156:]) + 8 * 32
    return stored == signed


_PAX_DECIMAL = re.compile(r"[0-9]{1,20}")  # what tar writes; 20 digits hold any 64-bit value
_PAX_TIME = re.compile(r"(-?[0-9]{1,20})(?:\.[0-9]{0,20})?")


def _pax_number(fields: dict[str, str], key: str) -> int:
    """A PAX ``uid``, ``gid`` or ``size``: decimal digits (as Go's archive/tar, which
    Docker unpacks with, wants them), else the archive is refused."""
    text = fields[key]
    if not _PAX_DECIMAL.fullmatch(text):
        raise FormatError(f"tar: PAX {key} {text[:20]!r} is not a number")
    return int(text)


def _pax_time(text: str) -> int:
    """A PAX ``mtime``: seconds, with an optional fraction (dropped)."""
    found = _PAX_TIME.fullmatch(text)
    if found is None:
        raise FormatError(f"tar: PAX mtime {text[:20]!r} is not a number of seconds")
    return int(found.group(1))


def _parse_pax(data: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        space = data.find(b" ", pos)
        if space < 0:
            break
        try:
            length = int(data[pos:space])
        except ValueError:
            raise FormatError("tar: malformed PAX record") from None
        if length <= 0 or pos + length > len(data):
            raise FormatError("tar: malformed PAX record length")
        record = data[space + 1:pos + length - 1]  # without the trailing newline
        key, sep, value = record.partition(b"=")
        if sep:
            out[_decode(key)] = _decode(value)
        pos += length
    return out


class TarStream:
    """Iterate headers with ``for header in TarStream(source)``; between steps, ``read(n)``
    returns up to n bytes of the current member's content and ``read_at(offset, n)`` (on a
    random-access source) any range of it. Unread content is skipped."""

    def __init__(self, source: Cursor | IO[bytes], budget: HeaderBudget | None = None) -> None:
        self._budget = budget if budget is not None else HeaderBudget()
        cursor = as_cursor(source)
        # A tar inside a tar (a layer in the engine's save stream) is walked on the outer
        # cursor itself, bounded by its member's end: one call a step, not two.
        self._limit: int | None = None
        if isinstance(cursor, SubCursor):
            self._limit = cursor._end
            cursor = cursor._parent
        self._cur = cursor
        self.random_access = cursor.random_access
        self._start = self._end = self._next = cursor.tell()
        self._global: dict[str, str] = {}

    def _read_exact(self, n: int) -> bytes:
        data = self._cur.read(n)
        if len(data) != n:
            raise FormatError("tar archive is truncated")
        return data

    def read(self, n: int) -> bytes:
        """The next up to ``n`` bytes of the current member's content."""
        left = self._end - self._cur.tell()
        return self._read_exact(n if n <= left else left) if left > 0 else b""

    def skip(self, n: int) -> int:
        """Pass up to ``n`` bytes of the current member's content unread; how many."""
        left = self._end - self._cur.tell()
        n = max(0, min(n, left))
        self._cur.skip(n)
        return n

    def read_at(self, offset: int, n: int) -> bytes | None:
        """Bytes ``[offset, offset+n)`` of the current member (fewer at its end); None
        when the source is a stream."""
        if offset < 0 or not self.random_access:
            return None
        size = self._end - self._start
        if offset >= size:
            return b""
        return self._cur.read_at(self._start + offset, min(n, size - offset))

    @property
    def content_start(self) -> int:
        """Where the current member's content starts, in the source's coordinates (for
        a cursor over a whole file: its offset in the file)."""
        return self._start

    def member(self) -> Cursor:
        """The current member's content as a cursor of its own (a tar inside a tar)."""
        return SubCursor(self._cur, self._end)

    def _content(self, size: int, what: str) -> bytes:
        if size > MAX_EXTENDED:
            raise FormatError(f"tar: {what} header of {size} bytes is too large")
        self._budget.spend_extended(size)
        if self._limit is not None and self._cur.tell() + size > self._limit:
            raise FormatError("tar archive is truncated")
        data = self._read_exact(size)
        self._cur.skip(-size % BLOCK)
        return data

    def __iter__(self) -> Iterator[TarHeader]:
        for fields in self.headers():
            yield TarHeader(*fields)

    def headers(self) -> Iterator[tuple[str, bytes, int, int, int, int, str, int]]:
        """Each member as (name, type, mode, uid, gid, size, linkname, mtime): what
        iterating gives, without an object per member (a layer has tens of thousands)."""
        cur = self._cur
        read, tell, skip = cur.read, cur.tell, cur.skip
        unpack = _HEADER.unpack_from
        byte_sum = _byte_sum
        pax: dict[str, str] = {}
        longname: bytes | None = None
        longlink: bytes | None = None
        limit = self._limit
        while True:
            here = tell()
            if limit is not None and self._next + BLOCK > limit:
                if self._next != limit:
                    raise FormatError("tar archive is truncated")
                return  # the member ends without end-of-archive blocks: be lenient
            if here != self._next:
                skip(self._next - here)
            block = read(BLOCK)
            if len(block) != BLOCK:
                if not block:
                    return  # a stream ending without end-of-archive blocks: be lenient
                raise FormatError("tar archive is truncated")
            if block == _ZERO_BLOCK:
                return  # end-of-archive marker
            rawname, f_mode, f_uid, f_gid, f_size, f_mtime, f_sum, typeflag, rawlink = \
                unpack(block)
            try:  # the common case: octal digits ended by NUL or space
                mode = int(f_mode.rstrip(b" \0"), 8)
                uid = int(f_uid.rstrip(b" \0"), 8)
                gid = int(f_gid.rstrip(b" \0"), 8)
                size = int(f_size.rstrip(b" \0"), 8)
                mtime = int(f_mtime.rstrip(b" \0"), 8)
                checksum = int(f_sum.rstrip(b" \0"), 8)
            except ValueError:
                mode, uid, gid, size, mtime, checksum = _numbers(block)
            if checksum != byte_sum(block) - sum(block[148:156]) + 8 * 32 and \
                    not _checksum_ok(block, checksum):
                raise FormatError("tar header checksum mismatch: corrupt archive")
            if typeflag in _EXTENDED:
                start = tell()
                if typeflag in (PAX, PAX_GLOBAL):
                    records = _parse_pax(self._content(size, "PAX"))
                    (pax if typeflag == PAX else self._global).update(records)
                elif typeflag == GNU_LONGNAME:
                    longname = _cstr(self._content(size, "GNU long-name"))
                else:
                    longlink = _cstr(self._content(size, "GNU long-link"))
                self._next = start + size + (-size % BLOCK)
                continue
            end = rawname.find(b"\0")
            name = rawname[:end] if end >= 0 else rawname
            if block[257:263] == b"ustar\0" and block[345]:  # POSIX prefix field
                name = _cstr(block[345:500]) + b"/" + name
            if pax or self._global or longname is not None or longlink is not None:
                fields = {**self._global, **pax}
                text = fields.get("path") or _decode(longname if longname is not None
                                                     else name)
                if "uid" in fields:
                    uid = _pax_number(fields, "uid")
                if "gid" in fields:
                    gid = _pax_number(fields, "gid")
                if "size" in fields:
                    size = _pax_number(fields, "size")
                link = fields.get("linkpath") or _decode(
                    longlink if longlink is not None else _cstr(rawlink))
                if "mtime" in fields:
                    mtime = _pax_time(fields["mtime"])
                if len(text) > MAX_NAME or len(link) > MAX_NAME:
                    raise FormatError(f"tar: a member name or link of more than {MAX_NAME} "
                                      "characters")
                pax, longname, longlink = {}, None, None
            else:
                text = name.decode("utf-8", "surrogateescape")
                link = _decode(_cstr(rawlink)) if rawlink[0] else ""
            if typeflag == GNU_SPARSE and block[482]:
                # extended sparse maps follow in whole blocks until one says "no more"
                while self._read_exact(BLOCK)[504]:
                    pass
            start = tell()
            content = size if typeflag not in _NO_CONTENT else 0
            if content < 0:
                raise FormatError("tar header: negative size")
            if limit is not None and start + content > limit:
                raise FormatError("tar archive is truncated")
            self._start = start
            self._end = start + content
            self._next = self._end + (-content % BLOCK)
            yield text, typeflag, mode, uid, gid, size, link, mtime

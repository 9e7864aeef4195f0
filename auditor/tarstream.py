"""A forward-only tar reader for layer streams: ustar, PAX and GNU long names.

The standard library's stream mode copies its whole read buffer for every 512-byte
header, which made a 30,000-file layer cost seconds; this reader walks headers and
skips content through one reusable buffer, so a scan runs at hashing speed. It also
bounds what a hostile archive can make it hold: extended headers and names are capped.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from auditor.errors import FormatError

BLOCK = 512
MAX_EXTENDED = 1 << 20  # a PAX or GNU long-name header larger than this is refused
_SKIP_CHUNK = 1 << 20

# Type flags, as bytes.
REG, AREG, LNK, SYM, CHR, BLK = b"0", b"\0", b"1", b"2", b"3", b"4"
DIRT, FIFO, CONT = b"5", b"6", b"7"
PAX, PAX_GLOBAL, GNU_LONGNAME, GNU_LONGLINK, GNU_SPARSE = b"x", b"g", b"L", b"K", b"S"


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


def _checksum_ok(block: bytes) -> bool:
    stored = _number(block[148:156], "checksum")
    unsigned = sum(block[:148]) + 8 * 32 + sum(block[156:])
    if stored == unsigned:
        return True
    signed = sum(b - 256 if b > 127 else b for b in block[:148] + block[156:]) + 8 * 32
    return stored == signed


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
    """Iterate headers with ``for header in TarStream(f)``; between steps, ``read(n)``
    returns up to n bytes of the current member's content. Unread content is skipped."""

    def __init__(self, fileobj: IO[bytes]) -> None:
        self._f = fileobj
        self._left = 0  # content bytes of the current member not yet consumed
        self._pad = 0
        self._global: dict[str, str] = {}
        self._scratch = bytearray(_SKIP_CHUNK)
        # A seekable source (a layer in a file) is walked header to header; a stream is read.
        self._seekable = bool(getattr(fileobj, "seekable", lambda: False)())
        if self._seekable:
            here = fileobj.tell()
            self._end = fileobj.seek(0, 2)
            fileobj.seek(here)

    def _read_exact(self, n: int) -> bytes:
        data = self._f.read(n)
        if len(data) != n:
            raise FormatError("tar archive is truncated")
        return data

    def _skip(self, n: int) -> None:
        if self._seekable and n > BLOCK:
            if self._f.tell() + n > self._end:
                raise FormatError("tar archive is truncated")
            self._f.seek(n, 1)
            return
        view = memoryview(self._scratch)
        while n > 0:
            got = self._f.readinto(view[: min(n, _SKIP_CHUNK)])  # type: ignore[attr-defined]
            if not got:
                raise FormatError("tar archive is truncated")
            n -= got

    def read(self, n: int) -> bytes:
        n = min(n, self._left)
        data = self._read_exact(n) if n else b""
        self._left -= n
        return data

    def _finish_member(self) -> None:
        self._skip(self._left + self._pad)
        self._left = self._pad = 0

    def _content(self, size: int, what: str) -> bytes:
        if size > MAX_EXTENDED:
            raise FormatError(f"tar: {what} header of {size} bytes is too large")
        data = self._read_exact(size)
        self._skip(-size % BLOCK)
        return data

    def __iter__(self) -> Iterator[TarHeader]:
        pax: dict[str, str] = {}
        longname: bytes | None = None
        longlink: bytes | None = None
        while True:
            self._finish_member()
            block = self._f.read(BLOCK)
            if not block:
                return  # a stream ending without end-of-archive blocks: be lenient
            if len(block) != BLOCK:
                raise FormatError("tar archive is truncated")
            if block == bytes(BLOCK):
                return  # end-of-archive marker
            if not _checksum_ok(block):
                raise FormatError("tar header checksum mismatch: corrupt archive")
            typeflag = block[156:157]
            size = _number(block[124:136], "size")
            if typeflag in (PAX, PAX_GLOBAL):
                records = _parse_pax(self._content(size, "PAX"))
                (pax if typeflag == PAX else self._global).update(records)
                continue
            if typeflag == GNU_LONGNAME:
                longname = _cstr(self._content(size, "GNU long-name"))
                continue
            if typeflag == GNU_LONGLINK:
                longlink = _cstr(self._content(size, "GNU long-link"))
                continue
            name = _cstr(block[0:100])
            if block[257:263] == b"ustar\0" and block[345]:  # POSIX prefix field
                name = _cstr(block[345:500]) + b"/" + name
            fields = {**self._global, **pax}
            header = TarHeader(
                name=fields.get("path") or _decode(longname if longname is not None else name),
                type=typeflag,
                mode=_number(block[100:108], "mode"),
                uid=int(fields["uid"]) if "uid" in fields else _number(block[108:116], "uid"),
                gid=int(fields["gid"]) if "gid" in fields else _number(block[116:124], "gid"),
                size=int(fields["size"]) if "size" in fields else size,
                linkname=fields.get("linkpath") or _decode(
                    longlink if longlink is not None else _cstr(block[157:257])),
                mtime=int(float(fields["mtime"])) if "mtime" in fields else _number(
                    block[136:148], "mtime"),
            )
            pax, longname, longlink = {}, None, None
            if typeflag == GNU_SPARSE and block[482]:
                # extended sparse maps follow in whole blocks until one says "no more"
                while self._read_exact(BLOCK)[504]:
                    pass
            has_content = typeflag not in (LNK, SYM, CHR, BLK, DIRT, FIFO)
            self._left = header.size if has_content else 0
            self._pad = -self._left % BLOCK
            yield header


class LimitedReader(io.RawIOBase):
    """The current member of an outer tar, as a raw file (wrap it in a BufferedReader)."""

    def __init__(self, stream: TarStream) -> None:
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        data = self._stream.read(len(buf))
        buf[: len(data)] = data
        return len(data)


class BoundedTarInfo(tarfile.TarInfo):
    """For the standard library's random-access reading of outer archives (docker save,
    OCI archives): refuse giant extended headers instead of reading them into memory."""

    def _proc_pax(self, tarfile_: tarfile.TarFile) -> Any:
        if self.size > MAX_EXTENDED:
            raise tarfile.HeaderError(f"PAX header of {self.size} bytes")
        return super()._proc_pax(tarfile_)  # type: ignore[misc]

    def _proc_gnulong(self, tarfile_: tarfile.TarFile) -> Any:
        if self.size > MAX_EXTENDED:
            raise tarfile.HeaderError(f"GNU long-name header of {self.size} bytes")
        return super()._proc_gnulong(tarfile_)  # type: ignore[misc]

"""The Go build information blob of a Go binary, taken as the binary streams past.

Go's linker writes a 32-byte header at the start of the first writable, non-executable
``PT_LOAD`` segment (the ``.go.buildinfo`` section), 16-byte aligned: the magic
``\\xff Go buildinf:``, the pointer size (byte 14) and flags (byte 15). Two strings
follow it: the Go version (``go1.21.5``) and the module information (``path``, ``mod``,
``dep``, ``=>`` and ``build`` lines between two 16-byte sentinels).

- Since Go 1.18 (flag bit 2) both strings are inline after the header, each prefixed by
  its length as an unsigned varint.
- Before (Go 1.13-1.17) the header holds two pointers (virtual addresses) to Go string
  headers (pointer, length), whose bytes lie elsewhere, usually in ``.rodata``; flag bit 1
  says the pointers are big-endian.

This module finds and extracts the two strings; what the module lines mean is read by
``auditor.inventory.golang``. Malformed input never raises: it gives None (no blob) or a
blob whose ``incomplete`` says what could not be read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

MAGIC = b"\xff Go buildinf:"
HEADER = 32
ALIGN = 16
WINDOW = 64 * 1024  # how far into the segment the header is looked for, and the blob read
MAX_STRING = 1024 * 1024  # a module list this long is not a real one
FLAG_BIG_ENDIAN, FLAG_INLINE = 1, 2

# Reads ``n`` bytes at a virtual address; None where they cannot be reached any more.
ReadAt = Callable[[int, int], bytes | None]


@dataclass(frozen=True, slots=True)
class GoBuildInfoBlob:
    version: str  # "go1.21.5", as the binary says it
    modinfo: str  # the module lines, sentinels removed; "" for a binary built outside a module
    inline: bool  # the Go 1.18+ format
    incomplete: str | None = None


def find_header(window: bytes) -> int | None:
    """Where the header starts in ``window`` (the start of the data segment), if there."""
    at = window.find(MAGIC)
    while at >= 0:
        if at % ALIGN == 0 and at + HEADER <= len(window):
            return at
        at = window.find(MAGIC, at + 1)
    return None


def _uvarint(data: bytes, pos: int) -> tuple[int, int] | None:
    value = shift = 0
    for i in range(pos, min(len(data), pos + 10)):
        byte = data[i]
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, i + 1
        shift += 7
    return None


def strip_sentinels(modinfo: bytes) -> str:
    """The module lines without the 16-byte sentinels around them."""
    if len(modinfo) >= 33 and modinfo[-17] == 0x0A:
        modinfo = modinfo[16:-16]
    return modinfo.decode("utf-8", "replace")


def _inline(data: bytes) -> GoBuildInfoBlob:
    strings: list[bytes] = []
    pos = HEADER
    for _ in range(2):
        got = _uvarint(data, pos)
        if got is None:
            break
        length, pos = got
        if length > MAX_STRING or pos + length > len(data):
            return GoBuildInfoBlob(_text(strings, 0), "", True,
                                   "build info runs past the bytes read")
        strings.append(data[pos:pos + length])
        pos += length
    if len(strings) < 2:
        return GoBuildInfoBlob(_text(strings, 0), "", True, "build info is cut short")
    return GoBuildInfoBlob(_text(strings, 0), strip_sentinels(strings[1]), True)


def _text(strings: list[bytes], i: int) -> str:
    return strings[i].decode("utf-8", "replace") if len(strings) > i else ""


def _pointer(data: bytes, size: int, order: str) -> int:
    return int.from_bytes(data[:size], "big" if order == ">" else "little")


def _go_string(read_at: ReadAt, address: int, size: int, order: str) -> bytes | None:
    header = read_at(address, 2 * size)
    if header is None or len(header) < 2 * size:
        return None
    data, length = _pointer(header, size, order), _pointer(header[size:], size, order)
    if length == 0:
        return b""
    if length > MAX_STRING:
        return None
    text = read_at(data, length)
    return text if text is not None and len(text) == length else None


def _pointers(data: bytes, read_at: ReadAt) -> GoBuildInfoBlob:
    size = data[14]
    if size not in (4, 8):
        return GoBuildInfoBlob("", "", False, f"build info pointer size {size} is not 4 or 8")
    order = ">" if data[15] & FLAG_BIG_ENDIAN else "<"
    version = _go_string(read_at, _pointer(data[16:], size, order), size, order)
    modinfo = _go_string(read_at, _pointer(data[16 + size:], size, order), size, order)
    missing = [what for what, got in (("Go version", version), ("module list", modinfo))
               if got is None]
    return GoBuildInfoBlob((version or b"").decode("utf-8", "replace"),
                           strip_sentinels(modinfo or b""), False,
                           f"{' and '.join(missing)} lie where the stream has passed"
                           if missing else None)


def read_blob(window: bytes, read_at: ReadAt) -> GoBuildInfoBlob | None:
    """The build info in ``window`` (bytes from the start of the data segment on)."""
    at = find_header(window)
    if at is None:
        return None
    data = window[at:]
    if data[15] & FLAG_INLINE:
        return _inline(data)
    return _pointers(data, read_at)

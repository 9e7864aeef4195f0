"""A file's bytes as the ELF reader sees them: forward only as a layer streams past
(``ForwardBytes``, keeping a bounded prefix, an index of name-like strings past it and the
ranges a caller asked to watch), or where it lies (``RandomBytes``, a saved archive's
memory map). ``elf`` reads both the same way; see its docstring for why each is shaped so.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable

MAX_NAME = 256  # longest soname or run path the index past the kept prefix remembers
NAME_ANCHORS = (b".so", b"$ORIGIN", b"/lib")  # what a soname or a run path holds
CHUNK = 1024 * 1024


class ForwardBytes:
    """The file as a forward-only stream, with its first ``keep`` bytes remembered.

    Past ``keep`` nothing is kept but an index of the NUL-terminated strings that look like
    what the dynamic section names (sonames, run paths): a binary whose string table lies
    deeper than the kept prefix (Go's linker puts it after .rodata; big C++ libraries have
    megabytes of symbol names) still has its DT_NEEDED names found.
    """

    __slots__ = ("buf", "eof", "index_ranges", "indexing", "keep", "names", "pos", "read",
                 "scan_ranges", "scanned", "skip", "tail", "tail_end")

    def __init__(self, head: bytes, read: Callable[[int], bytes], keep: int,
                 skip: Callable[[int], int] | None = None) -> None:
        self.keep = max(keep, len(head))
        self.buf = bytearray(head)
        self.pos = len(head)  # bytes consumed from the file so far
        self.read = read
        # ``skip(n)`` passes n bytes without reading them (a stream that can), and says
        # how many it passed. Without it, bytes nobody needs are read and dropped.
        self.skip = skip
        self.eof = False
        self.names: dict[int, bytes] = {}  # file offset -> string, for strings past keep
        self.tail = b""
        self.tail_end = 0  # file offset just past ``tail``
        # Where a string table can be: read-only, non-executable PT_LOAD segments. Until
        # the program headers are known, nothing past ``keep`` has been read anyway.
        self.index_ranges: list[tuple[int, int]] = []
        self.indexing = True
        self.scan_ranges: list[tuple[int, int]] = []  # collected whole, for identity
        self.scanned: list[bytearray] = []

    def watch(self, ranges: list[tuple[int, int]]) -> None:
        """Collect the bytes of ``ranges`` (sorted, disjoint) as they stream by."""
        self.scan_ranges = ranges
        self.scanned = [bytearray(self.buf[low:min(high, len(self.buf))])
                        if low < len(self.buf) and len(self.buf) == self.pos else bytearray()
                        for low, high in ranges]

    def watched(self) -> list[bytearray]:
        """The bytes of the watched ranges, reading forward to their end if need be."""
        if self.scan_ranges:
            self.skip_to(self.scan_ranges[-1][1])
        return self.scanned

    def _collect(self, data: bytes, offset: int) -> None:
        end = offset + len(data)
        for (low, high), part in zip(self.scan_ranges, self.scanned, strict=True):
            start = max(low + len(part), offset)
            stop = min(high, end)
            if start < stop and low + len(part) == start:
                part += data[start - offset:stop - offset]

    def _consume(self, n: int, chunked: bool = False) -> bytes:
        if chunked:
            n = min(n, CHUNK)
        data = self.read(n) if n > 0 and not self.eof else b""
        if len(data) < n:
            self.eof = True  # a short read is the end of the file
        if data:
            kept = max(0, min(len(data), self.keep - self.pos))
            if kept:
                self.buf += data[:kept]
            if kept < len(data):
                self._index_ranges(data, self.pos, self.pos + kept)
            if self.scan_ranges:
                self._collect(data, self.pos)
        self.pos += len(data)
        return data

    def _index_ranges(self, data: bytes, offset: int, start: int) -> None:
        """Index the parts of ``data`` (at file ``offset``) from ``start`` on that lie in
        a segment a string table can be in."""
        end = offset + len(data)
        for low, high in self.index_ranges:
            low, high = max(low, start), min(high, end)
            if low < high:
                self._index(data[low - offset:high - offset], low)

    def _index(self, data: bytes, start: int) -> None:
        if self.tail_end != start:
            self.tail = b""
        window = self.tail + data
        base = start - len(self.tail)
        self.tail_end = start + len(data)
        for anchor in NAME_ANCHORS:  # find() per anchor: memchr-fast, unlike a regex of them
            at = window.find(anchor)
            while at >= 0:
                begin = window.rfind(b"\0", max(0, at - MAX_NAME), at)
                end = window.find(b"\0", at, at + MAX_NAME)
                if begin >= 0 and end >= 0:
                    self.names[base + begin + 1] = window[begin + 1:end]
                    at = window.find(anchor, end)  # the next string
                else:
                    at = window.find(anchor, at + len(anchor))
        self.tail = window[-MAX_NAME:]

    def indexed_string(self, offset: int) -> bytes | None:
        """The indexed string that ``offset`` points into (linkers share string tails)."""
        starts = sorted(self.names)
        i = bisect.bisect_right(starts, offset) - 1
        if i < 0:
            return None
        text = self.names[starts[i]]
        inside = offset - starts[i]
        return text[inside:] if inside <= len(text) else None

    def end_prefix(self, offset: int) -> None:
        """Keep no more of the prefix than up to ``offset``, where a code segment starts
        that does not start the file: that is the layout in which every linker we know
        (GNU ld with separate code, gold, lld, mold) puts the dynamic string table in the
        read-only segment before the code. Only that segment is indexed past the prefix;
        a string table elsewhere makes the facts incomplete, never wrong."""
        self.keep = max(len(self.buf), min(self.keep, offset))
        self.index_ranges = [(low, min(high, offset)) for low, high in self.index_ranges
                             if low < offset]
        self.indexing = False

    def _wanted_until(self, pos: int) -> int:
        """The end of the wanted stretch that ``pos`` is in (kept prefix or an indexed
        segment), or minus the start of the next one when ``pos`` is in nobody's way."""
        if pos < self.keep and pos == len(self.buf):
            return self.keep
        following = 1 << 62
        for low, high in (*self.index_ranges, *self.scan_ranges):
            if low <= pos < high:
                return high
            if low > pos:
                following = min(following, low)
        return -following

    def skip_to(self, offset: int) -> None:
        while self.pos < offset and not self.eof:
            until = self._wanted_until(self.pos) if self.skip is not None else offset
            if until > 0:
                self._consume(min(offset, until) - self.pos if until > self.pos else
                              offset - self.pos, chunked=True)
            else:
                n = min(offset, -until) - self.pos
                passed = self.skip(n)  # type: ignore[misc]
                self.pos += passed
                if passed < n:
                    self.eof = True

    def take(self, offset: int, length: int) -> bytes | None:
        """Bytes ``[offset, offset+length)`` (fewer at end of file), or None if passed."""
        end = offset + length
        if end <= len(self.buf):
            return bytes(self.buf[offset:end])
        if offset < self.pos:
            if self.pos != len(self.buf):  # some of the bytes asked for were dropped
                return None
            part = bytes(self.buf[offset:])
            return part + self._consume_all(end - self.pos)
        self.skip_to(offset)
        return self._consume_all(length)

    def _consume_all(self, n: int) -> bytes:
        parts = []
        while n > 0 and not self.eof:
            data = self._consume(min(n, CHUNK))
            parts.append(data)
            n -= len(data)
        return b"".join(parts)


class RandomBytes:
    """The file with random access (a layer in a file, or mapped): each region the walk
    needs is read where it lies, and nothing in between. Same face as :class:`_Forward`."""

    __slots__ = ("buf", "index_ranges", "indexing", "keep", "read_at", "scan_ranges", "size")

    def __init__(self, head: bytes, read_at: Callable[[int, int], bytes | None],
                 size: int) -> None:
        self.buf = head
        self.read_at = read_at
        self.size = size
        self.keep = size  # nothing is ever out of reach
        self.index_ranges: list[tuple[int, int]] = []
        self.indexing = False
        self.scan_ranges: list[tuple[int, int]] = []

    def watch(self, ranges: list[tuple[int, int]]) -> None:
        self.scan_ranges = ranges

    def watched(self) -> list[bytes]:
        parts = (self.take(low, high - low) for low, high in self.scan_ranges)
        return [part for part in parts if part]

    def take(self, offset: int, length: int) -> bytes | None:
        if offset + length <= len(self.buf):
            return self.buf[offset:offset + length]
        return self.read_at(offset, length)

    def indexed_string(self, offset: int) -> bytes | None:
        return None

    def end_prefix(self, offset: int) -> None:
        pass

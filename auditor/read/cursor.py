"""Bytes read forward with a position: what the tar reader walks over.

``MemoryCursor`` walks a memory map (a layer in a file: each header a slice, pages handed
back as it goes), ``StreamCursor`` a stream through one reusable buffer, ``SubCursor`` a
member of an outer tar in place on the outer cursor; ``CursorReader`` turns a cursor back
into a file object.
"""

from __future__ import annotations

import io
import mmap
from collections.abc import Callable
from typing import IO, Any

from auditor.errors import FormatError

_SKIP_CHUNK = 1 << 20


class Cursor:
    """Bytes read forward, with a position: what the tar reader walks over.

    ``read(n)`` returns up to n bytes (fewer only at the end), ``skip(n)`` passes n bytes
    or raises FormatError when there are fewer, ``peek(n)`` looks ahead without consuming.
    Positions (``tell``, ``read_at``) are in the cursor's own coordinates. A cursor with
    ``random_access`` also reads any range it holds with ``read_at``, so the layer reader
    can look at an ELF file's dynamic section without reading the code before it.
    """

    random_access = False

    def read(self, n: int) -> bytes:
        raise NotImplementedError

    def skip(self, n: int) -> None:
        raise NotImplementedError

    def peek(self, n: int) -> bytes:
        raise NotImplementedError

    def tell(self) -> int:
        raise NotImplementedError

    def read_at(self, pos: int, n: int) -> bytes | None:
        return None


class MemoryCursor(Cursor):
    """A range of a buffer in memory: ``bytes`` or an ``mmap`` of a file on disk.

    Walking a mapped layer touches only the pages that hold headers and the prefixes read;
    those pages are handed back to the page cache as the walk moves on, so the resident
    size stays small however big the file is.
    """

    random_access = True
    RELEASE_STEP = 32 << 20

    def __init__(self, buf: bytes | mmap.mmap, start: int = 0, end: int | None = None) -> None:
        self._buf = buf
        self._pos = start
        self._end = len(buf) if end is None else end
        if start < 0 or self._end > len(buf) or start > self._end:
            raise FormatError("archive is truncated: a member lies past the end of the file")
        self._mapped = buf if isinstance(buf, mmap.mmap) else None
        self._released = start - start % mmap.PAGESIZE

    def read(self, n: int) -> bytes:
        p = self._pos
        q = p + n
        if q > self._end:
            q = self._end
        self._pos = q
        return self._buf[p:q]

    def skip(self, n: int) -> None:
        q = self._pos + n
        if q > self._end:
            self._pos = self._end
            raise FormatError("tar archive is truncated")
        self._pos = q
        if self._mapped is not None and q - self._released > self.RELEASE_STEP:
            upto = q - q % mmap.PAGESIZE
            self._mapped.madvise(mmap.MADV_DONTNEED, self._released, upto - self._released)
            self._released = upto

    def peek(self, n: int) -> bytes:
        return self._buf[self._pos:min(self._pos + n, self._end)]

    def tell(self) -> int:
        return self._pos

    def read_at(self, pos: int, n: int) -> bytes | None:
        return self._buf[pos:min(pos + n, self._end)]


class StreamCursor(Cursor):
    """A stream (a socket, a pipe, a decompressor) read in chunks: bytes are copied once,
    from the stream into a chunk, and content that nobody asked for is skipped without
    another copy.

    ``StreamCursor(raw)`` reads ``raw`` into one reused buffer. ``StreamCursor(None,
    next_chunk=f)`` takes its chunks from ``f`` (empty at the end), which may hand out
    buffers filled by another thread; a chunk is used only until the next is taken.
    """

    def __init__(self, raw: IO[bytes] | io.RawIOBase | None,
                 progress: Callable[[int], None] | None = None, chunk: int = _SKIP_CHUNK,
                 next_chunk: Callable[[], memoryview | bytes] | None = None) -> None:
        if next_chunk is None:
            if raw is None:
                raise ValueError("StreamCursor needs a stream or a chunk source")
            readinto = raw.readinto  # type: ignore[union-attr]
            buf = memoryview(bytearray(chunk))

            def next_chunk() -> memoryview:
                n = readinto(buf) or 0
                if n and progress is not None:
                    progress(n)
                return buf[:n]

        self._next_chunk = next_chunk
        self._view: memoryview | bytes = b""
        self._lo = self._hi = 0
        self._base = 0  # stream position of self._view[0]
        self._eof = False

    def _advance(self) -> bool:
        """Move on to the next chunk; False at the end of the stream."""
        if self._eof:
            return False
        self._base += self._hi
        view = self._next_chunk()
        self._view, self._lo, self._hi = view, 0, len(view)
        if not self._hi:
            self._eof = True
            return False
        return True

    def read(self, n: int) -> bytes:
        lo = self._lo
        if self._hi - lo >= n:
            self._lo = lo + n
            return bytes(self._view[lo:lo + n])
        parts = []
        while n > 0:
            avail = self._hi - self._lo
            if not avail:
                if not self._advance():
                    break
                avail = self._hi
            take = min(avail, n)
            parts.append(bytes(self._view[self._lo:self._lo + take]))
            self._lo += take
            n -= take
        return b"".join(parts)

    def skip(self, n: int) -> None:
        while True:
            avail = self._hi - self._lo
            if n <= avail:
                self._lo += n
                return
            n -= avail
            self._lo = self._hi
            if not self._advance():
                raise FormatError("tar archive is truncated")

    def peek(self, n: int) -> bytes:
        if self._hi - self._lo < n and not self._eof:
            # join what is left of this chunk with the next ones: rare (a layer's first
            # bytes) and small, so a copy is fine
            rest = bytes(self._view[self._lo:self._hi])
            start = self._base + self._lo
            while len(rest) < n and self._advance():
                rest += bytes(self._view)
            self._view, self._lo, self._hi = rest, 0, len(rest)
            self._base = start
        return bytes(self._view[self._lo:min(self._hi, self._lo + n)])

    def tell(self) -> int:
        return self._base + self._lo


class SubCursor(Cursor):
    """``[start, end)`` of another cursor: a member of an outer tar, read in place."""

    def __init__(self, parent: Cursor, end: int) -> None:
        self._parent = parent
        self._start = parent.tell()
        self._end = end
        self.random_access = parent.random_access

    def read(self, n: int) -> bytes:
        left = self._end - self._parent.tell()
        return self._parent.read(n if n <= left else left)

    def skip(self, n: int) -> None:
        left = self._end - self._parent.tell()
        if n > left:
            self._parent.skip(left)
            raise FormatError("tar archive is truncated")
        self._parent.skip(n)

    def peek(self, n: int) -> bytes:
        return self._parent.peek(min(n, self._end - self._parent.tell()))

    def tell(self) -> int:
        return self._parent.tell() - self._start

    def read_at(self, pos: int, n: int) -> bytes | None:
        if pos < 0 or pos > self._end - self._start:
            return b""
        return self._parent.read_at(self._start + pos,
                                    min(n, self._end - self._start - pos))


class CursorReader(io.RawIOBase):
    """A cursor as a raw file, for what needs a file (hashing, decompression)."""

    def __init__(self, cursor: Cursor) -> None:
        self._cursor = cursor

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        data = self._cursor.read(len(buf))
        buf[: len(data)] = data
        return len(data)


def as_cursor(source: Cursor | IO[bytes]) -> Cursor:
    return source if isinstance(source, Cursor) else StreamCursor(source)

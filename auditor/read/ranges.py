"""Where blob bytes lie in files on disk, and reading them there: a ``FileRange`` (a blob
in an OCI directory, a member of an uncompressed archive), read through a memory map
(``FileMaps``) or a plain file (``RangeReader``), and small documents read whole.

A new place for bytes on this machine (a containerd content store, a blob cache) names
its blobs as ``FileRange``s; the reader then maps, walks and hashes them unchanged.
"""

from __future__ import annotations

import io
import mmap
import os
import stat
from dataclasses import dataclass
from typing import IO, Any

from auditor.errors import FormatError, SourceError
from auditor.read.cursor import MemoryCursor

BUFFER = 1 << 20


@dataclass(frozen=True, slots=True)
class FileRange:
    """Where a blob's bytes lie: ``size`` bytes of the file at ``path`` from ``offset``."""

    path: str
    offset: int
    size: int



_NOT_REGULAR = {stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a character device",
                stat.S_IFBLK: "a block device", stat.S_IFSOCK: "a socket",
                stat.S_IFDIR: "a directory"}


def open_regular_fd(path: str) -> int:
    """A descriptor of the regular file at ``path`` (a symlink to one is fine), opened for
    reading; a SourceError when it is anything else. The open does not block (a FIFO
    would wait for a writer forever) and the type is checked on the open file, so
    nothing can be swapped in between: every image file is opened here."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            what = _NOT_REGULAR.get(stat.S_IFMT(mode), "not a regular file")
            raise SourceError(f"cannot read {path}: it is {what}, not a regular file",
                              tip="an image on standard input is docker-archive:-")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_regular(path: str, buffering: int = -1) -> IO[bytes]:
    """:func:`open_regular_fd` as a binary file object."""
    return os.fdopen(open_regular_fd(path), "rb", buffering=buffering)


class FileMaps:
    """The files of one image read, each mapped once; ``cursor`` walks a range of one."""

    def __init__(self) -> None:
        self._maps: dict[str, mmap.mmap | bytes] = {}

    def mapping(self, path: str) -> mmap.mmap | bytes:
        buf = self._maps.get(path)
        if buf is None:
            try:
                with open_regular(path) as f:
                    size = os.fstat(f.fileno()).st_size
                    buf = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ) if size else b""
            except OSError as exc:
                raise SourceError(f"cannot read {path}: {exc.strerror or exc}") from None
            self._maps[path] = buf
        return buf

    def cursor(self, blob: FileRange) -> MemoryCursor:
        return MemoryCursor(self.mapping(blob.path), blob.offset, blob.offset + blob.size)

    def unmap(self) -> None:
        """Unmap the files (the walk is over; hashing goes on with its own reads)."""
        for buf in self._maps.values():
            if isinstance(buf, mmap.mmap):
                buf.close()
        self._maps.clear()


def open_range(blob: FileRange) -> IO[bytes]:
    """A blob in a file as a buffered stream."""
    return io.BufferedReader(RangeReader(blob.path, blob.offset, blob.size), BUFFER)


class LimitedReader(io.RawIOBase):
    """The next ``size`` bytes of a stream (a member of a compressed archive); fewer is
    a truncated member."""

    def __init__(self, raw: IO[bytes], size: int, also_close: IO[bytes] | None = None) -> None:
        self._raw = raw
        self._size = size
        self._left = size
        self._also_close = also_close  # the file under a decompressor, which leaves it open

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if self._left <= 0:
            return 0
        view = memoryview(b)
        if len(view) > self._left:
            view = view[: self._left]
        n = int(self._raw.readinto(view) or 0)  # type: ignore[attr-defined]
        if n == 0:
            raise FormatError("archive member is truncated")
        self._left -= n
        return n

    def close(self) -> None:
        self._raw.close()
        if self._also_close is not None:
            self._also_close.close()
        super().close()


class RangeReader(LimitedReader):
    """``size`` bytes of a file from ``offset``: a member of an uncompressed outer tar,
    read straight from the file without the standard library's per-read seeking."""

    def __init__(self, path: str, offset: int, size: int) -> None:
        file = open_regular(path, buffering=0)
        file.seek(offset)
        super().__init__(file, size)
        self._file = file
        self._offset = offset

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        # Relative to the member: 0 is its first byte, SEEK_END its end.
        pos = self._size - self._left
        target = {io.SEEK_SET: offset, io.SEEK_CUR: pos + offset,
                  io.SEEK_END: self._size + offset}[whence]
        target = max(0, min(target, self._size))
        self._file.seek(self._offset + target)
        self._left = self._size - target
        return target

    def tell(self) -> int:
        return self._size - self._left


def read_limited(stream: IO[bytes], limit: int, what: str) -> bytes:
    """Read a small document whole, refusing one larger than ``limit`` (hostile input)."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise FormatError(f"{what} is larger than {limit} bytes; refusing to read it")
    return data

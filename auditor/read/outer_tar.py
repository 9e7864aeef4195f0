"""Image archives on disk (``docker save`` files, OCI archives): their members by name,
from our own header walk (``tarstream``), so a hostile archive meets the same bounds as
a layer does (extended headers capped, checksums checked, truncation refused).

An uncompressed archive is walked through a memory map, seeking over content; its
members' bytes are then ``FileRange``s, read mapped. A compressed one (gzip, zstd, bzip2,
xz) is walked once decompressed; a member is read by decompressing up to it again.
"""

from __future__ import annotations

import io
import mmap
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from auditor.errors import FormatError, SourceError
from auditor.read.cursor import Cursor, MemoryCursor, StreamCursor
from auditor.read.decompress import decompressed, sniff_archive_compression
from auditor.read.ranges import FileRange, LimitedReader, open_range, open_regular
from auditor.read.tarstream import TarStream

_REGULAR = (b"0", b"\0", b"7")
_LINKS = (b"1", b"2")
_MAX_LINKS = 8  # a chain of links longer than this is not followed


class NotATar(FormatError):
    """An archive our tar walk cannot read; ``reason`` says why, without the path."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Member:
    """One member of an outer archive; ``offset`` is where its content starts (in the
    uncompressed tar)."""

    name: str  # normalised: no leading "/" or "./"
    type: bytes
    offset: int
    size: int
    linkname: str


def member_name(name: str) -> str:
    """A member's name as manifests refer to it: no leading ``/`` or ``./``."""
    return posixpath.normpath(name.lstrip("/")).removeprefix("./")


def link_target(name: str, type_: bytes, linkname: str) -> str:
    """The member a link member points at: a hard link names it, a symbolic link names
    it relative to its own directory."""
    target = linkname if type_ == b"1" else posixpath.join(posixpath.dirname(name), linkname)
    return member_name(target)


def _open(path: str) -> tuple[str, IO[bytes]]:
    """The archive's compression and the file, opened."""
    f = open_regular(path)  # a FIFO or a device is refused: docker-archive:- is stdin
    try:
        head = f.read(8)
        f.seek(0)
    except OSError as exc:
        f.close()
        raise SourceError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not head:
        f.close()
        raise NotATar(f"{path} is not a tar archive (an empty file)", "an empty file")
    return sniff_archive_compression(head), f


def walk_members(path: str) -> Iterator[Member]:
    """Every member of the archive at ``path``, in order; errors in a sentence."""
    compression, f = _open(path)
    mapped: mmap.mmap | None = None
    seen = 0
    try:
        if compression == "none":
            mapped = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
            cursor: Cursor = MemoryCursor(mapped)
        else:
            cursor = StreamCursor(decompressed(f, compression))
        tar = TarStream(cursor)
        for name, type_, _mode, _uid, _gid, size, linkname, _mtime in tar.headers():
            seen += 1
            yield Member(member_name(name), type_, tar.content_start, size, linkname)
    except FormatError as exc:
        what = "is a corrupt or truncated tar archive" if seen else "is not a tar archive"
        raise NotATar(f"{path} {what} ({exc})", str(exc)) from None
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror or exc}") from None
    finally:
        if mapped is not None:
            mapped.close()
        f.close()


class OuterTar:
    """The members of an image archive on disk, by name, for random access."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._compression, probe = _open(path)
        probe.close()
        self._members = {m.name: m for m in walk_members(path)}

    def __contains__(self, name: str) -> bool:
        return member_name(name) in self._members

    def find(self, name: str) -> Member | None:
        """The regular member ``name`` names, following links; None when there is none
        (missing, a directory, a sparse file, a link to nowhere or a long chain)."""
        member = self._members.get(member_name(name))
        for _ in range(_MAX_LINKS):
            if member is None or member.type not in _LINKS:
                break
            member = self._members.get(link_target(member.name, member.type,
                                                   member.linkname))
        if member is None or member.type not in _REGULAR:
            return None
        return member

    def range(self, name: str) -> FileRange | None:
        """Where a member's bytes lie in the file (an uncompressed archive), or None."""
        member = self.find(name)
        if member is None or self._compression != "none":
            return None
        return FileRange(self.path, member.offset, member.size)

    def open(self, name: str) -> IO[bytes] | None:
        """A member's bytes as a stream, or None when there is no such member."""
        member = self.find(name)
        if member is None:
            return None
        if self._compression == "none":
            return open_range(FileRange(self.path, member.offset, member.size))
        compression, f = _open(self.path)
        stream = decompressed(f, compression)
        left = member.offset
        while left > 0:
            chunk = stream.read(min(left, 1 << 20))
            if not chunk:
                stream.close()
                raise FormatError(f"{self.path} is truncated")
            left -= len(chunk)
        return io.BufferedReader(LimitedReader(stream, member.size, also_close=f), 1 << 20)

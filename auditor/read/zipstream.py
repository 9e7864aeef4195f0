"""Java archives read while a layer streams past: the manifest and ``pom.properties`` of an
archive and of the archives nested in it (Spring Boot's ``BOOT-INF/lib/*.jar``, a war's
``WEB-INF/lib/*.jar``, an ear's modules).

A zip's central directory is at its end, so a forward-only reader walks the local entry
headers instead, in file order. An entry whose header says its compressed size is passed
unread (``skip``), unless it is wanted: a manifest or ``pom.properties`` (inflated, up to
``MAX_MEMBER``), or a nested archive, which is walked the same way while it streams by:
a stored one (Spring Boot stores them, so that they can be read in place) straight from
the outer bytes, a deflated one through a streaming inflater. An entry written with a data
descriptor (its sizes after its data, as ``jar`` and ``ZipOutputStream`` write deflated
entries) is inflated to find its end. Nothing is held but the members kept.

Hostile archives stay bounded: nesting stops at ``MAX_DEPTH``, inflating (a zip bomb in a
nested entry, an endless deflate stream) at ``INFLATE_BUDGET`` bytes an archive, the
members kept at ``MAX_KEPT`` bytes; declared sizes are never trusted past the bytes that
are really there, and entries cannot overlap, since nothing is read twice. What could not
be read is said in ``problems``; nothing here raises but the ``read`` callable.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass

ZIP_LOCAL = b"PK\x03\x04"
JAVA_ARCHIVES = (".jar", ".war", ".ear")
_CENTRAL = (b"PK\x01\x02", b"PK\x05\x06", b"PK\x06\x06", b"PK\x05\x05")
_DESCRIPTOR = b"PK\x07\x08"
_NEXT = (ZIP_LOCAL, *_CENTRAL)
MANIFEST = "META-INF/MANIFEST.MF"
POM = re.compile(r"^META-INF/maven/[^/]+/[^/]+/pom\.properties$")
MAX_MEMBER = 64 * 1024  # a manifest or pom.properties; larger ones are not kept
MAX_KEPT = 4 * 1024 * 1024  # members kept for one archive, its nested ones included
MAX_DEPTH = 3  # the archive, the archives in it, and the archives in those
INFLATE_BUDGET = 256 * 1024 * 1024  # bytes inflated for one archive, nested ones included
MAX_ENTRIES = 500_000  # entries walked in one archive (a 100 MB Spring Boot jar has 60,000)
MAX_NAME = 4096
CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class ArchiveMembers:
    """What one Java archive holds: ``(inner, name, content)`` for each manifest and
    pom.properties, ``inner`` the nested archive's path inside the outer one ('' for the
    outer archive itself, ``BOOT-INF/lib/a.jar:lib/b.jar`` two levels down, as syft
    writes such locations)."""

    members: tuple[tuple[str, str, bytes], ...]
    problems: tuple[str, ...]  # what could not be read, one sentence each
    kept: int  # bytes of content kept, charged to the capture budget


class _Spent(Exception):
    """A budget of the archive is spent: the walk stops everywhere (``str``: which)."""


class _Budget:
    __slots__ = ("entries", "inflate", "kept")

    def __init__(self) -> None:
        self.inflate = INFLATE_BUDGET
        self.kept = MAX_KEPT
        self.entries = MAX_ENTRIES


class _Source:
    """Forward bytes with a push-back buffer (what an inflater read past its stream's end
    goes back to the source it came from)."""

    __slots__ = ("at", "pending")

    def __init__(self) -> None:
        self.pending = b""
        self.at = 0  # what of ``pending`` was read already

    def _more(self, n: int) -> bytes:
        raise NotImplementedError

    def _pass(self, n: int) -> int:
        return len(self._more(n))

    def read(self, n: int) -> bytes:
        """Up to ``n`` bytes; fewer only at the end. A short read fills ``pending`` a chunk
        ahead: the headers of small entries then come from memory, not a call chain."""
        end = self.at + n
        if end <= len(self.pending):
            out = self.pending[self.at:end]
            self.at = end
            return out
        parts = [self.pending[self.at:]]
        got = len(parts[0])
        self.pending, self.at = b"", 0
        while got < n:
            need = n - got
            more = self._more(CHUNK if need < CHUNK else need)
            if not more:
                break
            if len(more) > need:
                parts.append(more[:need])
                self.pending, self.at = more, need
                break
            parts.append(more)
            got += len(more)
        return b"".join(parts)

    def skip(self, n: int) -> int:
        passed = min(n, len(self.pending) - self.at)
        self.at += passed
        while passed < n:
            step = self._pass(n - passed)
            if step <= 0:
                break
            passed += step
        return passed

    def unread(self, data: bytes) -> None:
        self.pending = data + self.pending[self.at:]
        self.at = 0


class _Stream(_Source):
    """The file as the layer gives it: the captured head, then the rest of the member."""

    __slots__ = ("passer", "pull")

    def __init__(self, head: bytes, read: Callable[[int], bytes],
                 skip: Callable[[int], int] | None) -> None:
        super().__init__()
        self.pending = head
        self.pull, self.passer = read, skip

    def _more(self, n: int) -> bytes:
        return self.pull(n)

    def _pass(self, n: int) -> int:
        if self.passer is not None:
            return self.passer(n)
        return len(self.pull(min(n, CHUNK)))


class _Window(_Source):
    """The next ``length`` bytes of ``parent``: one entry's data."""

    __slots__ = ("left", "parent")

    def __init__(self, parent: _Source, length: int) -> None:
        super().__init__()
        self.parent, self.left = parent, length

    def _more(self, n: int) -> bytes:
        data = self.parent.read(min(n, self.left))
        self.left -= len(data)
        return data

    def _pass(self, n: int) -> int:
        passed = self.parent.skip(min(n, self.left))
        self.left -= passed
        return passed

    def finish(self) -> bool:
        """Pass the rest; False when the parent ended first (a declared size too large)."""
        self.pending, self.at = b"", 0
        want = self.left
        return self.skip(want) == want


class _Inflated(_Source):
    """The inflated bytes of a deflate stream read from ``parent``; at the stream's end,
    what was read past it goes back to ``parent``."""

    __slots__ = ("broken", "budget", "eof", "inflater", "parent")

    def __init__(self, parent: _Source, budget: _Budget) -> None:
        super().__init__()
        self.parent, self.budget = parent, budget
        self.inflater = zlib.decompressobj(-15)
        self.eof = False
        self.broken = False  # not a valid deflate stream, or one cut short

    def _more(self, n: int) -> bytes:
        while not self.eof:
            tail = self.inflater.unconsumed_tail
            data = tail or self.parent.read(CHUNK)
            if not data:
                self.eof = self.broken = True  # the deflate stream was cut short
                break
            try:
                out = self.inflater.decompress(data, min(n, CHUNK))
            except zlib.error:
                self.eof = self.broken = True
                break
            if self.inflater.eof:
                self.eof = True
                self.parent.unread(self.inflater.unused_data + self.inflater.unconsumed_tail)
            self.budget.inflate -= len(out)
            if self.budget.inflate < 0:
                raise _Spent(f"inflating stopped after {INFLATE_BUDGET // (1024 * 1024)} MiB "
                             "(a zip bomb?); the rest not read")
            if out:
                return out
        return b""

    def finish(self) -> None:
        """Inflate to the stream's end (to find where the next entry starts)."""
        self.pending, self.at = b"", 0
        while self._more(CHUNK):
            pass


def _zip64_sizes(extra: bytes, csize: int, usize: int) -> tuple[int, int]:
    pos = 0
    while pos + 4 <= len(extra):
        tag, length = struct.unpack_from("<HH", extra, pos)
        body = extra[pos + 4:pos + 4 + length]
        if tag == 1:
            at = 0
            if usize == 0xFFFFFFFF and at + 8 <= len(body):
                usize = struct.unpack_from("<Q", body, at)[0]
                at += 8
            if csize == 0xFFFFFFFF and at + 8 <= len(body):
                csize = struct.unpack_from("<Q", body, at)[0]
            break
        pos += 4 + length
    return csize, usize


class _Walk:
    def __init__(self) -> None:
        self.budget = _Budget()
        self.members: list[tuple[str, str, bytes]] = []
        self.problems: list[str] = []

    def problem(self, inner: str, what: str) -> None:
        if len(self.problems) < 5:
            self.problems.append(f"{inner}: {what}" if inner else what)

    def walk(self, source: _Source, inner: str, depth: int) -> None:
        """The local entries of one archive, to its central directory."""
        while True:
            head = source.read(30)
            if len(head) < 30 or not head.startswith(ZIP_LOCAL):
                if head[:4] not in _CENTRAL:
                    self.problem(inner, "zip entries end early or in unknown data")
                return
            _, _, flags, method, _, _, _, csize, usize, nlen, xlen = struct.unpack(
                "<4sHHHHHIIIHH", head)
            raw = source.read(nlen)
            extra = source.read(xlen)
            self.budget.entries -= 1
            if self.budget.entries < 0:
                raise _Spent(f"more than {MAX_ENTRIES} zip entries; the rest not read")
            if len(raw) < nlen or len(extra) < xlen:
                self.problem(inner, "zip entry header cut short")
                return
            name = raw[:MAX_NAME].decode("utf-8", "replace")
            if 0xFFFFFFFF in (csize, usize):
                csize, usize = _zip64_sizes(extra, csize, usize)
            if not self.entry(source, inner, depth, name, flags, method, csize):
                return

    def entry(self, source: _Source, inner: str, depth: int, name: str, flags: int,
              method: int, csize: int) -> bool:
        """One entry's data, passed, kept or walked; False when the walk cannot go on."""
        descriptor = bool(flags & 0x08)
        if descriptor and method != 8:
            # a stored entry's end is found only through the central directory
            self.problem(inner, f"{name}: size written after the data; the rest not read")
            return False
        wanted = name == MANIFEST or POM.match(name)
        nested = name.endswith(JAVA_ARCHIVES) and not name.endswith("/")
        if flags & 0x01 or method not in (0, 8):
            if descriptor or wanted or nested:
                why = "encrypted" if flags & 0x01 else f"compression method {method}"
                self.problem(inner, f"{name} not read: {why}")
            if descriptor:
                return False
            return _Window(source, csize).finish() or self._short(inner, name)
        if not (descriptor or wanted or nested):  # most entries: classes, resources
            return source.skip(csize) == csize or self._short(inner, name)
        window = None if descriptor else _Window(source, csize)
        body: _Window | _Inflated = (window if method == 0 and window is not None
                                     else _Inflated(window or source, self.budget))
        if wanted:
            data = body.read(MAX_MEMBER + 1)
            if len(data) > MAX_MEMBER:
                self.problem(inner, f"{name} is larger than {MAX_MEMBER // 1024} KiB")
            elif isinstance(body, _Inflated) and body.broken:
                self.problem(inner, f"{name} is not a readable deflate stream")
            elif len(data) > self.budget.kept:
                self.problem(inner, f"{name} not kept: too many members")
            else:
                self.budget.kept -= len(data)
                self.members.append((inner, name, data))
        elif nested:
            path = f"{inner}:{name}" if inner else name
            if depth >= MAX_DEPTH:
                self.problem(inner, f"{name}: archives nested deeper than {MAX_DEPTH} "
                                    "not read")
            else:
                self.walk(body, path, depth + 1)
        if window is not None:
            return window.finish() or self._short(inner, name)
        assert isinstance(body, _Inflated)
        body.finish()
        return self._descriptor(source, inner, name)

    def _short(self, inner: str, name: str) -> bool:
        self.problem(inner, f"{name}: declared size runs past the archive's end")
        return False

    def _descriptor(self, source: _Source, inner: str, name: str) -> bool:
        """Pass the data descriptor after an entry: an optional signature, the CRC and two
        sizes, four bytes each (zip64's eight: told apart by the signature that follows)."""
        head = source.read(4)
        if head != _DESCRIPTOR:
            source.unread(head)
        rest = source.read(24)
        take = 20 if rest[12:16] not in _NEXT and rest[20:24] in _NEXT else 12
        source.unread(rest[take:])
        if len(rest) < take:
            self.problem(inner, f"{name}: data descriptor cut short")
            return False
        return True


def archive_start(head: bytes) -> int:
    """Where the zip entries of a Java archive start in its first bytes: 0, or after the
    launch script a Spring Boot "fully executable" jar starts with; -1 if not a zip."""
    if head.startswith(ZIP_LOCAL):
        return 0
    return head.find(ZIP_LOCAL) if head.startswith(b"#!") else -1


def read_archive_members(head: bytes, read: Callable[[int], bytes],
                         skip: Callable[[int], int] | None = None) -> ArchiveMembers:
    """Walk the Java archive whose first bytes are ``head`` and whose rest ``read`` gives
    (``skip`` passes bytes unread where the stream can)."""
    walk = _Walk()
    try:
        walk.walk(_Stream(head, read, skip), "", 1)
    except _Spent as spent:
        walk.problem("", str(spent))
    except RecursionError:  # not reached with MAX_DEPTH; a guard all the same
        walk.problem("", "archives nested too deep")
    return ArchiveMembers(tuple(walk.members), tuple(walk.problems),
                          MAX_KEPT - walk.budget.kept)

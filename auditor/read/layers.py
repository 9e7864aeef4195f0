"""Reading one layer tar as a stream: headers, plus the content prefixes that were wanted."""

from __future__ import annotations

from typing import IO

from auditor.model.image import BLOCK, CHAR, DIR, FIFO, FILE, HARDLINK, SYMLINK, RawEntry, Skipped
from auditor.read.cursor import Cursor
from auditor.read.elf import ELF_MAGIC, read_elf_facts
from auditor.read.identity import release_pattern
from auditor.read.tarstream import HeaderBudget, TarStream
from auditor.read.wants import ContentWants
from auditor.read.zipstream import JAVA_ARCHIVES, archive_start, read_archive_members

_KINDS = {b"0": FILE, b"\0": FILE, b"7": FILE, b"S": FILE, b"5": DIR, b"2": SYMLINK,
          b"1": HARDLINK, b"3": CHAR, b"4": BLOCK, b"6": FIFO}


def image_path(name: str) -> str | None:
    """The absolute image path for a tar member name, as Docker unpacks it (a lexical
    clean: a leading ``/`` or ``./`` and empty or ``.`` parts dropped, ``..`` resolved;
    ``..`` above the root of a rooted name stays at the root), or None where a relative
    name climbs out of the root (Docker refuses such a layer; we skip the member)."""
    if name.startswith("./"):
        name = name[2:]
    if "//" not in name and "/." not in name and not name.startswith((".", "/")):
        return "/" + name.rstrip("/")  # the common case: nothing to normalise
    rooted = name.startswith("/")
    parts: list[str] = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            elif not rooted:
                return None
            continue
        parts.append(part)
    return "/" + "/".join(parts)


class CaptureBudget(HeaderBudget):
    """How many content bytes an image may still keep, and what its headers may still
    hold (shared by all its layers)."""

    def __init__(self, total: int) -> None:
        super().__init__()
        self.left = total


def _script_rest(tar: TarStream, kept: int, size: int, wants: ContentWants,
                 budget: CaptureBudget) -> bytes:
    """More of an executable script than its first bytes, up to ``wants.script_prefix``."""
    more = min(size, wants.script_prefix) - kept
    if more <= 0 or more > budget.left:
        return b""
    budget.left -= more
    return tar.read(more)


def scan_layer_tar(stream: Cursor | IO[bytes], index: int, wants: ContentWants,
                   budget: CaptureBudget) -> tuple[list[RawEntry], list[Skipped]]:
    """Read a layer tar from ``stream`` to its end-of-archive marker, in one forward pass."""
    entries: list[RawEntry] = []
    skipped: list[Skipped] = []
    where = f"layer {index}"
    tar = TarStream(stream, budget)
    # On a random-access source (a layer in a file) the ELF reader jumps straight to the
    # dynamic section instead of reading the code in front of it.
    read_at = tar.read_at if tar.random_access else None
    limit = wants.limit
    # Numbers repeat from entry to entry (a few modes; an owner, a timestamp for a whole
    # package or COPY): one int object for each run of equal values, not one an entry,
    # which is 28 bytes each of a million entries. Modes have 4,096 values at most.
    modes: dict[int, int] = {}
    same_mode = modes.setdefault
    last_uid = last_gid = last_mtime = 0
    for name, typeflag, mode, uid, gid, size, linkname, mtime in tar.headers():
        path = image_path(name)
        kind = _KINDS.get(typeflag)
        if path is None or kind is None:
            why = "path leaves the image root" if path is None else (
                f"unsupported tar entry type {typeflag!r}")
            skipped.append(Skipped(f"{where}: {name!r}", why))
            continue
        link: str | None = None
        if kind == SYMLINK:
            link = linkname
        elif kind == HARDLINK:
            link = image_path(linkname)
            if link is None:
                skipped.append(Skipped(f"{where}: {name!r}",
                                       "hard link target leaves the image root"))
                continue
        if kind != FILE:
            size = 0
        budget.names_left -= len(path) + (len(link) if link else 0)
        if budget.names_left < 0:
            raise budget.names_spent()
        perm = mode & 0o7777
        if mtime == last_mtime:
            mtime = last_mtime
        else:
            last_mtime = mtime
        if uid > 256:  # smaller ones are shared by Python itself
            uid = last_uid if uid == last_uid else uid
            last_uid = uid
        if gid > 256:
            gid = last_gid if gid == last_gid else gid
            last_gid = gid
        entry = RawEntry(path, kind, same_mode(perm, perm), uid, gid, size, link, mtime)
        if size:
            want = limit(path, mode)
            if want:
                want = min(want, size)
                if want <= budget.left:
                    entry.data = tar.read(want)
                    budget.left -= want
                    if entry.data[:2] == b"#!" and mode & 0o111 and want < size:
                        entry.data += _script_rest(tar, want, size, wants, budget)
                    if entry.data[:4] == ELF_MAGIC:
                        # libraries and interpreters it needs lie deeper in the file:
                        # read forward to the dynamic section now, while it streams by
                        # an executable is also asked who it is (never a library)
                        entry.elf = read_elf_facts(
                            entry.data, tar.read, size, read_at=read_at, skip=tar.skip,
                            identify_as=bool(mode & 0o111) and ".so" not in path,
                            release=release_pattern(path))
                    elif path.endswith(JAVA_ARCHIVES) and \
                            (start := archive_start(entry.data)) >= 0:
                        # its manifests and poms, nested archives' too, while it streams
                        # by; the members kept replace the captured prefix
                        entry.archive = read_archive_members(entry.data[start:], tar.read,
                                                             tar.skip)
                        budget.left += len(entry.data) - entry.archive.kept
                        entry.data = None
                else:
                    skipped.append(Skipped(f"{where}: {path!r}",
                                           "content not read: capture budget spent"))
        entries.append(entry)
    return entries, skipped

"""Writing the files a user names with ``-o``: whole or not at all, never through a link.

Every report, rewritten Dockerfile and listing that goes to a file goes through
:func:`written`. It refuses a target whose last component is a symbolic link (dangling
or not), a FIFO, a directory, a device or a socket: a link would carry the write
somewhere else, a FIFO would block the write until someone reads it. It writes a new
file beside the target (same directory, created exclusively, the mode a new file gets,
or the replaced file's permissions), flushes it to disk, then renames it over the
target: a reader of the target sees the old file or the whole new one, and a scan that
fails half-way leaves the target as it was and no temporary file behind. The name
``-`` is standard output, written in place.
"""

from __future__ import annotations

import os
import secrets
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import TextIO

from auditor.errors import UsageError

STDOUT = "-"
_WHAT = {stat.S_IFLNK: "a symbolic link", stat.S_IFIFO: "a FIFO",
         stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
         stat.S_IFSOCK: "a socket", stat.S_IFDIR: "a directory"}
_TEMP_TRIES = 8


def check_target(path: str) -> int | None:
    """The permission bits of the regular file at ``path`` (None: there is none yet),
    or a UsageError when ``path`` cannot be written as a plain file. The last component
    is not followed: a symbolic link there is refused, whatever it points at."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        directory = os.path.dirname(path) or "."
        if not os.path.isdir(directory):
            raise UsageError(f"cannot write {path}: {directory} is not a directory") from None
        return None
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        what = _WHAT.get(stat.S_IFMT(info.st_mode), "not a regular file")
        raise UsageError(f"cannot write {path}: it is {what}; auditor writes only to a "
                         "regular file or a new one (- is standard output)")
    return stat.S_IMODE(info.st_mode) & 0o777


def _temporary(path: str) -> tuple[int, str]:
    """A new file beside ``path``, opened for writing; its descriptor and name."""
    directory, base = os.path.split(path)
    flags = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
             | getattr(os, "O_CLOEXEC", 0))
    for _ in range(_TEMP_TRIES):
        name = os.path.join(directory, f".{base[:200]}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(name, flags, 0o666), name  # the umask applies, as for any file
        except FileExistsError:
            continue
        except OSError as exc:
            raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    raise UsageError(f"cannot write {path}: no free temporary name beside it")


@contextmanager
def written(path: str) -> Iterator[TextIO]:
    """A text stream whose content becomes the file at ``path`` when the block ends
    without an error (``-``: standard output). Undecodable bytes from image names are
    written back as they were. Errors are UsageErrors naming ``path``."""
    if path == STDOUT:
        try:
            yield sys.stdout
            sys.stdout.flush()
        except BrokenPipeError:
            raise  # the reader left: not an error (cli.main)
        except OSError as exc:  # a full disk behind `> FILE`, a closed descriptor
            raise UsageError(f"cannot write to standard output: {exc.strerror or exc}"
                             ) from None
        return
    mode = check_target(path)
    fd, temp = _temporary(path)
    try:
        fh = os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape")
    except BaseException:
        os.close(fd)
        _remove(temp)
        raise
    try:
        with fh:
            if mode is not None:
                os.fchmod(fh.fileno(), mode)
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        check_target(path)  # nothing became a directory or a FIFO there meanwhile
        # rename() replaces the directory entry itself: a link put there meanwhile is
        # replaced, never followed
        os.rename(temp, path)
    except BaseException as exc:
        _remove(temp)
        if isinstance(exc, OSError):
            raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
        raise
    _sync_directory(path)


def _remove(temp: str) -> None:
    with suppress(OSError):
        os.unlink(temp)


def _sync_directory(path: str) -> None:
    """Flush the rename to disk too (best effort: not every filesystem allows it)."""
    try:
        fd = os.open(os.path.dirname(path) or ".", os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        with suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)

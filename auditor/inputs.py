"""Opening the files a user names beside the image: only regular files, and small ones.

A path on the command line or in a policy's ``extends`` may name anything: a FIFO (opening
it for reading waits for a writer, forever), a device (``/dev/zero`` never ends), a
directory, a file of gigabytes. Every such file is opened here, without blocking and
without following the open into a wait, checked to be a regular file before one byte is
read, and read up to a limit that says what the file is for.

The limits (docs/guide.md, "Limits on the files beside the image"):
- a policy file, each file of an ``extends`` chain: 1 MiB;
- a baseline (a previous JSON or SARIF report): 64 MiB;
- a Dockerfile: 1 MiB.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from typing import BinaryIO

from auditor.errors import AuditorError, PolicyError, UsageError

MIB = 1 << 20


@dataclass(frozen=True, slots=True)
class InputKind:
    """What a file is for: its name in error sentences, its size limit, its error class."""

    noun: str  # "policy file", "baseline", "Dockerfile"
    max_bytes: int
    error: type[AuditorError]


POLICY_FILE = InputKind("policy file", 1 * MIB, PolicyError)
BASELINE = InputKind("baseline", 64 * MIB, PolicyError)
DOCKERFILE = InputKind("Dockerfile", 1 * MIB, UsageError)

_WHAT = {stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a character device",
         stat.S_IFBLK: "a block device", stat.S_IFSOCK: "a socket", stat.S_IFDIR: "a directory"}


def open_regular(path: str | os.PathLike[str], kind: InputKind) -> BinaryIO:
    """``path`` opened for reading in binary, or ``kind.error``: it is missing, unreadable,
    or not a regular file (checked on the open file, so nothing can swap it in between)."""
    name = os.fspath(path)
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(name, flags)
    except FileNotFoundError:
        raise kind.error(f"{kind.noun} {name} does not exist") from None
    except OSError as exc:
        raise kind.error(f"cannot read {kind.noun} {name}: {exc.strerror or exc}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            what = _WHAT.get(stat.S_IFMT(mode), "not a regular file")
            raise kind.error(f"cannot read {kind.noun} {name}: it is {what}, not a regular file")
        # O_NONBLOCK means nothing for a regular file; cleared all the same, so whoever
        # reads the file sees it as an ordinary one
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_bytes(path: str | os.PathLike[str], kind: InputKind) -> bytes:
    """The whole content of a regular file of at most ``kind.max_bytes``, or ``kind.error``."""
    name = os.fspath(path)
    with open_regular(name, kind) as fh:
        try:
            data = fh.read(kind.max_bytes + 1)
        except OSError as exc:
            raise kind.error(f"cannot read {kind.noun} {name}: {exc.strerror or exc}") from None
    if len(data) > kind.max_bytes:
        raise kind.error(f"{kind.noun} {name} is larger than {kind.max_bytes // MIB} MiB, "
                         f"the most auditor reads for a {kind.noun}")
    return data


def read_text(path: str | os.PathLike[str], kind: InputKind) -> str:
    """:func:`read_bytes`, decoded as UTF-8, or ``kind.error``."""
    data = read_bytes(path, kind)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise kind.error(f"{kind.noun} {os.fspath(path)} is not UTF-8 text (byte "
                         f"{exc.start}: {exc.reason})") from None

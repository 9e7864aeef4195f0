"""Standard input as an image stream (``docker-archive:-``), bounded in time.

``docker save IMAGE | auditor scan docker-archive:-`` reads a pipe. A pipe whose writer
never sends (a stalled engine, a command that waits for something else) would block a
read forever; here each read waits at most ``--timeout`` seconds (the engine's default,
120 s, when the flag is not given) for the first byte, then fails with one error line.
A terminal is refused at once: nobody types a tar archive.
"""

from __future__ import annotations

import io
import os
import select
from typing import IO, Any

from auditor.errors import SourceError


class IdleBoundReader(io.RawIOBase):
    """The bytes of the pipe or file ``fd``; a read that gets nothing for ``seconds``
    raises a SourceError."""

    def __init__(self, fd: int, seconds: float, what: str = "standard input") -> None:
        self._fd = fd
        self._seconds = seconds
        self._what = what
        # poll, not select: select cannot watch a descriptor past 1023
        self._poll = select.poll()
        self._poll.register(fd, select.POLLIN | select.POLLPRI)

    def readable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def readinto(self, b: Any) -> int:
        if not self._poll.poll(self._seconds * 1000):  # a closed writer counts (POLLHUP)
            raise SourceError(f"{self._what} sent nothing for {self._seconds:g} s",
                              tip="give it longer with --timeout SECONDS")
        try:
            return os.readv(self._fd, [b])
        except OSError as exc:
            raise SourceError(f"cannot read {self._what}: {exc.strerror or exc}") from None


def stdin_stream(stream: IO[bytes], seconds: float) -> IO[bytes]:
    """``stream`` (standard input's bytes) with every read bounded by ``seconds``; a
    stream without a descriptor (a test's bytes in memory) is returned as it is."""
    try:
        fd = stream.fileno()
    except (OSError, AttributeError, ValueError, io.UnsupportedOperation):
        return stream
    if os.isatty(fd):
        raise SourceError("standard input is a terminal, not an image",
                          tip="pipe one in: docker save IMAGE | auditor scan docker-archive:-")
    return io.BufferedReader(IdleBoundReader(fd, seconds), 1 << 20)

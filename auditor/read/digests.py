"""Digests: sha256 of bytes as they pass (``HashingReader``, for streams) or of whole
blobs in files, hashed by threads of their own while the walk goes on (``FileDigests``),
and the comparison with what a manifest or config says.

A new digest algorithm, or checking a registry's blob as it streams by, belongs here;
where the bytes come from (``ranges``, ``prefetch``) and decompression do not.
"""

from __future__ import annotations

import hashlib
import io
import os
import queue
import threading
from typing import IO, Any

from auditor.errors import DigestMismatch, FormatError, SourceError, UnsupportedMediaType
from auditor.read.progress import Progress
from auditor.read.ranges import FileRange, open_regular_fd

CHUNK = 1 << 20


class HashingReader(io.RawIOBase):
    """Passes bytes through, hashing them and counting them (and reporting progress)."""

    def __init__(self, raw: IO[bytes], progress: Progress | None = None,
                 hashing: bool = True) -> None:
        self._raw = raw
        self._hash = hashlib.sha256() if hashing else None  # None: count only
        self.count = 0
        self._progress = progress

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        n = int(self._raw.readinto(b) or 0)  # type: ignore[attr-defined]
        if n:
            if self._hash is not None:
                self._hash.update(memoryview(b)[:n])
            self.count += n
            if self._progress is not None:
                self._progress(n)
        return n

    def drain(self) -> None:
        scratch = bytearray(CHUNK)
        while self.readinto(scratch):
            pass

    def digest(self) -> str:
        """The digest of what passed; "" when not hashing."""
        return "sha256:" + self._hash.hexdigest() if self._hash is not None else ""


class Tally:
    """The sha256 (when hashing) and the count of the bytes handed to ``add``: a stream's
    digest where the bytes are not read through a file object (the layer pump)."""

    def __init__(self, hashing: bool, progress: Progress | None = None) -> None:
        self._hash = hashlib.sha256() if hashing else None
        self._progress = progress
        self.count = 0

    @property
    def hashing(self) -> bool:
        return self._hash is not None

    def add(self, data: bytes | bytearray | memoryview) -> None:
        if self._hash is not None:
            self._hash.update(data)  # holds no GIL past 2 KiB
        self.count += len(data)
        if self._progress is not None:
            self._progress(len(data))

    def digest(self) -> str:
        """The digest of what passed; "" when not hashing."""
        return "sha256:" + self._hash.hexdigest() if self._hash is not None else ""


def require_sha256(expected: str, what: str) -> None:
    algo = expected.partition(":")[0]
    if algo != "sha256":
        raise UnsupportedMediaType(f"{what}: digest algorithm {algo!r} is not supported")


def compare_digest(expected: str, got: str, what: str) -> None:
    if got != expected:
        raise DigestMismatch(f"{what}: content digest {got} does not match {expected}")


def check_digest(expected: str, reader: HashingReader, what: str) -> None:
    """Raise DigestMismatch unless the reader's sha256, read to its end, is ``expected``."""
    require_sha256(expected, what)
    reader.drain()
    compare_digest(expected, reader.digest(), what)



class FileCheck:
    """One blob's pending check; ``digest`` is set once ``done``."""

    __slots__ = ("digest", "done", "expected", "range", "what")

    def __init__(self, blob: FileRange, expected: list[tuple[str, str]]) -> None:
        self.range = blob
        self.expected = expected  # (digest, what it is called in an error)
        self.digest = ""
        self.done = threading.Event()


HASH_CHUNK = 8 << 20


class FileDigests:
    """The digests of blobs that lie in files on disk, for one image read.

    They are checked by threads of their own (``check``) that hash each blob whole while
    the walk, the squash and the detectors go on: hashlib and file reads release the GIL,
    so both cores work at once. ``wait`` returns when every digest is checked and raises
    the first mismatch; nothing may be reported about an image before it returned.
    """

    def __init__(self, progress: Progress | None = None, verify: bool = True,
                 workers: int = 2) -> None:
        self._progress = progress
        self._verify = verify
        self._workers = workers
        self._jobs: dict[FileRange, FileCheck] = {}
        self._queue: queue.SimpleQueue[FileCheck | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._error: BaseException | None = None

    def check(self, blob: FileRange, expected: list[tuple[str, str]]) -> FileCheck:
        """Hash ``blob`` in the background and compare it with each expected digest;
        the check's ``digest`` is set once ``done``. Unverified reads hash nothing.
        Checks are taken in the order given (sources give the largest blob first, so the
        longest hash starts first), by two threads: with the walk, two cores' worth."""
        known = self._jobs.get(blob)
        if known is not None:
            return known
        job = self._jobs[blob] = FileCheck(blob, expected)
        if not self._verify:
            job.done.set()
            return job
        for digest, what in expected:
            require_sha256(digest, what)
        if not self._threads:
            self._threads = [threading.Thread(target=self._run, daemon=True)
                             for _ in range(self._workers)]
            for thread in self._threads:
                thread.start()
        self._queue.put(job)
        return job

    def result(self, job: FileCheck) -> str:
        """The digest the check computed, waiting for it."""
        job.done.wait()
        if self._error is not None:
            self._raise()
        return job.digest

    def _run(self) -> None:
        buf = bytearray(HASH_CHUNK)
        view = memoryview(buf)
        files: dict[str, int] = {}
        try:
            while (job := self._queue.get()) is not None:
                try:
                    if not self._stop.is_set():
                        self._hash(job, view, files)
                except BaseException as exc:  # raised in the caller's thread by wait()
                    if isinstance(exc, OSError):
                        exc = SourceError(f"cannot read an image blob: {exc.strerror or exc}")
                    with self._lock:
                        if self._error is None:
                            self._error = exc
                    self._stop.set()  # the other checks are moot now
                finally:
                    job.done.set()
        finally:
            for fd in files.values():
                os.close(fd)

    def _hash(self, job: FileCheck, view: memoryview, files: dict[str, int]) -> None:
        blob = job.range
        fd = files.get(blob.path)
        if fd is None:
            fd = files[blob.path] = open_regular_fd(blob.path)
        h = hashlib.sha256()
        pos, end = blob.offset, blob.offset + blob.size
        while pos < end and not self._stop.is_set():
            n = os.preadv(fd, [view[:min(HASH_CHUNK, end - pos)]], pos)
            if n <= 0:
                raise FormatError(f"{blob.path} is truncated")
            h.update(view[:n])
            pos += n
            if self._progress is not None:
                with self._lock:
                    self._progress(n)
        if pos < end:
            return  # stopped
        job.digest = "sha256:" + h.hexdigest()
        for digest, what in job.expected:
            compare_digest(digest, job.digest, what)

    def _raise(self) -> None:
        error = self._error
        assert error is not None
        raise error.with_traceback(None)

    def _join(self) -> None:
        if self._threads:
            for _ in self._threads:
                self._queue.put(None)
            for thread in self._threads:
                thread.join()
            self._threads = []

    def wait(self) -> None:
        """Every digest checked, or the first mismatch raised."""
        self._join()
        if self._error is not None:
            self._raise()

    def close(self) -> None:
        """Stop hashing (when the read failed)."""
        self._stop.set()
        self._join()

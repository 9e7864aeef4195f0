"""Byte streams for blobs: digest checking as bytes pass, decompression, progress counting."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import mmap
import os
import queue
import socket
import struct
import sys
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any, Protocol, cast

from auditor.errors import DigestMismatch, FormatError, SourceError, UnsupportedMediaType
from auditor.read.tarstream import MemoryCursor

CHUNK = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

class Progress(Protocol):
    """Told how many bytes went by; told the total when a source knows it."""

    def __call__(self, nbytes: int) -> None: ...

    def set_total(self, total: int) -> None: ...


# While a helper thread hands over chunks, the GIL is passed on after 0.5 ms instead of
# the default 5 ms: a thread waiting out the interval after every chunk slows it tenfold.
_HANDOFF = 0.0005


def quick_handoff() -> float:
    """Shorten the GIL switch interval; returns the one to restore."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(min(previous, _HANDOFF))
    return previous


class PrefetchReader(io.RawIOBase):
    """A file-like view of an iterator of byte chunks (the engine's streamed ``save``),
    pulled by a background thread so that the engine's sending and our parsing overlap.

    The queue is bounded (``depth`` chunks), so memory stays small when we parse slower
    than the engine sends; socket reads and hashing release the GIL, so both cores work.
    """

    _END = object()

    def __init__(self, chunks: Iterator[bytes], depth: int = 32) -> None:
        self._queue: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._buf = memoryview(b"")
        self._done = False
        self._switch = quick_handoff()
        self._thread = threading.Thread(target=self._pump, args=(chunks,), daemon=True)
        self._thread.start()

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.5)
                return True
            except queue.Full:
                continue
        return False

    def _pump(self, chunks: Iterator[bytes]) -> None:
        # An HTTP response arrives in its chunked encoding's pieces (often 32 KiB): hand
        # them over in ~1 MiB batches, or the queue and the GIL hand-offs cost seconds.
        try:
            batch: list[bytes] = []
            size = 0
            for chunk in chunks:
                batch.append(chunk)
                size += len(chunk)
                if size >= CHUNK:
                    if not self._put(batch[0] if len(batch) == 1 else b"".join(batch)):
                        return
                    batch, size = [], 0
            if batch and not self._put(b"".join(batch)):
                return
            self._queue.put(self._END)
        except BaseException as exc:  # handed to the reading thread, raised there
            self._queue.put(exc)

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while not self._buf:
            if self._done:
                return 0
            item = self._queue.get()
            if item is self._END:
                self._done = True
                return 0
            if isinstance(item, BaseException):
                self._done = True
                raise item
            self._buf = memoryview(item)  # type: ignore[arg-type]
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n

    def drain(self) -> None:
        """Consume everything left, so the producer has read its source to the end."""
        scratch = bytearray(CHUNK)
        while self.readinto(scratch):
            pass
        self._thread.join()

    def close(self) -> None:
        if not self.closed:
            self._stop.set()
            sys.setswitchinterval(self._switch)
        super().close()


class SocketPrefetch:
    """A socket read ahead by a thread of its own into a few large buffers, handed to a
    :class:`~auditor.read.tarstream.StreamCursor` as chunks (``next_chunk``).

    Each chunk is one ``recv`` with ``MSG_WAITALL``: the thread holds no GIL while the
    chunk fills, so the engine keeps sending while this thread's owner parses. Without
    it, the engine stalls whenever the parser is busy: a unix socket buffers a few
    hundred KiB. ``idle_timeout`` seconds without a byte end the read with an error.
    """

    _END = object()

    def __init__(self, sock: socket.socket, progress: Progress | None = None,
                 chunk: int = 4 << 20, depth: int = 4, idle_timeout: float = 120) -> None:
        self._sock = sock
        self._progress = progress
        self._free: queue.SimpleQueue[bytearray] = queue.SimpleQueue()
        for _ in range(depth):
            self._free.put(bytearray(chunk))
        self._full: queue.Queue[object] = queue.Queue()
        self._held: bytearray | None = None
        self._stop = threading.Event()
        sock.settimeout(None)  # blocking, so that MSG_WAITALL waits; SO_RCVTIMEO bounds it
        seconds = int(idle_timeout)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO,
                        struct.pack("ll", seconds, int((idle_timeout - seconds) * 1e6)))
        self._switch = quick_handoff()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                buf = self._free.get()
                if self._stop.is_set():
                    break
                n = self._sock.recv_into(buf, len(buf), socket.MSG_WAITALL)
                if n and self._progress is not None:
                    self._progress(n)
                self._full.put((buf, n))
                if n < len(buf):
                    break  # the end of the stream (or the timeout, told apart below)
        except BaseException as exc:  # raised in the reading thread by next_chunk()
            self._full.put(exc)
            return
        self._full.put(self._END)

    def next_chunk(self) -> memoryview | bytes:
        if self._held is not None:
            self._free.put(self._held)
            self._held = None
        item = self._full.get()
        if item is self._END:
            self._full.put(item)
            return b""
        if isinstance(item, BaseException):
            self._full.put(item)
            raise item
        buf, n = cast(tuple[bytearray, int], item)
        self._held = buf
        return memoryview(buf)[:n]

    def close(self) -> None:
        self._stop.set()
        self._free.put(bytearray(0))  # wake the thread if it waits for a buffer
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)  # and if it waits in recv
        self._thread.join()
        self._sock.close()
        sys.setswitchinterval(self._switch)


@dataclass(frozen=True, slots=True)
class FileRange:
    """Where a blob's bytes lie: ``size`` bytes of the file at ``path`` from ``offset``."""

    path: str
    offset: int
    size: int


class _Check:
    __slots__ = ("digest", "done", "expected", "range", "what")

    def __init__(self, blob: FileRange, expected: list[tuple[str, str]]) -> None:
        self.range = blob
        self.expected = expected  # (digest, what it is called in an error)
        self.digest = ""
        self.done = threading.Event()


HASH_CHUNK = 8 << 20


class BlobFiles:
    """Layer blobs that lie in files on disk, for one image read.

    The layer walk reads them through memory maps (``cursor``): headers and wanted
    prefixes only, with seeks over everything else. Their digests are checked by
    threads of their own (``check``) that hash each blob whole while the walk, the squash
    and the detectors go on: hashlib and file reads release the GIL, so both cores
    work at once. ``wait`` returns when every digest is checked and raises the first
    mismatch; nothing may be reported about an image before it returned.
    """

    def __init__(self, progress: Progress | None = None, verify: bool = True,
                 workers: int = 2) -> None:
        self._progress = progress
        self._verify = verify
        self._workers = workers
        self._maps: dict[str, mmap.mmap | bytes] = {}
        self._jobs: dict[FileRange, _Check] = {}
        self._queue: queue.SimpleQueue[_Check | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._error: BaseException | None = None
        self._switch = sys.getswitchinterval()  # restored by _join()

    def mapping(self, path: str) -> mmap.mmap | bytes:
        buf = self._maps.get(path)
        if buf is None:
            try:
                with open(path, "rb") as f:
                    size = os.fstat(f.fileno()).st_size
                    buf = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ) if size else b""
            except OSError as exc:
                raise SourceError(f"cannot read {path}: {exc.strerror or exc}") from None
            self._maps[path] = buf
        return buf

    def cursor(self, blob: FileRange) -> MemoryCursor:
        return MemoryCursor(self.mapping(blob.path), blob.offset, blob.offset + blob.size)

    def check(self, blob: FileRange, expected: list[tuple[str, str]]) -> _Check:
        """Hash ``blob`` in the background and compare it with each expected digest;
        the check's ``digest`` is set once ``done``. Unverified reads hash nothing.
        Checks are taken in the order given (sources give the largest blob first, so the
        longest hash starts first), by two threads: with the walk, two cores' worth."""
        known = self._jobs.get(blob)
        if known is not None:
            return known
        job = self._jobs[blob] = _Check(blob, expected)
        if not self._verify:
            job.done.set()
            return job
        for digest, what in expected:
            require_sha256(digest, what)
        if not self._threads:
            self._switch = quick_handoff()
            self._threads = [threading.Thread(target=self._run, daemon=True)
                             for _ in range(self._workers)]
            for thread in self._threads:
                thread.start()
        self._queue.put(job)
        return job

    def result(self, job: _Check) -> str:
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

    def _hash(self, job: _Check, view: memoryview, files: dict[str, int]) -> None:
        blob = job.range
        fd = files.get(blob.path)
        if fd is None:
            fd = files[blob.path] = os.open(blob.path, os.O_RDONLY)
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
            sys.setswitchinterval(self._switch)

    def wait(self) -> None:
        """Every digest checked, or the first mismatch raised."""
        self._join()
        if self._error is not None:
            self._raise()

    def close(self) -> None:
        """Stop hashing (when the read failed) and unmap the files."""
        self._stop.set()
        self._join()
        self.unmap()

    def unmap(self) -> None:
        """Unmap the files (the walk is over; hashing goes on with its own reads)."""
        for buf in self._maps.values():
            if isinstance(buf, mmap.mmap):
                buf.close()
        self._maps.clear()


def chunks_of(stream: IO[bytes], size: int = CHUNK) -> Iterator[bytes]:
    while chunk := stream.read(size):
        yield chunk


class RangeReader(io.RawIOBase):
    """``size`` bytes of a file from ``offset``: a member of an uncompressed outer tar,
    read straight from the file without the standard library's per-read seeking."""

    def __init__(self, path: str, offset: int, size: int) -> None:
        self._file = open(path, "rb", buffering=0)  # noqa: SIM115 - closed in close()
        self._file.seek(offset)
        self._offset = offset
        self._size = size
        self._left = size

    def readable(self) -> bool:
        return True

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

    def readinto(self, b: Any) -> int:
        if self._left <= 0:
            return 0
        view = memoryview(b)
        if len(view) > self._left:
            view = view[: self._left]
        n = self._file.readinto(view) or 0
        if n == 0:
            raise FormatError("archive member is truncated")
        self._left -= n
        return n

    def close(self) -> None:
        self._file.close()
        super().close()


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


def compression_of(media_type: str) -> str:
    """'none', 'gzip' or 'zstd' from an OCI or Docker layer media type."""
    mt = media_type.lower()
    if mt.endswith("+gzip") or mt.endswith(".gzip") or mt.endswith("tar.gzip"):
        return "gzip"
    if mt.endswith("+zstd") or mt.endswith(".zstd"):
        return "zstd"
    if mt.endswith(".tar") or mt.endswith("layer.v1.tar") or mt.endswith("rootfs.diff.tar"):
        return "none"
    if "tar" in mt and "gzip" in mt:
        return "gzip"
    raise UnsupportedMediaType(f"unsupported layer media type {media_type!r}")


def sniff_compression(prefix: bytes) -> str:
    if prefix.startswith(GZIP_MAGIC):
        return "gzip"
    if prefix.startswith(ZSTD_MAGIC):
        return "zstd"
    return "none"


class _ZstdReader(io.RawIOBase):
    def __init__(self, raw: IO[bytes]) -> None:
        try:
            import zstandard
        except ImportError:  # pragma: no cover - it is a declared dependency
            raise UnsupportedMediaType("zstd layers need the 'zstandard' package") from None
        self._reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        try:
            data = self._reader.read(len(b))
        except Exception as exc:  # zstandard.ZstdError is not importable for typing
            raise FormatError(f"corrupt zstd stream: {exc}") from None
        b[: len(data)] = data
        return len(data)


def _gzip_opener() -> tuple[Any, tuple[type[BaseException], ...]]:
    """ISA-L's GzipFile when it is there (it inflates about 2.5 times as fast as zlib, and
    inflating is the whole cost of reading the containerd store's save), else gzip's;
    and the errors a corrupt stream raises."""
    try:
        from isal import igzip, isal_zlib
    except ImportError:  # pragma: no cover - a declared dependency, with wheels for x86/arm
        return gzip.GzipFile, (OSError, EOFError, zlib.error)
    inflate_error = cast(type[BaseException], isal_zlib.error)  # its stub types an instance
    return igzip.GzipFile, (OSError, EOFError, zlib.error, inflate_error)


_GZIP_FILE, _INFLATE_ERRORS = _gzip_opener()


class _GzipReader(io.RawIOBase):
    def __init__(self, raw: IO[bytes]) -> None:
        self._gz: IO[bytes] = _GZIP_FILE(fileobj=raw, mode="rb")

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        try:
            data = self._gz.read(len(b))
        except _INFLATE_ERRORS as exc:
            raise FormatError(f"corrupt gzip stream: {exc}") from None
        b[: len(data)] = data
        return len(data)


def decompressed(raw: IO[bytes], compression: str) -> IO[bytes]:
    if compression == "none":
        return raw
    if compression == "gzip":
        return io.BufferedReader(_GzipReader(raw), CHUNK)
    if compression == "zstd":
        return io.BufferedReader(_ZstdReader(raw), CHUNK)
    raise UnsupportedMediaType(f"unsupported compression {compression!r}")


def read_limited(stream: IO[bytes], limit: int, what: str) -> bytes:
    """Read a small document whole, refusing one larger than ``limit`` (hostile input)."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise FormatError(f"{what} is larger than {limit} bytes; refusing to read it")
    return data

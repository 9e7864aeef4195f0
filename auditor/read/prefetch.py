"""Threads that read ahead: a chunk iterator or a socket pulled by a thread of its own, so
that the producer (the engine sending its ``save``) and our parsing overlap.

A new way of reading ahead (an HTTP blob from a registry, read in its own thread) belongs
here; what the bytes are checked against (``digests``) or decompressed with
(``decompress``) does not.
"""

from __future__ import annotations

import contextlib
import io
import queue
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from typing import IO, TYPE_CHECKING, Any, cast

if TYPE_CHECKING:  # standard library only at run time: the engine's answer is read ahead
    # from the moment it is asked for, before the rest of the command has loaded
    from auditor.read.decompress import InflateBudget
    from auditor.read.digests import Tally
    from auditor.read.progress import Progress

CHUNK = 1 << 20

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
        super().close()


class SocketPrefetch:
    """A socket read ahead by a thread of its own into a few large buffers, handed to a
    :class:`~auditor.read.cursor.StreamCursor` as chunks (``next_chunk``).

    Each chunk is one ``recv`` with ``MSG_WAITALL``: the thread holds no GIL while the
    chunk fills, so the engine keeps sending while this thread's owner parses. Without
    it, the engine stalls whenever the parser is busy: a unix socket buffers a few
    hundred KiB. The thread starts as soon as the request is sent (``engine_wire``), so
    the engine's first megabytes arrive while the rest of the command loads; the chunks
    hold the whole answer, its HTTP head included. ``idle_timeout`` seconds without a
    byte end the read with a :class:`TimeoutError`.

    Buffers are made as they are needed: up to ``depth`` before the owner takes its first
    chunk (the command is still loading, and an engine that sends at once, as the
    containerd store does, should not wait on a full socket meanwhile), then ``steady``.
    Buffers beyond ``steady`` are dropped as the parse hands them back. The right
    ``steady`` depends on how the engine writes (``engine_wire.STEADY_DOCKER`` and
    ``STEADY_PODMAN`` say what was measured).
    """

    _END = object()

    def __init__(self, sock: socket.socket, progress: Progress | None = None,
                 chunk: int = 4 << 20, depth: int = 16, steady: int = 3,
                 idle_timeout: float = 120) -> None:
        self._sock = sock
        # Two buffers at least in steady state: one parsed while the other fills. The
        # reader makes buffers (``_made``), the owner drops them (``_dropped``), each only
        # reading the other's count: a stale count has the reader make fewer and the owner
        # drop fewer, so the buffers in use never fall below ``_steady`` once reached.
        self._steady = max(2, min(steady, depth))
        self._started = False
        self._made = self._dropped = 0
        self._progress = progress
        self._received = 0
        self._counting = threading.Lock()
        self._idle = idle_timeout
        self._free: queue.SimpleQueue[bytearray] = queue.SimpleQueue()
        self._full: queue.Queue[object] = queue.Queue()
        self._held: bytearray | None = None
        self._stop = threading.Event()
        sock.settimeout(None)  # blocking, so that MSG_WAITALL waits; SO_RCVTIMEO bounds it
        seconds = int(idle_timeout)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO,
                        struct.pack("ll", seconds, int((idle_timeout - seconds) * 1e6)))
        self._thread = threading.Thread(target=self._run, args=(chunk, depth), daemon=True)
        self._thread.start()

    def report_to(self, progress: Progress | None) -> None:
        """Count the bytes read into ``progress`` from now on, and those read so far."""
        with self._counting:
            self._progress = progress
            if progress is not None and self._received:
                progress(self._received)

    def _count(self, n: int) -> None:
        with self._counting:
            self._received += n
            if self._progress is not None:
                self._progress(n)

    def _run(self, chunk: int, depth: int) -> None:
        # buffers are made here, not in the caller, which has a command to load
        try:
            while not self._stop.is_set():
                try:
                    buf = self._free.get_nowait()
                except queue.Empty:
                    limit = self._steady if self._started else depth
                    if self._made - self._dropped < limit:
                        self._made += 1
                        buf = bytearray(chunk)
                    else:
                        buf = self._free.get()
                if self._stop.is_set():
                    break
                n = self._fill(buf)
                self._full.put((buf, n))
                if n < len(buf):
                    break  # the end of the stream
        except BaseException as exc:  # raised in the reading thread by next_chunk()
            self._full.put(exc)
            return
        self._full.put(self._END)

    def _fill(self, buf: bytearray) -> int:
        """Fill ``buf``; short only at the end of the stream. A ``recv`` returns early
        when a signal lands on this thread, or when its SO_RCVTIMEO budget (counted for
        the whole call, not between bytes) runs out after some bytes came: both are
        followed by another ``recv``, and only one that gets nothing in that time fails."""
        view = memoryview(buf)
        got = 0
        while got < len(buf):
            try:
                n = self._sock.recv_into(view[got:], len(buf) - got, socket.MSG_WAITALL)
            except BlockingIOError:  # EAGAIN: SO_RCVTIMEO passed without a byte
                raise TimeoutError(f"nothing for {self._idle:g} s") from None
            if not n:
                break
            got += n
            self._count(n)
        return got

    def next_chunk(self) -> memoryview | bytes:
        self._started = True
        if self._held is not None:
            if self._made - self._dropped > self._steady:
                self._dropped += 1  # one of the first burst's, no longer needed
            else:
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
        """Stop the thread and close the socket (at the end, or on the way out of an
        error; twice is harmless)."""
        self._stop.set()
        self._free.put(bytearray(0))  # wake the thread if it waits for a buffer
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)  # and if it waits in recv
        self._thread.join()
        self._sock.close()



def chunks_of(stream: IO[bytes], size: int = CHUNK) -> Iterator[bytes]:
    while chunk := stream.read(size):
        yield chunk



class LayerPump:
    """A compressed layer read, hashed and inflated by threads of its own; its tar handed
    to a :class:`~auditor.read.cursor.StreamCursor` as chunks (``next_chunk``).

    One thread reads the stored blob and inflates it into a few large buffers
    (``decompress.inflating``); another hashes the stored bytes as they pass. The reading
    thread parses each buffer in place and hands it back when it takes the next one (as
    with :class:`SocketPrefetch`). Inflating and hashing hold no GIL while they work, so
    the three overlap on two cores, and nothing copies the uncompressed bytes after the
    decompressor wrote them. Memory stays bounded: ``depth`` buffers of ``chunk`` bytes,
    and two stored blocks waiting to be hashed (hashing outruns inflating).
    """

    _END = object()

    def __init__(self, read: Callable[[int], bytes], compression: str, blob: Tally, tar: Tally,
                 image: InflateBudget | None = None, chunk: int = 4 << 20, depth: int = 4
                 ) -> None:
        self.blob, self.tar = blob, tar
        self._image = image
        self._read = read
        self._stop = threading.Event()
        self._free: queue.SimpleQueue[bytearray] = queue.SimpleQueue()
        for _ in range(depth):
            self._free.put(bytearray(chunk))
        self._full: queue.Queue[object] = queue.Queue()
        self._to_hash: queue.Queue[object] = queue.Queue(maxsize=2)  # hashing outruns inflating
        self._held: bytearray | None = None
        self._done = False
        self._hasher = threading.Thread(target=self._hash, daemon=True)
        self._hasher.start()
        self._inflater = threading.Thread(target=self._inflate, args=(compression,),
                                          daemon=True)
        self._inflater.start()

    def _put_hash(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._to_hash.put(item, timeout=0.5)
                return True
            except queue.Full:
                continue
        return False

    def _inflate(self, compression: str) -> None:
        from auditor.read.decompress import inflating

        try:
            tar = inflating(cast(IO[bytes], _Passing(self)), compression, self._image)
            while not self._stop.is_set():
                buf = self._free.get()
                n = tar.readinto(buf) or 0
                if n and self.tar.hashing:
                    self.tar.add(memoryview(buf)[:n])
                else:
                    self.tar.count += n
                self._full.put((buf, n))
                if not n:
                    break
            self._put_hash(self._END)
            self._hasher.join()
            self._full.put(self._END)
        except BaseException as exc:  # handed to the reading thread, raised there
            self._full.put(exc)

    def _hash(self) -> None:
        while True:
            try:
                item = self._to_hash.get(timeout=0.5)
            except queue.Empty:
                if self._stop.is_set():
                    return
                continue
            if item is self._END:
                return
            self.blob.add(cast(bytes, item))

    def next_chunk(self) -> memoryview | bytes:
        """The next chunk of the tar, valid until the next call; empty at its end."""
        if self._held is not None:
            self._free.put(self._held)
            self._held = None
        while not self._done:
            item = self._full.get()
            if item is self._END:
                self._done = True
                break
            if isinstance(item, BaseException):
                self._done = True
                raise item
            buf, n = cast(tuple[bytearray, int], item)
            if n:
                self._held = buf
                return memoryview(buf)[:n]
            self._free.put(buf)
        return b""

    def drain(self) -> None:
        """Inflate and hash to the end: the digests cover the bytes after the tar's end."""
        while self.next_chunk():
            pass

    def close(self) -> None:
        """Stop the threads (at the end, or when the read failed half-way)."""
        self._stop.set()
        self._free.put(bytearray(0))  # wake the inflater if it waits for a buffer


class _Passing(io.RawIOBase):
    """The stored blob as the decompressor reads it: each block from the source handed
    to the pump's hashing thread on its way."""

    def __init__(self, pump: LayerPump) -> None:
        self._pump = pump

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = self._pump._read(len(b))
        if data and not self._pump._put_hash(data):
            return 0
        n = len(data)
        b[:n] = data
        return n

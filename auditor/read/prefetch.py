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
from collections.abc import Iterator
from typing import IO, Any, cast

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



def chunks_of(stream: IO[bytes], size: int = CHUNK) -> Iterator[bytes]:
    while chunk := stream.read(size):
        yield chunk


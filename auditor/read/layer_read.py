"""The reader's one entry point: ``LayerReader.read(LayerBlob)`` scans one layer in a
single pass, checking its digests, whichever way its bytes arrive.

The ways (see ``layer_blob`` for the kinds of ``where``):

- an uncompressed blob in a file is walked header to header through a memory map while
  ``digests.FileDigests`` hashes it in other threads (``start`` queues every such check,
  largest first, before any layer is walked: hashing is the long pole of a file scan);
- anything else is a stream: hashed as it passes (the stored bytes, then the
  uncompressed tar), decompressed, and pumped by a second thread (``prefetch``) while
  this one parses headers;
- an uncompressed layer passing by in an unverified stream (the engine's own ``save``)
  is walked in place, with nothing to hash.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import IO, Any, cast

from auditor.errors import AuditorError, DigestMismatch
from auditor.model.image import LayerScan
from auditor.read.cursor import Cursor, CursorReader, StreamCursor
from auditor.read.decompress import InflateBudget, compression_of, sniff_compression
from auditor.read.digests import (
    FileDigests,
    HashingReader,
    Tally,
    check_digest,
    compare_digest,
    require_sha256,
)
from auditor.read.layer_blob import DOCKER_LAYER, SNIFF, LayerBlob, Opened, Passing
from auditor.read.layers import CaptureBudget, scan_layer_tar
from auditor.read.prefetch import CHUNK, LayerPump, PrefetchReader, chunks_of
from auditor.read.progress import Progress
from auditor.read.ranges import FileMaps, FileRange, open_range
from auditor.read.wants import ContentWants


@dataclass(frozen=True, slots=True)
class ReadSettings:
    """How one image's layers are read: what content to keep (asked for only when the
    first layer is read, so that loading the detectors overlaps the source's I/O), whom
    to tell about bytes read, and whether digests are checked."""

    wants: Callable[[], ContentWants]
    progress: Progress | None = None
    # True: every digest; False: none; None: a compressed blob's digest only, checked as
    # it passes to be inflated (inflating costs several times the hashing), its tar not
    verify: bool | None = True


class LayerReader:
    """Reads the layers of one image; made by :func:`reading_layers`."""

    def __init__(self, settings: ReadSettings) -> None:
        self._settings = settings
        self._maps = FileMaps()
        self.digests = FileDigests(settings.progress if settings.verify else None,
                                   bool(settings.verify))
        self._budget: CaptureBudget | None = None
        self._inflate = InflateBudget()  # one for the whole image, as the budget below

    def unmap(self) -> None:
        """Unmap the files (the walk is over; hashing goes on with its own reads)."""
        self._maps.unmap()

    def _wants(self) -> tuple[ContentWants, CaptureBudget]:
        wants = self._settings.wants()
        if self._budget is None:  # one budget for the whole image
            self._budget = CaptureBudget(wants.budget)
        return wants, self._budget

    def _compression(self, blob: LayerBlob, head: Callable[[], bytes]) -> str:
        return sniff_compression(head()) if blob.media_type == SNIFF \
            else compression_of(blob.media_type)

    def start(self, blobs: Sequence[LayerBlob]) -> None:
        """Queue the digest checks of every uncompressed layer in a file, largest first."""
        in_files = [(b.where.size, i) for i, b in enumerate(blobs)
                    if isinstance(b.where, FileRange)]
        for _, i in sorted(in_files, reverse=True):
            blob = blobs[i]
            where = cast(FileRange, blob.where)
            if self._compression(blob, partial(self._head, where)) == "none":
                self.digests.check(where, blob.expected())

    def _head(self, where: FileRange) -> bytes:
        return self._maps.cursor(where).peek(4)

    def read(self, blob: LayerBlob) -> LayerScan:
        """Scan one layer, checking its digests as ``blob`` and the settings say."""
        where = blob.where
        if isinstance(where, FileRange):
            cursor = self._maps.cursor(where)
            compression = self._compression(blob, lambda: cursor.peek(4))
            if compression == "none":
                return self._read_mapped(blob, where, cursor)
            with open_range(where) as raw:
                return self._read_pumped(blob, raw.read, compression)
        if isinstance(where, Opened):
            with where.open() as raw:
                return self._read_stream(blob, raw)
        compression = self._compression(blob, lambda: where.cursor.peek(4))
        if compression != "none":  # the cursor's blocks go to the inflater as they are
            return self._read_pumped(blob, where.cursor.read, compression)
        if not self._settings.verify and blob.media_type == SNIFF:
            return self._read_in_place(blob, where)
        return self._read_stream(blob, cast(IO[bytes], CursorReader(where.cursor)))

    def _read_in_place(self, blob: LayerBlob, where: Passing) -> LayerScan:
        # Nothing to check (the engine made these digests itself): walk the stream in
        # place, no hashing and no copy but the one into the stream's buffer.
        wants, budget = self._wants()
        entries, skipped = scan_layer_tar(where.cursor, blob.index, wants, budget)
        return LayerScan(index=blob.index, digest=blob.diff_id or "",
                         blob_digest=blob.blob_digest or "", media_type=DOCKER_LAYER,
                         blob_size=0, tar_size=0, entries=entries, skipped=skipped)

    def _read_mapped(self, blob: LayerBlob, where: FileRange, cursor: Cursor) -> LayerScan:
        """An uncompressed layer in a file: walk it mapped here, hash it whole over there."""
        # queued already by start, or now: before the walk, so that the two overlap
        job = self.digests.check(where, blob.expected())
        wants, budget = self._wants()
        entries, skipped = scan_layer_tar(cursor, blob.index, wants, budget)
        progress = self._settings.progress
        if not self._settings.verify and progress is not None:
            progress(where.size)  # nothing hashes it: count it as walked
        digest = blob.diff_id or blob.blob_digest or self.digests.result(job)
        media_type = DOCKER_LAYER if blob.media_type == SNIFF else blob.media_type
        return LayerScan(index=blob.index, digest=blob.diff_id or digest,
                         blob_digest=blob.blob_digest or digest, media_type=media_type,
                         blob_size=where.size, tar_size=where.size, entries=entries,
                         skipped=skipped)

    def _read_stream(self, blob: LayerBlob, stream: IO[bytes]) -> LayerScan:
        """A layer as a stream: hashed as it passes, decompressed, walked."""
        buffered = io.BufferedReader(cast(Any, stream), CHUNK)
        if blob.media_type == SNIFF:
            compression = sniff_compression(buffered.peek(4)[:4])
            media_type = DOCKER_LAYER + ("" if compression == "none" else "." + compression)
        else:
            compression, media_type = compression_of(blob.media_type), blob.media_type
        if compression != "none":
            return self._read_pumped(blob, buffered.read, compression, media_type)
        wants, budget = self._wants()
        # Reading and hashing run in a second thread (they release the GIL), parsing
        # headers in this one: two cores, and the scan runs at hashing speed.
        outer = HashingReader(cast(IO[bytes], buffered), self._settings.progress)
        pump = PrefetchReader(chunks_of(cast(IO[bytes], outer)))
        try:
            entries, skipped = scan_layer_tar(StreamCursor(pump), blob.index, wants, budget)
            # Read to the end, past the tar's end-of-archive blocks: the digests cover it.
            pump.drain()
        finally:
            pump.close()
        outer.drain()
        verify = self._settings.verify
        if blob.blob_digest and verify:
            check_digest(blob.blob_digest, outer, blob.label())
        if verify and blob.diff_id:
            check_digest(blob.diff_id, outer, blob.label(uncompressed=True))
        return LayerScan(index=blob.index, digest=blob.diff_id or outer.digest(),
                         blob_digest=blob.blob_digest or outer.digest(), media_type=media_type,
                         blob_size=outer.count, tar_size=outer.count, entries=entries,
                         skipped=skipped)

    def _read_pumped(self, blob: LayerBlob, read: Callable[[int], bytes], compression: str,
                     media_type: str | None = None) -> LayerScan:
        """A compressed layer: read, hashed and inflated by the pump's threads (see
        ``prefetch.LayerPump``), parsed here as the chunks arrive."""
        verify = self._settings.verify
        # The blob is hashed unless its digest is known and not to be checked (inflating
        # costs several times the hashing, which runs beside it); the tar when verifying.
        stored = Tally(not blob.blob_digest or verify is not False, self._settings.progress)
        tar = Tally(bool(verify))
        pump = LayerPump(read, compression, stored, tar, self._inflate)  # inflating while
        # the wants load; the image's inflate budget counts every layer
        try:
            wants, budget = self._wants()
            cursor = StreamCursor(None, next_chunk=pump.next_chunk)
            entries, skipped = scan_layer_tar(cursor, blob.index, wants, budget)
            pump.drain()  # past the tar's end-of-archive blocks: the digests cover it
        finally:
            pump.close()
        if blob.blob_digest and verify is not False:
            require_sha256(blob.blob_digest, blob.label())
            compare_digest(blob.blob_digest, stored.digest(), blob.label())
        if verify and blob.diff_id:
            require_sha256(blob.diff_id, blob.label(uncompressed=True))
            compare_digest(blob.diff_id, tar.digest(), blob.label(uncompressed=True))
        if media_type is None:
            media_type = (DOCKER_LAYER + "." + compression if blob.media_type == SNIFF
                          else blob.media_type)
        return LayerScan(index=blob.index, digest=blob.diff_id or tar.digest(),
                         blob_digest=blob.blob_digest or stored.digest(), media_type=media_type,
                         blob_size=stored.count, tar_size=tar.count, entries=entries,
                         skipped=skipped)


@contextmanager
def reading_layers(settings: ReadSettings) -> Iterator[LayerReader]:
    """A reader for one image's layers. When the read fails, the digest checks still
    finish first: a layer that does not match its digest explains a parse error better
    than the parse error does. When it succeeds, the files are unmapped; the caller
    waits for the checks (``reader.digests.wait``) before it reports anything."""
    reader = LayerReader(settings)
    try:
        yield reader
    except AuditorError:
        reader.unmap()
        try:
            reader.digests.wait()
        except DigestMismatch as mismatch:
            raise mismatch from None
        raise
    except BaseException:
        reader.digests.close()
        reader.unmap()
        raise
    reader.unmap()

"""What a source tells the reader about one layer: a ``LayerBlob``.

A source (``auditor.sources``) knows where a layer's bytes are and what its manifest and
config say about them; it builds one ``LayerBlob`` per layer and hands it to
:class:`auditor.read.layer_read.LayerReader`, which decides how to read it. Where the
bytes are is one of three things:

- ``FileRange``: in a file on this machine (an OCI directory's blob, a member of an
  uncompressed archive); an uncompressed one is walked through a memory map while other
  threads hash it, a compressed one is read as a stream.
- ``Opened``: a stream opened when the reader comes to the layer and closed after it (a
  member of a compressed archive, a registry's HTTP response); hashed as it streams by.
- ``Passing``: bytes passing by now inside an outer stream (a layer in a ``docker save``
  stream), read in place before the outer stream moves on.

A new source picks one of these; a new place for bytes that none of them fits is a new
kind here and a new branch in ``LayerReader.read``, nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from auditor.read.cursor import Cursor
from auditor.read.ranges import FileRange

# The media type of a layer whose compression is found from its first bytes (docker save
# archives name no media types).
SNIFF = "sniff"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"


@dataclass(frozen=True, slots=True)
class Opened:
    """A stream opened (``open()``) when the reader comes to the layer, closed after it."""

    open: Callable[[], IO[bytes]]


@dataclass(frozen=True, slots=True)
class Passing:
    """Bytes passing by now in an outer stream, read in place (``cursor``)."""

    cursor: Cursor


@dataclass(frozen=True, slots=True)
class LayerBlob:
    """One layer as its source describes it.

    ``blob_digest`` is checked on the stored bytes (compressed or not), ``diff_id`` on
    the uncompressed tar; either may be unknown (None). ``what`` names the layer's
    container in errors (a path, a reference).
    """

    index: int
    where: FileRange | Opened | Passing
    what: str
    media_type: str = SNIFF
    blob_digest: str | None = None
    diff_id: str | None = None

    def label(self, uncompressed: bool = False) -> str:
        """How errors name this layer."""
        return f"{self.what} (layer {self.index}{', uncompressed' if uncompressed else ''})"

    def expected(self) -> list[tuple[str, str]]:
        """(digest, its name in an error) for an uncompressed blob, whose two digests are
        of the same bytes."""
        return [(d, self.label(uncompressed)) for d, uncompressed
                in ((self.blob_digest, False), (self.diff_id, True)) if d]

"""Decompression: which compression a layer has (from its media type or its first bytes)
and a stream of its uncompressed bytes.

A new compression (lz4, zstd:chunked's seekable frames, ...) goes here: a name in
``compression_of`` and ``sniff_compression``, a reader in ``decompressed``. Nothing here
hashes or knows where the bytes come from.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import zlib
from typing import IO, Any, cast

from auditor.errors import FormatError, UnsupportedMediaType
from auditor.read.limits import MAX_INFLATE_BYTES, env_limit, unbounded

BUFFER = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
BZ2_MAGIC = b"BZh"
XZ_MAGIC = b"\xfd7zXZ\x00"


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
    """A layer's compression from its first bytes: 'gzip', 'zstd' or 'none'."""
    if prefix.startswith(GZIP_MAGIC):
        return "gzip"
    if prefix.startswith(ZSTD_MAGIC):
        return "zstd"
    return "none"


def sniff_archive_compression(prefix: bytes) -> str:
    """An image archive's compression from its first bytes: what a layer may have, and
    bzip2 and xz too (a ``.tar.bz2`` or ``.tar.xz`` of an OCI layout)."""
    if prefix.startswith(BZ2_MAGIC):
        return "bz2"
    if prefix.startswith(XZ_MAGIC):
        return "xz"
    return sniff_compression(prefix)


class _ZstdReader(io.RawIOBase):
    def __init__(self, raw: IO[bytes], guard: _Guard | None = None) -> None:
        self._guard = guard
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
        if self._guard is not None:
            self._guard.passed(len(data))
        return len(data)


def _gzip_opener() -> tuple[Any, tuple[type[BaseException], ...]]:
    """ISA-L's GzipFile where its wheel exists: it inflates about 2.5 times as fast as zlib
    (the same bytes, CRC checked), and inflating is the whole cost of reading gzip layers
    (registries, the containerd store's save); else the standard library's."""
    try:
        from isal import igzip, isal_zlib
    except ImportError:  # pragma: no cover - a declared dependency, with wheels for x86/arm
        return gzip.GzipFile, ()
    return igzip.GzipFile, (cast(type[BaseException], isal_zlib.error),)


_GZIP_FILE, _GZIP_ERRORS = _gzip_opener()
_CORRUPT: tuple[type[BaseException], ...] = (OSError, EOFError, zlib.error, lzma.LZMAError,
                                             *_GZIP_ERRORS)


class _StdlibReader(io.RawIOBase):
    """A standard library decompressor whose errors become FormatError."""

    def __init__(self, stream: IO[bytes], name: str, guard: _Guard | None = None) -> None:
        self._stream = stream
        self._name = name
        self._guard = guard

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        try:
            data = self._stream.read(len(b))
        except _CORRUPT as exc:
            raise FormatError(f"corrupt {self._name} stream: {exc}") from None
        b[: len(data)] = data
        if self._guard is not None:
            self._guard.passed(len(data))
        return len(data)


# A decompression bomb (64 GiB of zeros in 2 MB of zstd, 8 GiB in 8 MB of gzip) is stopped
# as it inflates: past FLOOR bytes out, the output may be at most MAX_RATIO times the
# compressed input read so far (docs/guide.md, "Limits"). Real layers inflate 2 to 10
# times; a layer of mostly zeros (an unsparse lastlog) may need a higher ratio, which
# AUDITOR_MAX_INFLATE_RATIO sets (0: no limit).
FLOOR = 256 << 20
MAX_RATIO = 200


def _max_ratio() -> int:
    return env_limit(("AUDITOR_MAX_INFLATE_RATIO", MAX_RATIO))


def _size(n: int) -> str:
    return f"{n >> 20} MiB" if n >= 1 << 20 else f"{n} bytes"


class InflateBudget:
    """What one image's compressed layers inflate to, all together: bounded by the ratio
    (past FLOOR, as for one stream: many layers each just under the floor are one bomb)
    and by an absolute ceiling, AUDITOR_MAX_INFLATE_BYTES. One per image; every stream
    of its layers counts into it."""

    def __init__(self) -> None:
        self.ceiling = unbounded(env_limit(MAX_INFLATE_BYTES))
        self.ratio = _max_ratio()
        self.read = 0  # compressed bytes read, all layers
        self.out = 0  # bytes they inflated to

    def check(self, name: str) -> None:
        if self.out > self.ceiling:
            raise FormatError(
                f"the image's layers inflate past {_size(self.ceiling)} in all: refused "
                f"as a decompression bomb ({MAX_INFLATE_BYTES[0]} raises the limit)")
        if self.ratio and self.out > FLOOR and self.out > self.ratio * self.read:
            raise FormatError(
                f"the image's {name} layers inflate more than {self.ratio} times in all "
                f"({self.out >> 20} MiB from {self.read >> 10} KiB): refused as a "
                "decompression bomb (AUDITOR_MAX_INFLATE_RATIO raises the limit)")


class _CountingReader(io.RawIOBase):
    """The compressed input, counted as the decompressor reads it."""

    def __init__(self, raw: IO[bytes], image: InflateBudget | None = None) -> None:
        self._raw = raw
        self._image = image
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        n = int(self._raw.readinto(b) or 0)  # type: ignore[attr-defined]
        self.count += n
        if self._image is not None:
            self._image.read += n
        return n


def _check_ratio(name: str, out: int, stored: int, ratio: int) -> None:
    if out > FLOOR and ratio and out > ratio * stored:
        raise FormatError(
            f"a {name} stream inflates more than {ratio} times ({out >> 20} MiB from "
            f"{stored >> 10} KiB): refused as a decompression bomb "
            "(AUDITOR_MAX_INFLATE_RATIO raises the limit)")


class _Guard:
    """Refuses a stream the moment it outgrows its input (see MAX_RATIO). The readers
    above call it with what each read gave: the check adds no layer to the inflate path,
    where every Python call between the decompressor and the parser costs a GIL hand-off."""

    def __init__(self, counted: _CountingReader, name: str, ratio: int,
                 image: InflateBudget | None) -> None:
        self._counted = counted
        self._name = name
        self._ratio = ratio
        self._image = image
        self._out = 0

    def passed(self, n: int) -> None:
        self._out += n
        _check_ratio(self._name, self._out, self._counted.count, self._ratio)
        image = self._image
        if image is not None:
            image.out += n
            image.check(self._name)


def decompressed(raw: IO[bytes], compression: str,
                 image: InflateBudget | None = None) -> IO[bytes]:
    """The uncompressed bytes of ``raw``, a stream in ``compression``, bomb-guarded on
    its own and, given the image's ``InflateBudget``, together with its other layers."""
    if compression == "none":
        return raw
    ratio = _max_ratio()
    if ratio == 0 and image is None:
        return _decompressed(raw, compression)
    counted = _CountingReader(raw, image)
    name = {"bz2": "bzip2"}.get(compression, compression)
    return _decompressed(cast(IO[bytes], io.BufferedReader(counted, BUFFER)), compression,
                         _Guard(counted, name, ratio, image))


def _decompressed(raw: IO[bytes], compression: str, guard: _Guard | None = None
                  ) -> IO[bytes]:
    if compression == "gzip":
        gz = cast(IO[bytes], _GZIP_FILE(fileobj=raw, mode="rb"))
        return io.BufferedReader(_StdlibReader(gz, "gzip", guard), BUFFER)
    if compression == "zstd":
        return io.BufferedReader(_ZstdReader(raw, guard), BUFFER)
    if compression == "bz2":
        bz = cast(IO[bytes], bz2.BZ2File(raw))
        return io.BufferedReader(_StdlibReader(bz, "bzip2", guard), BUFFER)
    if compression == "xz":
        xz = cast(IO[bytes], lzma.LZMAFile(raw))  # noqa: SIM115 - read to the end by the layer
        return io.BufferedReader(_StdlibReader(xz, "xz", guard), BUFFER)
    raise UnsupportedMediaType(f"unsupported compression {compression!r}")


# -- inflating into large buffers: the layer pump's way ------------------------------------

GZIP_INPUT = 4 << 20  # what ISA-L's reader takes from the stream at a time


class _IsalGzipReader(io.RawIOBase):
    """ISA-L's own gzip reader (the C one under ``igzip.GzipFile``), used bare: one
    ``readinto`` fills the whole buffer, releasing the GIL once per 4 MiB of input, with
    no Python call between the decompressor and the caller. Every member is read, zero
    padding between them skipped, each member's CRC and length checked."""

    def __init__(self, raw: IO[bytes], guard: _Guard | None) -> None:
        from isal import isal_zlib

        self._reader = isal_zlib._GzipReader(cast(Any, raw), GZIP_INPUT)
        self._guard = guard

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        try:
            n = int(self._reader.readinto(b))
        except _CORRUPT as exc:
            raise FormatError(f"corrupt gzip stream: {exc}") from None
        if self._guard is not None:
            self._guard.passed(n)
        return n


def _has_isal_reader() -> bool:
    try:
        from isal import isal_zlib
    except ImportError:  # pragma: no cover - a declared dependency
        return False
    return hasattr(isal_zlib, "_GzipReader")


_ISAL_READER = _has_isal_reader()


def inflating(raw: IO[bytes], compression: str, image: InflateBudget | None = None
              ) -> io.RawIOBase:
    """The uncompressed bytes of ``raw`` for a caller that reads them in large buffers
    (``readinto``), bomb-guarded on its own and with the image's other layers: gzip
    straight from ISA-L's reader where it exists (each byte written once, into the
    caller's buffer), the others as ``decompressed`` gives them."""
    ratio = _max_ratio()
    if compression != "gzip" or not _ISAL_READER:
        return cast(io.RawIOBase, decompressed(raw, compression, image))
    if ratio == 0 and image is None:
        return _IsalGzipReader(raw, None)
    counted = _CountingReader(raw, image)
    return _IsalGzipReader(cast(IO[bytes], counted), _Guard(counted, "gzip", ratio, image))

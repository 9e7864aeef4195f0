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

    def __init__(self, stream: IO[bytes], name: str) -> None:
        self._stream = stream
        self._name = name

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        try:
            data = self._stream.read(len(b))
        except _CORRUPT as exc:
            raise FormatError(f"corrupt {self._name} stream: {exc}") from None
        b[: len(data)] = data
        return len(data)


def decompressed(raw: IO[bytes], compression: str) -> IO[bytes]:
    """The uncompressed bytes of ``raw``, a stream in ``compression``."""
    if compression == "none":
        return raw
    if compression == "gzip":
        gz = cast(IO[bytes], _GZIP_FILE(fileobj=raw, mode="rb"))
        return io.BufferedReader(_StdlibReader(gz, "gzip"), BUFFER)
    if compression == "zstd":
        return io.BufferedReader(_ZstdReader(raw), BUFFER)
    if compression == "bz2":
        return io.BufferedReader(_StdlibReader(cast(IO[bytes], bz2.BZ2File(raw)), "bzip2"), BUFFER)
    if compression == "xz":
        return io.BufferedReader(_StdlibReader(cast(IO[bytes], lzma.LZMAFile(raw)), "xz"), BUFFER)
    raise UnsupportedMediaType(f"unsupported compression {compression!r}")

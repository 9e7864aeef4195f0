"""What every source shares: reading one layer blob, and the docker-save manifest."""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any, cast

from auditor.errors import (
    AuditorError,
    DigestMismatch,
    FormatError,
    ImageNotFound,
)
from auditor.model.image import Image, LayerScan
from auditor.read.blobs import (
    CHUNK,
    BlobFiles,
    FileRange,
    HashingReader,
    PrefetchReader,
    Progress,
    RangeReader,
    check_digest,
    chunks_of,
    compression_of,
    decompressed,
    sniff_compression,
)
from auditor.read.layers import CaptureBudget, scan_layer_tar
from auditor.read.tarstream import Cursor, CursorReader, StreamCursor
from auditor.read.wants import ContentWants

MAX_DOCUMENT = 16 * 1024 * 1024  # manifests, indexes and configs are small; refuse giants


@dataclass(frozen=True, slots=True)
class ScanOptions:
    """What the caller asks of a source besides the image itself."""

    # What content to keep; a function that makes it (auditor.audit.scan_wants) is called
    # only once the source has started its I/O, so that importing the detectors and
    # compiling their globs overlaps the engine preparing its stream or the digest checks.
    wants: ContentWants | Callable[[], ContentWants]
    platform: str | None = None  # os/arch[/variant]; None means linux/amd64 or the only one
    progress: Progress | None = None
    # Check layer digests: True always, False never, None as the source decides (see
    # ``verifies``).
    verify: bool | None = None
    # Return before the background digest checks finish; the caller must then call
    # Image.wait_checks() before it reports anything (auditor.audit does).
    defer_checks: bool = False

    _resolved: list[ContentWants] = field(default_factory=list, repr=False, compare=False)

    def content_wants(self) -> ContentWants:
        if not self._resolved:
            self._resolved.append(self.wants() if callable(self.wants) else self.wants)
        return self._resolved[0]

    def verifies(self, by_default: bool | None) -> ScanOptions:
        """These options with ``verify`` decided for a source that checks layer digests
        ``by_default`` or not (None: compressed blobs only, see read_layer)."""
        return dataclasses.replace(self, verify=by_default if self.verify is None
                                   else self.verify)

    def budget(self) -> CaptureBudget:
        return CaptureBudget(self.content_wants().budget)


def parse_json(raw: bytes, what: str) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FormatError(f"{what} is not valid JSON ({exc})") from None


def read_layer(raw: IO[bytes] | Cursor | None, *, index: int, options: ScanOptions,
               budget: CaptureBudget, media_type: str | None, blob_digest: str | None,
               diff_id: str | None, what: str, blob: FileRange | None = None,
               files: BlobFiles | None = None) -> LayerScan:
    """Scan one layer blob in a single pass, checking its digests.

    ``media_type`` None means "find the compression from the magic bytes" (docker save
    archives name no media types). ``blob_digest`` is checked on the stored bytes,
    ``diff_id`` on the uncompressed tar. A blob in a file (``blob``, with the image's
    ``files``) that is not compressed is walked header to header through a memory map
    while ``files`` hashes it in another thread; anything else is read as a stream
    (``raw``, or the file range when ``raw`` is None) and hashed as it passes.
    """
    if blob is not None and files is not None:
        cursor = files.cursor(blob)
        compression = (sniff_compression(cursor.peek(4)) if media_type is None
                       else compression_of(media_type))
        if compression == "none":
            return _read_mapped_layer(cursor, files, blob, index=index, options=options,
                                      budget=budget, media_type=media_type,
                                      blob_digest=blob_digest, diff_id=diff_id, what=what)
        if raw is None:
            raw = io.BufferedReader(RangeReader(blob.path, blob.offset, blob.size), CHUNK)
    if raw is None:
        raise FormatError(f"{what}: layer {index} has no content")
    if (not options.verify and media_type is None and isinstance(raw, Cursor)
            and sniff_compression(raw.peek(4)) == "none"):
        # Nothing to check (the engine made these digests itself): walk the stream in
        # place, no hashing and no copy but the one into the stream's buffer.
        entries, skipped = scan_layer_tar(raw, index, options.content_wants(), budget)
        return LayerScan(index=index, digest=diff_id or "", blob_digest=blob_digest or "",
                         media_type=_DOCKER_LAYER, blob_size=0, tar_size=0,
                         entries=entries, skipped=skipped)
    stream = cast(IO[bytes], CursorReader(raw)) if isinstance(raw, Cursor) else raw
    outer = HashingReader(stream, options.progress)
    buffered = io.BufferedReader(outer, CHUNK)
    if media_type is None:
        compression = sniff_compression(buffered.peek(4)[:4])
        media_type = _DOCKER_LAYER + ("" if compression == "none" else "." + compression)
    else:
        compression = compression_of(media_type)
    # A compressed blob (the containerd store's save) is hashed as it passes to be inflated
    # and checked against its digest unless told not to (--no-verify): inflating costs
    # several times the hashing. Its tar is hashed only to be checked (--verify).
    check_blob = bool(options.verify) or (options.verify is None and compression != "none")
    inner: HashingReader | None = None
    source: IO[bytes] = buffered
    if compression != "none":
        inner = HashingReader(decompressed(buffered, compression), hashing=bool(options.verify))
        source = io.BufferedReader(inner, CHUNK)
    # Reading, hashing and decompressing run in a second thread (they release the GIL),
    # parsing headers in this one: two cores, and the scan runs at hashing speed.
    pump = PrefetchReader(chunks_of(source))
    try:
        entries, skipped = scan_layer_tar(StreamCursor(pump), index, options.content_wants(),
                                          budget)
        # Read to the end, past the tar's end-of-archive blocks: the digests cover it all.
        pump.drain()
    finally:
        pump.close()
    outer.drain()
    uncompressed = inner if inner is not None else outer
    if check_blob and blob_digest:
        check_digest(blob_digest, outer, f"{what} (layer {index})")
    if options.verify and diff_id:
        check_digest(diff_id, uncompressed, f"{what} (layer {index}, uncompressed)")
    return LayerScan(index=index, digest=diff_id or uncompressed.digest(),
                     blob_digest=blob_digest or outer.digest(), media_type=media_type,
                     blob_size=outer.count, tar_size=uncompressed.count, entries=entries,
                     skipped=skipped)


_DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"


def _expected(index: int, blob_digest: str | None, diff_id: str | None, what: str
              ) -> list[tuple[str, str]]:
    # an uncompressed blob is its own tar: both digests are of the same bytes
    return [(d, f"{what} (layer {index}{label})")
            for d, label in ((blob_digest, ""), (diff_id, ", uncompressed")) if d]


# (index, blob in a file or None, media type, blob digest, diff_id, what), as read_layer
LayerPlan = tuple[int, "FileRange | None", "str | None", "str | None", "str | None", str]


def start_checks(files: BlobFiles, layers: Sequence[LayerPlan]) -> None:
    """Queue the digest checks of every uncompressed layer that lies in a file, largest
    first, before any layer is walked: hashing is the long pole of a file scan, so it
    starts at once and the longest hash first. ``layers`` holds (index, blob, media type,
    blob digest, diff_id, what) as :func:`read_layer` takes them."""
    in_files = [(blob.size, i) for i, (_, blob, *_rest) in enumerate(layers) if blob]
    for _, i in sorted(in_files, reverse=True):
        index, blob, media_type, blob_digest, diff_id, what = layers[i]
        assert blob is not None
        compression = (sniff_compression(files.cursor(blob).peek(4)) if media_type is None
                       else compression_of(media_type))
        if compression == "none":
            files.check(blob, _expected(index, blob_digest, diff_id, what))


def _read_mapped_layer(cursor: Cursor, files: BlobFiles, blob: FileRange, *, index: int,
                       options: ScanOptions, budget: CaptureBudget, media_type: str | None,
                       blob_digest: str | None, diff_id: str | None, what: str) -> LayerScan:
    """An uncompressed layer in a file: walk it mapped here, hash it whole over there."""
    # queued already by start_checks, or now: before the walk, so that the two overlap
    job = files.check(blob, _expected(index, blob_digest, diff_id, what))
    entries, skipped = scan_layer_tar(cursor, index, options.content_wants(), budget)
    if not options.verify and options.progress is not None:
        options.progress(blob.size)  # nothing hashes it: count it as walked
    digest = diff_id or blob_digest or files.result(job)
    return LayerScan(index=index, digest=diff_id or digest, blob_digest=blob_digest or digest,
                     media_type=media_type or _DOCKER_LAYER, blob_size=blob.size,
                     tar_size=blob.size, entries=entries, skipped=skipped)


@contextmanager
def blob_files(options: ScanOptions) -> Iterator[BlobFiles]:
    """The files of one image read. When the read fails, the digest checks still finish
    first: a layer that does not match its digest explains a parse error better than
    the parse error does. When it succeeds, the checks are waited for at the end unless
    the caller deferred them (``ScanOptions.defer_checks``), and then collects them with
    :meth:`auditor.model.image.Image.wait_checks` before it reports anything."""
    files = BlobFiles(options.progress if options.verify else None, bool(options.verify))
    try:
        yield files
    except AuditorError:
        files.unmap()
        try:
            files.wait()
        except DigestMismatch as mismatch:
            raise mismatch from None
        raise
    except BaseException:
        files.close()
        raise
    files.unmap()


def finish_checks(image: Image, files: BlobFiles, options: ScanOptions) -> Image:
    """The image with its pending digest checks attached, or checked now."""
    if options.defer_checks:
        return dataclasses.replace(image, pending=files.wait)
    files.wait()
    return image


@dataclass(frozen=True, slots=True)
class SaveManifest:
    """One image of a ``docker save`` archive's manifest.json."""

    config: str
    layers: tuple[str, ...]
    repo_tags: tuple[str, ...]


def parse_save_manifest(raw: bytes) -> list[SaveManifest]:
    doc = parse_json(raw, "manifest.json")
    if not isinstance(doc, list):
        raise FormatError("manifest.json is not a list of images")
    out = []
    for item in doc:
        if not isinstance(item, dict) or not isinstance(item.get("Config"), str) or not (
                isinstance(item.get("Layers"), list)
                and all(isinstance(x, str) for x in item["Layers"])):
            raise FormatError("manifest.json: an entry lacks Config or Layers")
        tags = item.get("RepoTags") or []
        out.append(SaveManifest(item["Config"], tuple(item["Layers"]),
                                tuple(t for t in tags if isinstance(t, str))))
    if not out:
        raise FormatError("manifest.json names no image")
    return out


def _tag_matches(wanted: str, tag: str) -> bool:
    if wanted == tag:
        return True
    # docker writes "name:tag"; accept "name" for "name:latest" and docker.io's short names
    norm = wanted if ":" in wanted.rsplit("/", 1)[-1] else wanted + ":latest"
    for prefix in ("docker.io/library/", "docker.io/"):
        if norm.startswith(prefix):
            norm = norm[len(prefix):]
    return norm == tag


def choose_saved_image(manifests: list[SaveManifest], wanted: str | None,
                       where: str) -> SaveManifest:
    if wanted:
        for m in manifests:
            if any(_tag_matches(wanted, t) for t in m.repo_tags) or m.config.endswith(
                    wanted.removeprefix("sha256:")):
                return m
        raise ImageNotFound(f"{where} has no image tagged {wanted!r}")
    if len(manifests) == 1:
        return manifests[0]
    tags = ", ".join(t for m in manifests for t in m.repo_tags) or "untagged images"
    raise ImageNotFound(f"{where} holds {len(manifests)} images ({tags}): "
                        f"name one as {where}:TAG")


def blob_digest_from_name(name: str) -> str | None:
    """``blobs/sha256/<hex>`` names its own digest (OCI-in-tar docker save)."""
    parts = name.strip("./").split("/")
    if len(parts) == 3 and parts[0] == "blobs" and len(parts[2]) == 64:
        return f"{parts[1]}:{parts[2]}"
    return None


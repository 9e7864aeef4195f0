"""``docker save`` archives: the legacy layout and the OCI layout Docker 25+ writes.

A file on disk is read with random access (the outer tar's headers first, then only the
chosen image's layers). A stream (the engine's ``save``, or standard input) is parsed as
it arrives: layers come before manifest.json there, so each tar-looking member is scanned
when it passes and the manifest puts them in order at the end.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import posixpath
from collections.abc import Sequence
from functools import partial
from typing import IO

from auditor.errors import DigestMismatch, FormatError, SourceError
from auditor.model.image import Image, ImageConfig, LayerScan, Skipped
from auditor.read.cursor import Cursor
from auditor.read.decompress import sniff_compression
from auditor.read.layer_blob import LayerBlob, Opened, Passing
from auditor.read.outer_tar import OuterTar, link_target, member_name
from auditor.read.ranges import FileRange, read_limited
from auditor.read.tarstream import TarStream
from auditor.sources.common import (
    MAX_DOCUMENT,
    SaveManifest,
    ScanOptions,
    blob_digest_from_name,
    choose_saved_image,
    digest_named_by,
    finish_checks,
    layer_reader,
    parse_save_manifest,
)

_ZERO_BLOCK = bytes(512)
# Uncompressed layer digests of a docker save archive are checked only when asked
# (--verify): hashing every byte costs more than the rest of the scan, and the archive
# carries no signature, so the check finds corruption, never tampering (whoever can change
# a layer can change the config's diff_ids too). A compressed blob (the containerd store's
# save) is checked against its name unless --no-verify: it is hashed as it passes to be
# inflated, which costs several times more (read.layer_read.ReadSettings). Its structure is always
# checked (tar header checksums, truncation, limits), and so is the config's digest.
VERIFY_BY_DEFAULT = None


def _check_config_digest(name: str, raw: bytes) -> str:
    """The config's digest; checked against its name when the name is a digest."""
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    named = blob_digest_from_name(name)
    if named is None:
        stem = posixpath.basename(name).removesuffix(".json")
        named = "sha256:" + stem if len(stem) == 64 else None
    if named is not None and named != digest:
        raise DigestMismatch(f"image config {name}: content digest {digest} does not match")
    return digest


def _config_layers(manifest: SaveManifest, config: ImageConfig, where: str) -> tuple[str, ...]:
    if config.diff_ids and len(config.diff_ids) != len(manifest.layers):
        raise FormatError(f"{where}: manifest lists {len(manifest.layers)} layers but the "
                          f"config has {len(config.diff_ids)} diff_ids")
    return config.diff_ids


def open_docker_archive_file(path: str, wanted: str | None, options: ScanOptions,
                             reference: str) -> Image:
    options = options.verifies(VERIFY_BY_DEFAULT)
    tar = OuterTar(path)

    def read_member(name: str, what: str) -> bytes:
        fobj = tar.open(name)
        if fobj is None:
            raise FormatError(f"{path}: {what} {name!r} is missing from the archive")
        with fobj:
            return read_limited(fobj, MAX_DOCUMENT, f"{path}: {what}")

    if "manifest.json" not in tar:
        raise FormatError(f"{path} has no manifest.json: not a docker save archive")
    manifest = choose_saved_image(
        parse_save_manifest(read_member("manifest.json", "manifest")), wanted, path)
    config_raw = read_member(manifest.config, "image config")
    image_id = _check_config_digest(manifest.config, config_raw)
    config = ImageConfig.from_json(config_raw)
    diff_ids = _config_layers(manifest, config, path)
    blobs = [LayerBlob(index, _where(tar, name), f"{path}: {name}",
                       blob_digest=blob_digest_from_name(name),
                       diff_id=diff_ids[index] if diff_ids else None)
             for index, name in enumerate(manifest.layers)]
    with layer_reader(options) as reader:
        reader.start(blobs)
        image = Image(
            reference=reference or (manifest.repo_tags[0] if manifest.repo_tags else path),
            id=image_id, source="docker-archive", config=config,
            layers=tuple(reader.read(blob) for blob in blobs))
    return finish_checks(image, reader, options)


def _where(tar: OuterTar, name: str) -> FileRange | Opened:
    """Where a layer member's bytes are: a range of the file, or a stream of a compressed
    archive."""
    if tar.find(name) is None:
        raise FormatError(f"{tar.path}: layer {name!r} is missing from the archive")
    blob = tar.range(name)
    return blob if blob is not None else Opened(partial(_open_member, tar, name))


def _open_member(tar: OuterTar, name: str) -> IO[bytes]:
    fobj = tar.open(name)
    if fobj is None:
        raise FormatError(f"{tar.path}: {name!r} cannot be read from the archive")
    return fobj


def _looks_like_tar(head: bytes) -> bool:
    return len(head) >= 512 and (head[257:262] == b"ustar" or head[:512] == _ZERO_BLOCK)


def _is_layer(name: str, size: int, head: bytes) -> bool:
    """Whether a stream member is a layer: ``layer.tar`` (legacy), or a blob that is a tar
    (OCI-in-tar, Docker 25+) or gzip or zstd (the containerd image store keeps layers as
    pulled or built, compressed; its small JSON blobs are documents)."""
    if name.endswith("layer.tar"):
        return True
    if name.endswith(".json"):
        return False
    if sniff_compression(head[:4]) != "none":
        return size >= 18  # the smallest gzip stream
    return size >= 1024 and _looks_like_tar(head)


@dataclasses.dataclass
class _StreamParts:
    """What one pass over a save stream collected, by normalised member name."""

    docs: dict[str, bytes] = dataclasses.field(default_factory=dict)
    scans: dict[str, LayerScan] = dataclasses.field(default_factory=dict)
    links: dict[str, str] = dataclasses.field(default_factory=dict)
    # Members that looked like layers but did not read as one: an error only if the
    # manifest names them (an unknown blob in the OCI layout is none of our business).
    broken: dict[str, FormatError] = dataclasses.field(default_factory=dict)
    skipped: list[Skipped] = dataclasses.field(default_factory=list)

    def follow(self, name: str) -> str:
        seen = 0
        while name in self.links and seen < 8:
            name, seen = self.links[name], seen + 1
        return name


def _collect(stream: IO[bytes] | Cursor, options: ScanOptions, reference: str,
             layer_order: Sequence[str]) -> _StreamParts:
    layer_options = dataclasses.replace(options, progress=None)  # the caller counts bytes
    parts = _StreamParts()
    # Where each layer the engine named is expected in the image (a diff_id can fill two
    # places: two layers that wrote the same bytes), for options.on_layer.
    places: dict[str, list[int]] = {}
    for index, diff_id in enumerate(layer_order if options.on_layer is not None else ()):
        places.setdefault(diff_id, []).append(index)
    outer = TarStream(stream)
    with layer_reader(layer_options) as reader:
        for member in outer:
            name = member_name(member.name)
            if member.type in (b"1", b"2"):  # docker 25+ links layer.tar into blobs/
                parts.links[name] = link_target(name, member.type, member.linkname)
                continue
            if member.type not in (b"0", b"\0"):
                continue
            content = outer.member()
            if _is_layer(name, member.size, content.peek(512)):
                try:
                    scan = parts.scans[name] = reader.read(LayerBlob(
                        len(parts.scans), Passing(content), f"{reference}: {name}",
                        blob_digest=blob_digest_from_name(name)))
                except FormatError as exc:
                    if name.endswith("layer.tar") or isinstance(exc, DigestMismatch):
                        raise
                    parts.broken[name] = exc
                    continue
                for index in places.get(digest_named_by(name) or "", ()):
                    assert options.on_layer is not None
                    options.on_layer(index, scan)
            elif member.size <= MAX_DOCUMENT:
                parts.docs[name] = outer.read(member.size)
            else:
                parts.skipped.append(Skipped(f"{reference}: {name}", "large member not read"))
    return parts


def read_docker_save_stream(stream: IO[bytes] | Cursor, wanted: str | None,
                            options: ScanOptions, reference: str, source: str,
                            expected_id: str | None = None,
                            layer_order: Sequence[str] = ()) -> Image:
    """Parse a ``docker save`` tar stream in one forward pass.

    ``expected_id`` is the engine's Id of the image asked for: its config's digest (the
    classic store) or the digest of the index or manifest the containerd store names it by
    (then the image carries that Id); anything else is an error. ``layer_order`` is the
    diff_ids the engine says the image has: each layer whose member is named by one of
    them goes to ``options.on_layer`` as soon as it is read."""
    options = options.verifies(VERIFY_BY_DEFAULT)
    parts = _collect(stream, options, reference, layer_order)
    docs = parts.docs
    if "manifest.json" not in docs:
        raise FormatError(f"{reference}: the saved image has no manifest.json")
    manifest = choose_saved_image(parse_save_manifest(docs["manifest.json"]), wanted, reference)
    config_name = parts.follow(member_name(manifest.config))
    if config_name not in docs:
        raise FormatError(f"{reference}: image config {manifest.config!r} is missing")
    image_id = _check_config_digest(config_name, docs[config_name])
    if expected_id and expected_id != image_id:
        image_id = _check_named_by(docs, image_id, expected_id, reference)
    config = ImageConfig.from_json(docs[config_name])
    diff_ids = _config_layers(manifest, config, reference)
    ordered = []
    for index, name in enumerate(manifest.layers):
        member = parts.follow(member_name(name))
        scan = parts.scans.get(member)
        if scan is None:
            if member in parts.broken:
                raise parts.broken[member]
            raise FormatError(f"{reference}: layer {name!r} is missing from the saved image")
        if options.verify and diff_ids and scan.digest != diff_ids[index]:
            raise DigestMismatch(f"{reference}: layer {index} content digest {scan.digest} "
                                 f"does not match {diff_ids[index]}")
        ordered.append(dataclasses.replace(scan, index=index, digest=diff_ids[index]
                                           if diff_ids else scan.digest))
    return Image(reference=reference, id=image_id, source=source, config=config,
                 layers=tuple(ordered), skipped=tuple(parts.skipped))


def _check_named_by(docs: dict[str, bytes], config_id: str, expected_id: str,
                    reference: str) -> str:
    """``expected_id`` when it is the digest of an index or manifest in the save that
    leads to the config ``config_id`` (the containerd store's image Id), else an error."""
    blob = docs.get("blobs/" + expected_id.replace(":", "/", 1))
    if blob is not None and _leads_to(docs, blob, config_id, depth=0):
        if "sha256:" + hashlib.sha256(blob).hexdigest() != expected_id:
            raise DigestMismatch(f"{reference}: index {expected_id} does not match its "
                                 "content digest")
        return expected_id
    raise SourceError(f"the engine saved image {config_id}, which the inspected "
                      f"{expected_id} does not name")


def _leads_to(docs: dict[str, bytes], raw: bytes, config_id: str, depth: int) -> bool:
    """Whether the index or manifest ``raw`` names the config ``config_id``, directly or
    through nested indexes (a few levels at most: the input is hostile)."""
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return False
    if not isinstance(doc, dict) or depth > 4:
        return False
    config = doc.get("config")
    if isinstance(config, dict) and config.get("digest") == config_id:
        return True
    manifests = doc.get("manifests")
    for entry in manifests if isinstance(manifests, list) else ():
        digest = entry.get("digest") if isinstance(entry, dict) else None
        child = docs.get("blobs/" + digest.replace(":", "/", 1)) if isinstance(
            digest, str) else None
        if child is not None and _leads_to(docs, child, config_id, depth + 1):
            return True
    return False

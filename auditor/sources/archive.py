"""``docker save`` archives: the legacy layout and the OCI layout Docker 25+ writes.

A file on disk is read with random access (the outer tar's headers first, then only the
chosen image's layers). A stream (the engine's ``save``, or standard input) is parsed as
it arrives: layers come before manifest.json there, so each tar-looking member is scanned
when it passes and the manifest puts them in order at the end.
"""

from __future__ import annotations

import dataclasses
import hashlib
import posixpath
from functools import partial
from typing import IO

from auditor.errors import DigestMismatch, FormatError
from auditor.model.image import Image, ImageConfig, LayerScan, Skipped
from auditor.read.layer_blob import LayerBlob, Opened, Passing
from auditor.read.outer_tar import OuterTar, link_target, member_name
from auditor.read.ranges import FileRange, read_limited
from auditor.read.tarstream import Cursor, TarStream
from auditor.sources.common import (
    MAX_DOCUMENT,
    SaveManifest,
    ScanOptions,
    blob_digest_from_name,
    choose_saved_image,
    finish_checks,
    layer_reader,
    parse_save_manifest,
)

_ZERO_BLOCK = bytes(512)
# Layer digests of a docker save archive are checked only when asked (--verify): hashing
# every byte costs more than the rest of the scan, and the archive carries no signature,
# so the check finds corruption, never tampering (whoever can change a layer can change
# the config's diff_ids too). Its structure is always checked (tar header checksums,
# truncation, limits), and so is the config's digest, the image id.
VERIFY_BY_DEFAULT = False


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


def read_docker_save_stream(stream: IO[bytes] | Cursor, wanted: str | None,
                            options: ScanOptions, reference: str, source: str) -> Image:
    """Parse a ``docker save`` tar stream in one forward pass."""
    options = options.verifies(VERIFY_BY_DEFAULT)
    layer_options = dataclasses.replace(options, progress=None)  # the caller counts bytes
    docs: dict[str, bytes] = {}
    scans: dict[str, LayerScan] = {}
    links: dict[str, str] = {}
    skipped: list[Skipped] = []
    outer = TarStream(stream)
    with layer_reader(layer_options) as reader:
        for member in outer:
            name = member_name(member.name)
            if member.type in (b"1", b"2"):  # docker 25+ links layer.tar into blobs/
                links[name] = link_target(name, member.type, member.linkname)
                continue
            if member.type not in (b"0", b"\0"):
                continue
            content = outer.member()
            head = content.peek(512)
            if name.endswith("layer.tar") or (member.size >= 1024 and not name.endswith(
                    ".json") and _looks_like_tar(head)):
                scans[name] = reader.read(LayerBlob(
                    len(scans), Passing(content), f"{reference}: {name}",
                    blob_digest=blob_digest_from_name(name)))
            elif member.size <= MAX_DOCUMENT:
                docs[name] = outer.read(member.size)
            else:
                skipped.append(Skipped(f"{reference}: {name}", "large member not read"))

    def follow(name: str) -> str:
        seen = 0
        while name in links and seen < 8:
            name, seen = links[name], seen + 1
        return name

    if "manifest.json" not in docs:
        raise FormatError(f"{reference}: the saved image has no manifest.json")
    manifest = choose_saved_image(parse_save_manifest(docs["manifest.json"]), wanted, reference)
    config_name = follow(member_name(manifest.config))
    if config_name not in docs:
        raise FormatError(f"{reference}: image config {manifest.config!r} is missing")
    image_id = _check_config_digest(config_name, docs[config_name])
    config = ImageConfig.from_json(docs[config_name])
    diff_ids = _config_layers(manifest, config, reference)
    ordered = []
    for index, name in enumerate(manifest.layers):
        scan = scans.get(follow(member_name(name)))
        if scan is None:
            raise FormatError(f"{reference}: layer {name!r} is missing from the saved image")
        if options.verify and diff_ids and scan.digest != diff_ids[index]:
            raise DigestMismatch(f"{reference}: layer {index} content digest {scan.digest} "
                                 f"does not match {diff_ids[index]}")
        ordered.append(dataclasses.replace(scan, index=index, digest=diff_ids[index]
                                           if diff_ids else scan.digest))
    return Image(reference=reference, id=image_id, source=source, config=config,
                 layers=tuple(ordered), skipped=tuple(skipped))

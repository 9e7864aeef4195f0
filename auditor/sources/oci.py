"""OCI image layouts: a directory (``oci-dir:``) or a tar of one (``oci-archive:``).

The index may nest indexes and may list several platforms; ``--platform`` picks one
(default linux/amd64, or the only one present). Every blob is checked against its digest
as it is read; layers may be uncompressed, gzip or zstd, as their media type says.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from functools import partial
from typing import IO, Any, Protocol

from auditor.errors import (
    DigestMismatch,
    FormatError,
    ImageNotFound,
    SourceError,
    UnsupportedMediaType,
)
from auditor.inputs import InputKind, open_regular
from auditor.model.documents import opt_dict, opt_str
from auditor.model.image import Image, ImageConfig
from auditor.read.layer_blob import LayerBlob, Opened
from auditor.read.outer_tar import OuterTar
from auditor.read.ranges import FileRange, open_range, read_limited
from auditor.sources.common import (
    MAX_DOCUMENT,
    ScanOptions,
    finish_checks,
    layer_reader,
    parse_json,
)

INDEX_TYPES = {
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
}
MANIFEST_TYPES = {
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
}
REF_NAME = "org.opencontainers.image.ref.name"
ATTESTATION_TYPE = "vnd.docker.reference.type"


class BlobStore(Protocol):
    where: str

    def open(self, digest: str) -> IO[bytes]: ...

    def locate(self, digest: str) -> FileRange | None:
        """Where the blob lies in a file on this machine (read mapped), or None (a stream)."""
        ...

    def read_file(self, name: str) -> bytes | None: ...


def _blob_path(digest: str) -> str:
    algo, sep, hexpart = digest.partition(":")
    if not sep or not algo.isalnum() or not hexpart.isalnum():
        raise FormatError(f"malformed digest {digest!r}")
    return f"blobs/{algo}/{hexpart}"


_LAYOUT_FILE = InputKind("file of the OCI layout", MAX_DOCUMENT, FormatError)


def _regular_file(path: str, what: str) -> int:
    """The size of the regular file at ``path`` (a symlink followed), checked before a
    byte is read: a FIFO would block the open, a directory or a link loop fail it."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise FormatError(f"{what} is missing") from None
    except OSError as exc:
        raise FormatError(f"cannot read {what}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise FormatError(f"cannot read {what}: it is not a regular file")
    return info.st_size


class DirBlobStore:
    def __init__(self, root: str) -> None:
        self.root = root
        self.where = root

    def open(self, digest: str) -> IO[bytes]:
        blob = self.locate(digest)
        assert blob is not None
        return open_range(blob)

    def locate(self, digest: str) -> FileRange | None:
        path = os.path.join(self.root, _blob_path(digest))
        return FileRange(path, 0, _regular_file(path, f"{self.root}: blob {digest}"))

    def read_file(self, name: str) -> bytes | None:
        path = os.path.join(self.root, name)
        if not os.path.lexists(path):
            return None
        with open_regular(path, _LAYOUT_FILE) as f:
            return read_limited(f, MAX_DOCUMENT, f"{self.root}/{name}")


class TarBlobStore:
    def __init__(self, tar: OuterTar) -> None:
        self.where = tar.path
        self._tar = tar

    def locate(self, digest: str) -> FileRange | None:
        return self._tar.range(_blob_path(digest))

    def open(self, digest: str) -> IO[bytes]:
        fobj = self._tar.open(_blob_path(digest))
        if fobj is None:
            raise FormatError(f"{self.where}: blob {digest} is missing")
        return fobj

    def read_file(self, name: str) -> bytes | None:
        fobj = self._tar.open(name)
        if fobj is None:
            return None
        with fobj:
            return read_limited(fobj, MAX_DOCUMENT, f"{self.where}/{name}")


def _read_document(store: BlobStore, digest: str, what: str) -> bytes:
    with store.open(digest) as f:
        raw = read_limited(f, MAX_DOCUMENT, f"{store.where}: {what}")
    got = "sha256:" + hashlib.sha256(raw).hexdigest()
    if digest.startswith("sha256:") and got != digest:
        raise DigestMismatch(f"{store.where}: {what} digest {got} does not match {digest}")
    return raw


@dataclass(frozen=True, slots=True)
class Candidate:
    descriptor: dict[str, Any]
    ref: str | None
    platform: str | None


def _platform_of(desc: dict[str, Any], where: str) -> str | None:
    plat = desc.get("platform")
    if not isinstance(plat, dict):
        return None
    what = f"{where}: an index entry's platform"
    parts = [opt_str(plat, "os", what) or "", opt_str(plat, "architecture", what) or ""]
    variant = opt_str(plat, "variant", what)
    if variant:
        parts.append(variant)
    return "/".join(parts)


MAX_INDEX_DEPTH = 4  # an index of indexes of ...: real images nest one or two
MAX_DESCRIPTORS = 1024  # index entries visited in all, nested ones included


def collect_candidates(store: BlobStore, doc: dict[str, Any], ref: str | None, depth: int,
                       out: list[Candidate], visited: list[int] | None = None) -> None:
    """The image manifests ``doc`` (an index) lists, through nested indexes, into ``out``;
    bounded in depth and in entries visited, as the input is hostile."""
    visited = [0] if visited is None else visited
    if depth > MAX_INDEX_DEPTH:
        raise FormatError(f"{store.where}: image indexes nest more than {MAX_INDEX_DEPTH} "
                          "levels deep")
    what = f"{store.where}: an index entry"
    manifests = doc.get("manifests")
    if not isinstance(manifests, list):
        raise FormatError(f"{store.where}: an index has no 'manifests' list")
    for desc in manifests:
        visited[0] += 1
        if visited[0] > MAX_DESCRIPTORS:
            raise FormatError(f"{store.where}: the image index lists more than "
                              f"{MAX_DESCRIPTORS} manifests, nested ones included")
        if not isinstance(desc, dict) or not isinstance(desc.get("digest"), str):
            raise FormatError(f"{store.where}: an index entry has no digest")
        annotations = opt_dict(desc, "annotations", what)
        name = opt_str(annotations, REF_NAME, f"{what}'s annotations") or ref
        media = opt_str(desc, "mediaType", what) or ""
        if media in INDEX_TYPES:
            nested = parse_json(_read_document(store, desc["digest"], "index"), "index")
            if not isinstance(nested, dict):
                raise FormatError(f"{store.where}: index {desc['digest']} is not an object")
            collect_candidates(store, nested, name, depth + 1, out, visited)
        elif ATTESTATION_TYPE in annotations:
            continue  # BuildKit's attestation manifests: not an image to scan
        elif media in MANIFEST_TYPES or not media:
            out.append(Candidate(desc, name, _platform_of(desc, store.where)))
        # other artifacts (signatures, attestations with their own types) are not images


def choose_candidate(candidates: list[Candidate], wanted: str | None, platform: str | None,
            where: str) -> Candidate:
    if wanted:
        candidates = [c for c in candidates if c.ref == wanted
                      or (c.ref or "").rsplit(":", 1)[-1] == wanted]
        if not candidates:
            raise ImageNotFound(f"{where} has no image named {wanted!r}")
    # attestation manifests (BuildKit) say unknown/unknown: never an image to scan
    candidates = [c for c in candidates if c.platform != "unknown/unknown"]
    if not candidates:
        raise ImageNotFound(f"{where} holds no image manifest")
    if len({c.ref for c in candidates}) > 1 and not wanted:
        refs = sorted({str(c.ref) for c in candidates})
        names = ", ".join(r[:100] for r in refs[:10]) + (
            f" and {len(refs) - 10} more" if len(refs) > 10 else "")
        raise ImageNotFound(f"{where} holds several images ({names}): name one as {where}:REF")
    if len(candidates) == 1 and platform is None:
        return candidates[0]
    want = platform or "linux/amd64"
    exact = [c for c in candidates if c.platform == want]
    loose = [c for c in candidates if c.platform and "/".join(c.platform.split("/")[:2])
             == "/".join(want.split("/")[:2])]
    for pool in (exact, loose):
        if len(pool) >= 1:
            return pool[0]
    if platform is None and len(candidates) == 1:
        return candidates[0]
    platforms = sorted({(c.platform or "unknown")[:100] for c in candidates})
    present = ", ".join(platforms[:10]) + (
        f" and {len(platforms) - 10} more" if len(platforms) > 10 else "")
    raise ImageNotFound(f"{where} has no image for platform {want} (it has: {present}); "
                        "choose one with --platform")


def manifest_parts(manifest: Any, where: str) -> tuple[str, list[Any]]:
    """An image manifest's config digest and layer descriptors, its config type checked."""
    if not isinstance(manifest, dict) or not isinstance(manifest.get("config"), dict) or \
            not isinstance(manifest.get("layers"), list):
        raise FormatError(f"{where}: the image manifest has no config or layers")
    config_desc = manifest["config"]
    config_type = str(config_desc.get("mediaType", ""))
    if config_type and not config_type.endswith(("config.v1+json", "container.image.v1+json")):
        raise UnsupportedMediaType(f"{where}: config media type {config_type!r} is not an "
                                   "image config")
    return str(config_desc.get("digest", "")), manifest["layers"]


def check_layer_count(config: ImageConfig, layers: list[Any], where: str) -> None:
    if config.diff_ids and len(config.diff_ids) != len(layers):
        raise FormatError(f"{where}: manifest lists {len(layers)} layers but the config "
                          f"has {len(config.diff_ids)} diff_ids")


def read_oci_layout(store: BlobStore, wanted: str | None, options: ScanOptions,
                    reference: str, source: str) -> Image:
    # An OCI layout is content-addressed: every blob is checked against its name unless
    # the user said --no-verify (a layout's blobs may be shared between images).
    options = options.verifies(True)
    layout = store.read_file("oci-layout")
    if layout is None:
        raise FormatError(f"{store.where} has no oci-layout file: not an OCI image layout")
    version = parse_json(layout, "oci-layout")
    if not isinstance(version, dict) or "imageLayoutVersion" not in version:
        raise FormatError(f"{store.where}: oci-layout has no imageLayoutVersion")
    index_raw = store.read_file("index.json")
    if index_raw is None:
        raise FormatError(f"{store.where} has no index.json")
    index = parse_json(index_raw, "index.json")
    if not isinstance(index, dict):
        raise FormatError(f"{store.where}: index.json is not an object")
    candidates: list[Candidate] = []
    collect_candidates(store, index, None, 0, candidates)
    chosen = choose_candidate(candidates, wanted, options.platform, store.where)
    manifest = parse_json(_read_document(store, chosen.descriptor["digest"], "manifest"),
                          "manifest")
    config_digest, layers = manifest_parts(manifest, store.where)
    config = ImageConfig.from_json(_read_document(store, config_digest, "image config"))
    check_layer_count(config, layers, store.where)
    blobs = []
    for i, desc in enumerate(layers):
        if not isinstance(desc, dict) or not isinstance(desc.get("digest"), str):
            raise FormatError(f"{store.where}: layer {i} has no digest")
        digest = desc["digest"]
        blobs.append(LayerBlob(
            i, store.locate(digest) or Opened(partial(store.open, digest)), store.where,
            media_type=str(desc.get("mediaType") or "application/vnd.oci.image.layer.v1.tar"),
            blob_digest=digest, diff_id=config.diff_ids[i] if config.diff_ids else None))
    with layer_reader(options) as reader:
        reader.start(blobs)
        image = Image(reference=reference or chosen.ref or store.where, id=config_digest,
                      source=source, config=config,
                      layers=tuple(reader.read(blob) for blob in blobs))
    return finish_checks(image, reader, options)


def open_oci_dir(path: str, wanted: str | None, options: ScanOptions, reference: str) -> Image:
    if not os.path.isdir(path):
        raise SourceError(f"{path} is not a directory")
    return read_oci_layout(DirBlobStore(path), wanted, options, reference, "oci-dir")


def open_oci_archive(path: str, wanted: str | None, options: ScanOptions,
                     reference: str) -> Image:
    return read_oci_layout(TarBlobStore(OuterTar(path)), wanted, options, reference,
                           "oci-archive")

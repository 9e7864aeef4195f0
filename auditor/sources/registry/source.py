"""An image read straight from a registry (OCI distribution spec v1.1, client side).

The manifest by tag or digest (Docker v2 schema 2 or OCI); an index chooses by
``--platform`` as an OCI layout's does (attestation manifests skipped). The config and
each layer blob are streamed once, straight into the layer reader, and never written to
disk; every blob is checked against its digest as it passes, the manifest too when the
reference pins it: the registry is not trusted.
"""

from __future__ import annotations

import hashlib
import io
from typing import IO, Any

from auditor.errors import DigestMismatch, FormatError, UnsupportedMediaType
from auditor.model.image import Image, ImageConfig, LayerScan
from auditor.model.platform import check_platform
from auditor.read.layer_blob import LayerBlob, Opened
from auditor.read.layer_read import LayerReader
from auditor.read.ranges import FileRange, read_limited
from auditor.source_flags import RegistrySettings as Settings
from auditor.sources.common import MAX_DOCUMENT, ScanOptions, layer_reader, parse_json
from auditor.sources.oci import (
    INDEX_TYPES,
    MANIFEST_TYPES,
    Candidate,
    check_layer_count,
    choose_candidate,
    collect_candidates,
    manifest_parts,
)
from auditor.sources.registry.client import RegistryClient, small_json
from auditor.sources.registry.errors import UnknownImage
from auditor.sources.registry.reference import Reference

ACCEPT = ", ".join(sorted(MANIFEST_TYPES | INDEX_TYPES))
_SCHEMA1 = ("application/vnd.docker.distribution.manifest.v1+json",
            "application/vnd.docker.distribution.manifest.v1+prettyjws")


def _digest_of(raw: bytes, algorithm: str) -> str:
    return f"{algorithm}:{hashlib.new(algorithm, raw).hexdigest()}"


class ManifestStore:
    """The registry's manifests as :mod:`auditor.sources.oci` reads an index's entries:
    ``open(digest)`` fetches ``/manifests/<digest>`` (the caller checks the digest)."""

    def __init__(self, client: RegistryClient) -> None:
        self._client = client
        self.where = f"registry {client.ref.host}"

    def open(self, digest: str) -> IO[bytes]:
        raw, _media = fetch_manifest(self._client, digest)
        return io.BytesIO(raw)

    def locate(self, digest: str) -> FileRange | None:
        return None

    def read_file(self, name: str) -> bytes | None:
        return None


def fetch_manifest(client: RegistryClient, ref: str) -> tuple[bytes, str]:
    """A manifest or index, its bytes and media type; checked when ``ref`` is a digest."""
    what = f"manifest {client.ref.repository}" + ("@" if ":" in ref else ":") + ref
    try:
        resp = client.get(f"manifests/{ref}", what, accept=ACCEPT)
    except UnknownImage:
        if ":" in ref:
            raise
        raise _missing_tag(client, ref) from None
    try:
        raw = read_limited(resp.raw, MAX_DOCUMENT, what)
    finally:
        resp.close()
    media = resp.headers.get("Content-Type", "").split(";")[0].strip()
    if ":" in ref:
        algorithm = ref.partition(":")[0]
        got = _digest_of(raw, algorithm)
        if got != ref:
            raise DigestMismatch(f"registry {client.ref.host}: {what} has digest {got}")
    return raw, media


def _missing_tag(client: RegistryClient, tag: str) -> UnknownImage:
    """No such tag: say whether the repository exists, and which tags it has."""
    where = f"registry {client.ref.host}"
    # raises "no repository" when there is none
    doc = small_json(client.get("tags/list", "tag list"))
    tags = doc.get("tags") if isinstance(doc, dict) else None
    tags = tags if isinstance(tags, list) else []
    shown = ", ".join(sorted(str(t) for t in tags)[:10]) + (", ..." if len(tags) > 10 else "")
    return UnknownImage(f"{where}: {client.ref.repository} has no tag {tag!r}"
                        + (f" (it has: {shown})" if shown else ""))


def resolve(client: RegistryClient, platform: str | None) -> tuple[dict[str, Any], bool]:
    """The image manifest the reference names (through an index by platform), and whether
    an index chose it."""
    ref = client.ref
    raw, media = fetch_manifest(client, ref.manifest_ref)
    doc = parse_json(raw, f"the manifest of {ref}")
    if not isinstance(doc, dict):
        raise FormatError(f"the manifest of {ref} is not a JSON object")
    media = str(doc.get("mediaType") or media)
    if media in _SCHEMA1 or doc.get("schemaVersion") == 1:
        raise UnsupportedMediaType(f"{ref} has a Docker schema 1 manifest, which auditor "
                                   "does not read", tip="push it again with a current client")
    if media in INDEX_TYPES or (not media and "manifests" in doc):
        store = ManifestStore(client)
        candidates: list[Candidate] = []
        collect_candidates(store, doc, None, 0, candidates)
        chosen = choose_candidate(candidates, None, platform, str(ref))
        digest = str(chosen.descriptor["digest"])
        raw, media = fetch_manifest(client, digest)
        doc = parse_json(raw, f"the manifest {digest} of {ref}")
        return doc, True
    return doc, False


def open_registry_image(reference: Reference, source: str, options: ScanOptions,
                        settings: Settings) -> Image:
    options = options.verifies(True)  # the registry is not trusted
    client = RegistryClient(reference, settings)
    try:
        return _read_image(client, source, options)
    finally:
        client.close()


def _read_image(client: RegistryClient, source: str, options: ScanOptions) -> Image:
    where = f"registry {client.ref.host}"
    manifest, from_index = resolve(client, options.platform)
    config_digest, layers = manifest_parts(manifest, where)
    with client.blob_stream(config_digest, None, "image config") as fh:
        raw = read_limited(fh, MAX_DOCUMENT, f"{where}: image config")
    if _digest_of(raw, config_digest.partition(":")[0] or "sha256") != config_digest:
        raise DigestMismatch(f"{where}: the image config does not match {config_digest}")
    config = ImageConfig.from_json(raw)
    check_layer_count(config, layers, where)
    if not from_index:  # before a layer is fetched
        check_platform(config.os, config.architecture, options.platform, str(client.ref))
    if options.progress is not None:
        options.progress.set_total(sum(int(d.get("size") or 0) for d in layers
                                       if isinstance(d, dict)))
    scans = []
    with layer_reader(options) as reader:
        for i, desc in enumerate(layers):
            if not isinstance(desc, dict) or not isinstance(desc.get("digest"), str):
                raise FormatError(f"{where}: layer {i} has no digest")
            diff_id = config.diff_ids[i] if config.diff_ids else None
            size = desc.get("size") if isinstance(desc.get("size"), int) else None
            what = f"layer {i} ({desc['digest']})"
            scans.append(scan_blob(reader, client, i, desc, size, what, diff_id, where))
        reader.digests.wait()
    return Image(reference=str(client.ref), id=config_digest, source=source, config=config,
                 layers=tuple(scans))


def scan_blob(reader: LayerReader, client: RegistryClient, index: int, desc: dict[str, Any],
              size: int | None, what: str, diff_id: str | None, where: str) -> LayerScan:
    """One layer blob streamed from the registry into the layer reader, its digests checked
    as it passes."""
    media_type = str(desc.get("mediaType") or "application/vnd.oci.image.layer.v1.tar")
    digest = str(desc["digest"])
    return reader.read(LayerBlob(index, Opened(lambda: client.blob_stream(digest, size, what)),
                                 where, media_type=media_type, blob_digest=digest,
                                 diff_id=diff_id))

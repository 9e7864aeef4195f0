"""What every source shares: its options, the layer reader they set up, and the
docker-save manifest."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from auditor.errors import FormatError, ImageNotFound
from auditor.model.documents import MAX_DOCUMENT as MAX_DOCUMENT
from auditor.model.documents import load_json, opt_list
from auditor.model.image import Image, LayerScan
from auditor.read.layer_read import LayerReader, ReadSettings, reading_layers
from auditor.read.progress import Progress
from auditor.read.wants import ContentWants


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
    # Called with each layer as soon as the source knows its place in the image (a stream
    # that was told the image's layers beforehand, in whatever order they arrive), so
    # that the caller can squash it while the rest arrives (filetree.LayerSquash). A hint
    # only: the Image returned is the truth.
    on_layer: Callable[[int, LayerScan], None] | None = None

    _resolved: list[ContentWants] = field(default_factory=list, repr=False, compare=False)

    def content_wants(self) -> ContentWants:
        if not self._resolved:
            self._resolved.append(self.wants() if callable(self.wants) else self.wants)
        return self._resolved[0]

    def verifies(self, by_default: bool | None) -> ScanOptions:
        """These options with ``verify`` decided for a source that checks layer digests
        ``by_default`` or not (None: compressed blobs only, see ReadSettings)."""
        return dataclasses.replace(self, verify=by_default if self.verify is None
                                   else self.verify)


def parse_json(raw: bytes, what: str) -> Any:
    return load_json(raw, what)


@contextmanager
def layer_reader(options: ScanOptions) -> Iterator[LayerReader]:
    """The reader of one image's layers (see :func:`auditor.read.layer_read.reading_layers`),
    with these options."""
    settings = ReadSettings(options.content_wants, options.progress, options.verify)
    with reading_layers(settings) as reader:
        yield reader


def finish_checks(image: Image, reader: LayerReader, options: ScanOptions) -> Image:
    """The image with its pending digest checks attached, or checked now."""
    if options.defer_checks:
        return dataclasses.replace(image, pending=reader.digests.wait)
    reader.digests.wait()
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
        tags = opt_list(item, "RepoTags", "manifest.json")
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


def digest_named_by(name: str) -> str | None:
    """The digest a save stream's member name claims for its content: ``blobs/sha256/<hex>``
    (Docker 25+), or podman's ``<hex>.tar``, named by the layer's diff_id."""
    named = blob_digest_from_name(name)
    if named is None and name.endswith(".tar") and "/" not in name and len(name) == 68:
        named = "sha256:" + name[:64]
    return named


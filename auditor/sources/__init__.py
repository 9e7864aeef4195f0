"""Ways in: where an image can be read from, by the prefix of the SOURCE argument.

``docker:REF`` (or a bare reference) asks the Docker Engine (or podman's API when no Docker
Engine socket is there), ``podman:REF`` asks podman's Docker-compatible API;
``docker-archive:PATH[:TAG]``, ``oci-dir:PATH[:REF]`` and ``oci-archive:PATH[:REF]`` read
files; a bare path that exists is recognised by its content. ``docker-archive:-`` reads
``docker save`` from standard input. ``registry:HOST[:PORT]/REPO[:TAG|@DIGEST]`` reads a
registry. A bare reference is asked of the NAMED_SOURCES in source_flags.ORDER
(``--image-src``), the next one tried when one has no such image.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from auditor import source_flags
from auditor.errors import FormatError, ImageNotFound, SourceError, UsageError
from auditor.model.image import Image
from auditor.read import engine_wire
from auditor.read.engine_wire import ENGINE_PREFIXES, engine_reference
from auditor.read.outer_tar import NotATar, walk_members
from auditor.read.pipes import stdin_stream
from auditor.sources.archive import open_docker_archive_file, read_docker_save_stream
from auditor.sources.common import ScanOptions
from auditor.sources.engine import open_engine_image, open_podman_image
from auditor.sources.oci import open_oci_archive, open_oci_dir
from auditor.sources.registry import open_registry_image

FileOpener = Callable[[str, "str | None", ScanOptions, str], Image]
EngineOpener = Callable[[str, ScanOptions], Image]

# Engines named by a prefix (a bare reference asks DOCKER_HOST's engine, or podman's
# socket when no Docker Engine has one); engine_wire.OTHER_ENGINE_PREFIXES names them too.
ENGINE_SOURCES: dict[str, EngineOpener] = {
    "podman": open_podman_image,
}

# The closed set of file-backed sources: prefix -> opener(path, wanted, options, reference).
# engine_wire.FILE_PREFIXES names the same prefixes (it must not import this package).
FILE_SOURCES: dict[str, FileOpener] = {
    "docker-archive": open_docker_archive_file,
    "oci-dir": open_oci_dir,
    "oci": open_oci_dir,  # skopeo's name for the same thing
    "oci-archive": open_oci_archive,
}

NamedOpener = Callable[[str, ScanOptions], Image]
# The sources that know images by name, by their --image-src names; a name that
# source_flags.KNOWN_NAMED accepts without an entry here (podman, until its source
# registers) is skipped.
NAMED_SOURCES: dict[str, NamedOpener] = {
    "engine": open_engine_image,
    "podman": open_podman_image,
    "registry": open_registry_image,
}


def open_named(reference: str, options: ScanOptions) -> Image:
    """The first source in source_flags.ORDER that has ``reference`` (as Trivy falls back)."""
    misses: list[tuple[str, SourceError]] = []
    for name in source_flags.ORDER:
        opener = NAMED_SOURCES.get(name)
        if opener is None:
            continue
        try:
            image = opener(reference, options)
        except SourceError as exc:
            misses.append((name, exc))
            continue
        if misses:  # the report's image.source says it too; a terminal user sees this
            tried = ", ".join(n for n, _e in misses)
            source_flags.announce(f"{reference}: not in the {tried}; read from the {name}")
        return image
    if not misses:
        raise UsageError(f"--image-src {','.join(source_flags.ORDER)} names no source that "
                         "can read images")
    if len(misses) == 1:
        raise misses[0][1]
    # the first source's own tip (start an engine, log in) is the likeliest fix
    tip = next((exc.tip for _name, exc in misses if exc.tip), None)
    raise ImageNotFound(f"no image source has {reference!r} ("
                        + "; ".join(f"{name}: {exc}" for name, exc in misses) + ")",
                        tip=(f"{tip}; " if tip else "") + "choose the sources with --image-src")


def _split_path(rest: str) -> tuple[str, str | None]:
    """``PATH[:REF]``: the longest prefix that exists is the path (paths may hold colons)."""
    if os.path.exists(rest):
        return rest, None
    cut = rest.find(":")
    while cut >= 0:
        if os.path.exists(rest[:cut]):
            return rest[:cut], rest[cut + 1:] or None
        cut = rest.find(":", cut + 1)
    raise SourceError(f"no such file or directory: {rest}")


def detect_kind(path: str) -> str:
    """Which file source a bare existing path is."""
    if os.path.isdir(path):
        if os.path.exists(os.path.join(path, "oci-layout")):
            return "oci-dir"
        raise FormatError(f"{path} is a directory but not an OCI image layout (no oci-layout)")
    oci_layout = False
    try:
        for member in walk_members(path):
            if member.name == "manifest.json":
                return "docker-archive"
            # Docker 25+ save writes both; its manifest.json may come later
            oci_layout = oci_layout or member.name == "oci-layout"
    except NotATar as exc:
        raise FormatError(f"{path} is not an image archive (not a readable tar: "
                          f"{exc.reason})") from None
    if oci_layout:
        return "oci-archive"
    raise FormatError(f"{path} is a tar archive but holds no image "
                      "(no manifest.json or oci-layout)")


def _announce_size(path: str, options: ScanOptions) -> None:
    if options.progress is None:
        return
    if os.path.isdir(path):
        total = sum(e.stat().st_size for e in os.scandir(os.path.join(path, "blobs", "sha256"))
                    if e.is_file()) if os.path.isdir(os.path.join(path, "blobs", "sha256")) else 0
    else:
        total = os.path.getsize(path)
    options.progress.set_total(total)


def open_image(source: str, options: ScanOptions) -> Image:
    """Read the image that SOURCE names, scanning each layer once."""
    if not source:
        raise UsageError("no image source given")
    prefix, sep, rest = source.partition(":")
    if sep and prefix in FILE_SOURCES:
        if prefix == "docker-archive" and rest in ("-", ""):
            stream = stdin_stream(sys.stdin.buffer, engine_wire.timeout())
            return read_docker_save_stream(stream, None, options, "stdin", "docker-archive")
        path, wanted = _split_path(rest)
        _announce_size(path, options)
        return FILE_SOURCES[prefix](path, wanted, options, source)
    if sep and prefix == "registry":
        return open_registry_image(rest, options)
    if sep and prefix in ENGINE_SOURCES and rest:
        return ENGINE_SOURCES[prefix](rest, options)
    reference = engine_reference(source)
    if reference is not None:
        if sep and prefix in ENGINE_PREFIXES:
            return open_engine_image(reference, options)
        return open_named(reference, options)
    if os.path.exists(source):
        kind = detect_kind(source)
        _announce_size(source, options)
        return FILE_SOURCES[kind](source, None, options, source)
    raise SourceError(f"no such file or directory: {source}")

"""Images held by a Docker Engine, read through its API as a streamed ``docker save``.

A unix socket (the usual DOCKER_HOST) is spoken to directly in HTTP/1.0; any other host
goes through the ``docker`` package, which honours DOCKER_HOST, DOCKER_TLS_VERIFY and
DOCKER_CERT_PATH as the docker CLI does. Nothing is written to disk: the save stream is
parsed as it arrives.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

from auditor.errors import AuditorError, EngineUnreachable, ImageNotFound, SourceError
from auditor.model.image import Image
from auditor.read import engine_wire as wire
from auditor.read.cursor import StreamCursor
from auditor.read.prefetch import PrefetchReader
from auditor.sources.archive import read_docker_save_stream
from auditor.sources.common import ScanOptions

CHUNK = 1 << 20


def _client() -> Any:
    import docker
    import docker.errors

    host = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    try:
        client = docker.from_env(timeout=max(1, round(wire.timeout())))
        client.ping()
    except Exception as exc:  # the docker package raises many kinds here
        raise EngineUnreachable(f"cannot reach a Docker Engine at {host} ({wire.why(exc)})"
                                ) from None
    return client


def open_engine_image(reference: str, options: ScanOptions, host: str | None = None
                      ) -> Image:
    """The image ``reference`` from the engine at ``host`` (DOCKER_HOST's by default)."""
    host = host or wire.docker_host()
    if host.startswith("unix://"):
        try:
            image = _open_over_unix_socket(host, reference, options)
        except ImageNotFound as exc:
            raise ImageNotFound(f"{exc} ({describe_engine(host)})", tip=_store_tip(host, exc)
                                ) from None
    elif wire.engine_name(host) == "podman":
        raise EngineUnreachable(f"podman at {host}: only a unix socket is supported",
                                tip=wire.PODMAN_TIP)
    else:
        image = _open_with_docker_package(reference, options)
    source = "podman" if wire.engine_name(host) == "podman" else image.source
    return dataclasses.replace(image, reference=reference, source=source)


def open_podman_image(reference: str, options: ScanOptions) -> Image:
    """``podman:IMG``: podman's Docker-compatible API (``podman system service``)."""
    return open_engine_image(reference, options, wire.podman_host())


def describe_engine(host: str) -> str:
    """Which engine and which image store answered at ``host``, in a few words."""
    path = host[len("unix://"):]
    facts: dict[str, Any] = {}
    for url in ("/version", "/info"):
        try:
            status, stream = wire.request(host, path, url)
            with stream:
                doc = json.loads(wire.read_body(stream, wire.MAX_INSPECT))
        except (AuditorError, OSError, ValueError, RecursionError):
            continue
        if status == 200 and isinstance(doc, dict):
            facts.update(doc)
    name = "podman" if wire.engine_name(host) == "podman" else "Docker Engine"
    version = str(facts.get("Version") or facts.get("ServerVersion") or "")
    status_pairs = facts.get("DriverStatus") or []
    containerd = any(isinstance(p, list) and p[-1:] == ["io.containerd.snapshotter.v1"]
                     for p in status_pairs)
    store = ("containerd image store" if containerd
             else f"{facts.get('Driver') or 'unknown'} storage")
    return f"{name} {version} at {host}, {store}".replace("  ", " ")


def _store_tip(host: str, exc: AuditorError) -> str | None:
    if wire.engine_name(host) == "podman":
        return ("rootful and rootless podman keep separate images: check `podman images` as "
                "the user who built it, or set CONTAINER_HOST to that user's socket")
    return ((exc.tip + "; ") if exc.tip else "") + (
        "an engine's classic and containerd image stores hold different images: "
        "images made before the store was switched are in the other one")


def _open_over_unix_socket(host: str, reference: str, options: ScanOptions) -> Image:
    """Inspect and ``save`` as HTTP/1.0 straight on the engine's unix socket.

    The docker package reads a response in its 32 KiB chunked-encoding pieces through
    urllib3, in Python, and costs a tenth of a second to import; HTTP/1.0 gets the body
    unchunked, read straight into the parser's buffer. The save is asked for, and its
    answer read ahead, before the detectors' globs are compiled (or earlier, by
    start_early): the loading happens while the engine prepares or starts its stream.
    """
    requested = wire.take_early(host, reference) or wire.request_save(host, reference)
    info = requested.info
    image_id = str(info.get("Id", ""))
    if options.progress is not None and isinstance(info.get("Size"), int):
        options.progress.set_total(info["Size"])  # the save stream is about this long
    try:
        # The answer is read ahead by a thread (from start_early on, if it asked), straight
        # into the buffers parsed here.
        reader = requested.read_ahead()
        reader.report_to(options.progress)
        options.content_wants()  # while the engine prepares the stream
        status, body = wire.split_answer(reader.next_chunk)
        if status != 200:
            raise SourceError(f"{wire.engine_name(host)} could not save {reference!r}: "
                              f"{wire.error_message(wire.read_chunks(body, 1 << 16))}")
        image = _read_save(StreamCursor(None, next_chunk=body), info, reference, options)
    except OSError as exc:
        raise EngineUnreachable(f"lost {wire.engine_name(host)} while reading {reference!r} "
                                f"({wire.why(exc)})") from None
    finally:
        requested.close()
    if image_id and image.id != image_id:
        raise SourceError(f"the engine saved {image.id}, not the inspected {image_id}")
    return image


def _read_save(cursor: StreamCursor, info: dict[str, Any], reference: str,
               options: ScanOptions) -> Image:
    # A save by tag names the tag in manifest.json; a save by id or digest names none.
    wanted = reference if _has_tag(info, reference) else None
    # The engine computed every digest in this stream itself and sends it over a local
    # socket: hashing its tars again would cost a core for nothing, unless asked
    # (--verify); compressed blobs are checked as they inflate (archive.VERIFY_BY_DEFAULT).
    # The inspected Id is checked against the stream: the config's digest, or (the
    # containerd store) the digest of the index that names it.
    return read_docker_save_stream(cursor, wanted, options, reference, "docker",
                                   expected_id=str(info.get("Id", "")) or None,
                                   layer_order=_diff_ids(info))


def _diff_ids(info: dict[str, Any]) -> tuple[str, ...]:
    """The layers the inspection says the image has (RootFS.Layers), or none."""
    rootfs = info.get("RootFS")
    layers = rootfs.get("Layers") if isinstance(rootfs, dict) else None
    if isinstance(layers, list) and all(isinstance(d, str) for d in layers):
        return tuple(layers)
    return ()


def _open_with_docker_package(reference: str, options: ScanOptions) -> Image:
    """TCP (with TLS) and ssh engines, through the docker package."""
    import docker.errors
    import requests.exceptions

    client = _client()
    api = client.api
    try:
        info = api.inspect_image(reference)
    except docker.errors.ImageNotFound:
        raise wire.not_found(reference) from None
    except docker.errors.APIError as exc:
        raise SourceError(f"the Docker Engine refused to inspect {reference!r}: "
                          f"{exc.explanation or exc}") from None
    image_id = str(info.get("Id", ""))
    if options.progress is not None and isinstance(info.get("Size"), int):
        options.progress.set_total(info["Size"])
    raw = PrefetchReader(iter(api.get_image(reference, chunk_size=CHUNK)))
    try:
        options.content_wants()
        image = _read_save(StreamCursor(raw, options.progress, CHUNK), info, reference,
                           options)
    except docker.errors.APIError as exc:
        raise SourceError(f"the Docker Engine could not save {reference!r}: "
                          f"{exc.explanation or exc}") from None
    except (requests.exceptions.RequestException, ConnectionError) as exc:
        raise EngineUnreachable(f"lost the Docker Engine while reading {reference!r} "
                                f"({type(exc).__name__})") from None
    finally:
        raw.close()
    if image_id and image.id != image_id:
        raise SourceError(f"the engine saved {image.id}, not the inspected {image_id}")
    return image


def _has_tag(info: dict[str, Any], reference: str) -> bool:
    tags = info.get("RepoTags") or []
    return reference in tags or (":" not in reference.rsplit("/", 1)[-1]
                                 and reference + ":latest" in tags)

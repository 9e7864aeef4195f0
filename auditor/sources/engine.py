"""Images held by a Docker Engine, read through its API as a streamed ``docker save``.

A unix socket (the usual DOCKER_HOST) is spoken to directly in HTTP/1.0; any other host
goes through the ``docker`` package, which honours DOCKER_HOST, DOCKER_TLS_VERIFY and
DOCKER_CERT_PATH as the docker CLI does. Nothing is written to disk: the save stream is
parsed as it arrives.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from auditor.errors import EngineUnreachable, SourceError
from auditor.model.image import Image
from auditor.read import engine_wire as wire
from auditor.read.prefetch import PrefetchReader, SocketPrefetch
from auditor.read.tarstream import StreamCursor
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


def open_engine_image(reference: str, options: ScanOptions) -> Image:
    host = wire.docker_host()
    if host.startswith("unix://"):
        image = _open_over_unix_socket(host, reference, options)
    else:
        image = _open_with_docker_package(reference, options)
    return dataclasses.replace(image, reference=reference)


def _open_over_unix_socket(host: str, reference: str, options: ScanOptions) -> Image:
    """Inspect and ``save`` as HTTP/1.0 straight on the engine's unix socket.

    The docker package reads a response in its 32 KiB chunked-encoding pieces through
    urllib3, in Python, and costs a tenth of a second to import; HTTP/1.0 gets the body
    unchunked, read straight into the parser's buffer. The save is asked for before the
    detectors' globs are compiled (or earlier, by start_early): the engine spends seconds
    preparing its stream, and the loading happens meanwhile.
    """
    requested = wire.take_early(host, reference) or wire.request_save(host, reference)
    info, sock = requested.info, requested.sock
    image_id = str(info.get("Id", ""))
    if options.progress is not None and isinstance(info.get("Size"), int):
        options.progress.set_total(info["Size"])  # the save stream is about this long
    prefetch: SocketPrefetch | None = None
    try:
        with sock.makefile("rb", buffering=0) as head:
            options.content_wants()  # while the engine prepares the stream
            status = wire.read_status(head)
            if status != 200:
                raise SourceError(f"the Docker Engine could not save {reference!r}: "
                                  f"{wire.error_message(wire.read_body(head, 1 << 16))}")
        # The body is read ahead by a thread, straight into the buffers parsed here.
        prefetch = SocketPrefetch(sock, options.progress, idle_timeout=wire.timeout())
        image = _read_save(StreamCursor(None, next_chunk=prefetch.next_chunk), info,
                           reference, options)
    except OSError as exc:
        raise EngineUnreachable(f"lost the Docker Engine while reading {reference!r} "
                                f"({wire.why(exc)})") from None
    finally:
        if prefetch is not None:
            prefetch.close()
        sock.close()
    if image_id and image.id != image_id:
        raise SourceError(f"the engine saved {image.id}, not the inspected {image_id}")
    return image


def _read_save(cursor: StreamCursor, info: dict[str, Any], reference: str,
               options: ScanOptions) -> Image:
    # A save by tag names the tag in manifest.json; a save by id or digest names none.
    wanted = reference if _has_tag(info, reference) else None
    # The engine computed every digest in this stream itself and sends it over a local
    # socket: checking them again would cost a core for nothing, unless asked (--verify).
    return read_docker_save_stream(cursor, wanted, options.verifies(False), reference,
                                   "docker")


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

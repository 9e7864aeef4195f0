"""Images held by a Docker Engine, read through its API as a streamed ``docker save``.

A unix socket (the usual DOCKER_HOST) is spoken to directly in HTTP/1.0; any other host
goes through the ``docker`` package, which honours DOCKER_HOST, DOCKER_TLS_VERIFY and
DOCKER_CERT_PATH as the docker CLI does. Nothing is written to disk: the save stream is
parsed as it arrives.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import socket
import urllib.parse
from typing import Any

from auditor.blobs import PrefetchReader, SocketPrefetch
from auditor.errors import AuditorError, EngineUnreachable, ImageNotFound, SourceError
from auditor.image import Image
from auditor.sources.archive import read_docker_save_stream
from auditor.sources.common import MAX_DOCUMENT, ScanOptions, parse_json
from auditor.tarstream import StreamCursor

CHUNK = 1 << 20
TIMEOUT = 120  # seconds without a byte from the engine before we give up


def _client() -> Any:
    import docker
    import docker.errors

    host = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    try:
        client = docker.from_env(timeout=TIMEOUT)
        client.ping()
    except Exception as exc:  # the docker package raises many kinds here
        raise EngineUnreachable(f"cannot reach a Docker Engine at {host} ({_why(exc)})"
                                ) from None
    return client


def _why(exc: BaseException) -> str:
    """A few words for why the engine did not answer, from the nested exception text."""
    for kind, words in ((FileNotFoundError, "no such socket"),
                        (PermissionError, "permission denied"),
                        (ConnectionRefusedError, "connection refused"),
                        (TimeoutError, "timed out")):
        if isinstance(exc, kind):
            return words
    text = str(exc)
    for needle, words in (("FileNotFoundError", "no such socket"),
                          ("PermissionError", "permission denied"),
                          ("Connection refused", "connection refused"),
                          ("timed out", "timed out"),
                          ("Name or service not known", "unknown host")):
        if needle in text:
            return words
    line = text.splitlines()[0] if text else type(exc).__name__
    return line if len(line) <= 120 else line[:117] + "..."


def open_engine_image(reference: str, options: ScanOptions) -> Image:
    host = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    if host.startswith("unix://"):
        image = _open_over_unix_socket(host, reference, options)
    else:
        image = _open_with_docker_package(reference, options)
    return dataclasses.replace(image, reference=reference)


def _not_found(reference: str) -> ImageNotFound:
    return ImageNotFound(f"the Docker Engine has no image {reference!r}",
                         tip=f"build or pull it first, or check `docker images {reference}`")


class _Requested:
    """An image inspected, and its save asked for on ``sock`` (the answer not read yet)."""

    def __init__(self, info: dict[str, Any], sock: socket.socket) -> None:
        self.info = info
        self.sock = sock


# Saves asked for ahead of time by start_early(), by (host, reference).
_EARLY: dict[tuple[str, str], _Requested] = {}


def start_early(reference: str) -> None:
    """Inspect ``reference`` and ask for its save now, so that the engine prepares the
    stream (seconds, for a big image) while the command line loads its policy and the
    detectors. Nothing is read yet. Any failure is left for open_engine_image to meet
    again and report, after the command line has checked its own arguments."""
    host = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    if not host.startswith("unix://") or (host, reference) in _EARLY:
        return
    with contextlib.suppress(AuditorError, OSError):
        _EARLY[(host, reference)] = _request_save(host, reference)


def _request_save(host: str, reference: str) -> _Requested:
    path = host[len("unix://"):]
    quoted = urllib.parse.quote(reference, safe="")
    status, stream = _request(host, path, f"/images/{quoted}/json")
    with stream:
        body = stream.read(MAX_DOCUMENT + 1)
    if status == 404:
        raise _not_found(reference)
    if status != 200:
        raise SourceError(f"the Docker Engine refused to inspect {reference!r}: "
                          f"{_message(body)}")
    info = parse_json(body, "the engine's image inspection")
    if not isinstance(info, dict):
        raise SourceError(f"the Docker Engine's inspection of {reference!r} is not an object")
    sock = _connect(host, path)
    try:
        sock.sendall(f"GET /images/{quoted}/get HTTP/1.0\r\nHost: docker\r\n\r\n".encode())
    except OSError as exc:
        sock.close()
        raise EngineUnreachable(f"lost the Docker Engine at {host} ({_why(exc)})") from None
    return _Requested(info, sock)


def _open_over_unix_socket(host: str, reference: str, options: ScanOptions) -> Image:
    """Inspect and ``save`` as HTTP/1.0 straight on the engine's unix socket.

    The docker package reads a response in its 32 KiB chunked-encoding pieces through
    urllib3, in Python, and costs a tenth of a second to import; HTTP/1.0 gets the body
    unchunked, read straight into the parser's buffer. The save is asked for before the
    detectors' globs are compiled (or earlier, by start_early): the engine spends seconds
    preparing its stream, and the loading happens meanwhile.
    """
    requested = _EARLY.pop((host, reference), None) or _request_save(host, reference)
    info, sock = requested.info, requested.sock
    image_id = str(info.get("Id", ""))
    if options.progress is not None and isinstance(info.get("Size"), int):
        options.progress.set_total(info["Size"])  # the save stream is about this long
    prefetch: SocketPrefetch | None = None
    try:
        with sock.makefile("rb", buffering=0) as head:
            options.content_wants()  # while the engine prepares the stream
            status = _status(head)
            if status != 200:
                raise SourceError(f"the Docker Engine could not save {reference!r}: "
                                  f"{_message(head.read(4096))}")
        # The body is read ahead by a thread, straight into the buffers parsed here.
        prefetch = SocketPrefetch(sock, options.progress, idle_timeout=TIMEOUT)
        image = _read_save(StreamCursor(None, next_chunk=prefetch.next_chunk), info,
                           reference, options)
    except OSError as exc:
        raise EngineUnreachable(f"lost the Docker Engine while reading {reference!r} "
                                f"({_why(exc)})") from None
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


def _connect(host: str, path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(TIMEOUT)
    try:
        sock.connect(path)
    except OSError as exc:
        sock.close()
        raise EngineUnreachable(f"cannot reach a Docker Engine at {host} ({_why(exc)})"
                                ) from None
    return sock


def _request(host: str, path: str, url: str) -> tuple[int, Any]:
    """A GET on the engine's socket: the status, and the body as a file."""
    sock = _connect(host, path)
    try:
        sock.sendall(f"GET {url} HTTP/1.0\r\nHost: docker\r\n\r\n".encode())
        stream = sock.makefile("rb", buffering=0)
        return _status(stream), stream
    except OSError as exc:
        raise EngineUnreachable(f"cannot reach a Docker Engine at {host} ({_why(exc)})"
                                ) from None
    finally:
        sock.close()


def _status(stream: Any) -> int:
    """Read the status line and headers (byte by byte: the body must stay unread)."""
    line = _line(stream).split(None, 2)
    while _line(stream) not in (b"\r\n", b"\n", b""):
        pass  # headers: nothing in them that we need
    if len(line) < 2 or not line[1].isdigit():
        raise SourceError("the Docker Engine sent no HTTP status")
    return int(line[1])


def _message(body: bytes) -> str:
    """The engine's error message from its JSON error body, or the body itself."""
    try:
        doc = json.loads(body)
        if isinstance(doc, dict) and isinstance(doc.get("message"), str):
            return str(doc["message"])[:200]
    except ValueError:
        pass
    return body.decode("utf-8", "replace").strip()[:200]


def _open_with_docker_package(reference: str, options: ScanOptions) -> Image:
    """TCP (with TLS) and ssh engines, through the docker package."""
    import docker.errors
    import requests.exceptions

    client = _client()
    api = client.api
    try:
        info = api.inspect_image(reference)
    except docker.errors.ImageNotFound:
        raise _not_found(reference) from None
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


def _line(stream: Any, limit: int = 8192) -> bytes:
    out = bytearray()
    while len(out) < limit:
        byte = stream.read(1)
        if not byte:
            break
        out += byte
        if byte == b"\n":
            break
    return bytes(out)


def _has_tag(info: dict[str, Any], reference: str) -> bool:
    tags = info.get("RepoTags") or []
    return reference in tags or (":" not in reference.rsplit("/", 1)[-1]
                                 and reference + ":latest" in tags)

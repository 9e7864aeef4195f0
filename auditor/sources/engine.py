"""Images held by a Docker Engine, read through its API as a streamed ``docker save``.

The ``docker`` package honours DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH as the
docker CLI does. Nothing is written to disk: the save stream is parsed as it arrives.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import urllib.parse
from typing import IO, Any

from auditor.blobs import PrefetchReader
from auditor.errors import EngineUnreachable, ImageNotFound, SourceError
from auditor.image import Image
from auditor.sources.archive import read_docker_save_stream
from auditor.sources.common import ScanOptions
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
    import docker.errors
    import requests.exceptions

    client = _client()
    api = client.api
    try:
        info = api.inspect_image(reference)
    except docker.errors.ImageNotFound:
        raise ImageNotFound(f"the Docker Engine has no image {reference!r}",
                            tip=f"build or pull it first, or check `docker images {reference}`"
                            ) from None
    except docker.errors.APIError as exc:
        raise SourceError(f"the Docker Engine refused to inspect {reference!r}: "
                          f"{exc.explanation or exc}") from None
    image_id = str(info.get("Id", ""))
    if options.progress is not None and isinstance(info.get("Size"), int):
        options.progress.set_total(info["Size"])  # the save stream is about this long
    raw: Any = None
    try:
        raw = _save_over_unix_socket(api, reference)
        if raw is None:
            raw = PrefetchReader(iter(api.get_image(reference, chunk_size=CHUNK)))
        # A save by tag names the tag in manifest.json; a save by id or digest names none.
        wanted = reference if _has_tag(info, reference) else None
        # The engine computed every digest in this stream itself and sends it over a local
        # socket: checking them again would cost a core for nothing. Files are checked.
        # The stream is read into one buffer and parsed there, layers within it in place.
        image = read_docker_save_stream(StreamCursor(raw, options.progress, CHUNK), wanted,
                                        dataclasses.replace(options, verify=False),
                                        reference, "docker")
    except docker.errors.APIError as exc:
        raise SourceError(f"the Docker Engine could not save {reference!r}: "
                          f"{exc.explanation or exc}") from None
    except (requests.exceptions.RequestException, ConnectionError) as exc:
        raise EngineUnreachable(f"lost the Docker Engine while reading {reference!r} "
                                f"({type(exc).__name__})") from None
    finally:
        if raw is not None:
            raw.close()
    if image_id and image.id != image_id:
        raise SourceError(f"the engine saved {image.id}, not the inspected {image_id}")
    return dataclasses.replace(image, reference=reference)


def _save_over_unix_socket(api: Any, reference: str) -> IO[bytes] | None:
    """``GET /images/NAME/get`` as HTTP/1.0 straight on the engine's unix socket.

    The docker package reads the response in its 32 KiB chunked-encoding pieces through
    urllib3, in Python; that made our read four times slower than the engine can send.
    HTTP/1.0 gets the body unchunked, read in 1 MiB socket reads. Other transports (TCP
    with TLS, ssh) keep the docker package's path. None when this path does not apply.
    """
    host = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    if not host.startswith("unix://"):
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(TIMEOUT)
    try:
        sock.connect(host[len("unix://"):])
        path = f"/v{api.api_version}/images/{urllib.parse.quote(reference, safe='')}/get"
        sock.sendall(f"GET {path} HTTP/1.0\r\nHost: docker\r\n\r\n".encode())
        # Unbuffered: the headers are read a byte at a time (a few hundred bytes), so that
        # the body can then be read straight into the parser's own buffer.
        stream = sock.makefile("rb", buffering=0)
        status = _line(stream).split(None, 2)
        while _line(stream) not in (b"\r\n", b"\n", b""):
            pass  # headers: nothing in them that we need
    except OSError:
        return None  # let the docker package try, and say what is wrong
    finally:
        sock.close()  # the file keeps the connection open until it is closed itself
    if len(status) < 2 or status[1] != b"200":
        body = stream.read(4096).decode("utf-8", "replace").strip()
        stream.close()
        raise SourceError(f"the Docker Engine could not save {reference!r}: {body[:200]}")
    return stream  # type: ignore[return-value]


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

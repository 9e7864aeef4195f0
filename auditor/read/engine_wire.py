"""The Docker Engine API spoken directly: HTTP/1.0 on the engine's unix socket.

Standard library only, so that the command line can ask for an image's save before it
imports anything else: the engine spends seconds before its first byte, and every import
done first would be added to the scan. ``auditor.sources.engine`` reads the answer.
"""

from __future__ import annotations

import json
import os
import socket
import urllib.parse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from auditor.errors import AuditorError, EngineUnreachable, ImageNotFound, SourceError

if TYPE_CHECKING:
    from auditor.read.prefetch import SocketPrefetch

Chunks = Callable[[], "bytes | memoryview"]  # the next piece of an answer; empty at its end

TIMEOUT = 120.0  # seconds without a byte from the engine before we give up (default)
_TIMEOUT = [TIMEOUT]  # --timeout sets it (source_flags.configure_sources)


def set_timeout(seconds: float) -> None:
    _TIMEOUT[0] = seconds


def timeout() -> float:
    """Seconds without a byte from the engine before a request fails."""
    return _TIMEOUT[0]
MAX_INSPECT = 16 * 1024 * 1024
# The SOURCE prefixes that name files, not engine images (auditor.sources.FILE_SOURCES).
FILE_PREFIXES = ("docker-archive", "oci-dir", "oci", "oci-archive")
REGISTRY_PREFIXES = ("registry",)  # auditor.sources.registry: never the engine's
ENGINE_PREFIXES = ("docker", "docker-daemon")
# Engines other than the one DOCKER_HOST names (auditor.sources.ENGINE_SOURCES).
OTHER_ENGINE_PREFIXES = ("podman",)


DOCKER_DEFAULT = "/var/run/docker.sock"
PODMAN_ROOTFUL = "/run/podman/podman.sock"
PODMAN_TIP = ("start podman's API: `podman system service --time=0` (as root it listens on "
              f"{PODMAN_ROOTFUL}, rootless on $XDG_RUNTIME_DIR/podman/podman.sock), or set "
              "CONTAINER_HOST=unix:///path/podman.sock")
# The hosts that podman_host() chose: errors about them name podman, not Docker.
_PODMAN_HOSTS: set[str] = set()


def podman_host() -> str:
    """Podman's Docker-compatible API: CONTAINER_HOST, else the rootless socket (not as
    root) or the rootful one, the first that exists."""
    host = os.environ.get("CONTAINER_HOST")
    if not host:
        paths = [PODMAN_ROOTFUL]
        if os.getuid() != 0:
            runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
            paths.insert(0, os.path.join(runtime, "podman", "podman.sock"))
        host = "unix://" + next((p for p in paths if os.path.exists(p)), paths[0])
    _PODMAN_HOSTS.add(host)
    return host


def docker_host() -> str:
    """DOCKER_HOST, else Docker's socket; podman's when Docker has none and podman has."""
    host = os.environ.get("DOCKER_HOST")
    if host:
        return host
    if not os.path.exists(DOCKER_DEFAULT):
        podman = podman_host()
        if podman.startswith("unix://") and os.path.exists(podman[len("unix://"):]):
            return podman
    return "unix://" + DOCKER_DEFAULT


def engine_name(host: str) -> str:
    """How errors name the engine at ``host``."""
    return "podman" if host in _PODMAN_HOSTS else "the Docker Engine"


def unreachable(host: str, exc: BaseException) -> EngineUnreachable:
    if host in _PODMAN_HOSTS:
        return EngineUnreachable(f"cannot reach podman's API at {host} ({why(exc)})",
                                 tip=PODMAN_TIP)
    return EngineUnreachable(f"cannot reach a Docker Engine at {host} ({why(exc)})")


def engine_reference(source: str) -> str | None:
    """The engine image that SOURCE names, or None when it names a file or nothing."""
    prefix, sep, rest = source.partition(":")
    if sep and prefix in FILE_PREFIXES + REGISTRY_PREFIXES + OTHER_ENGINE_PREFIXES:
        return None
    if sep and prefix in ENGINE_PREFIXES and rest:
        return rest
    if not source or os.path.exists(source):
        return None
    if "/" in source and (source.startswith((".", "/")) or source.endswith((".tar", ".tgz"))):
        return None
    return source


def why(exc: BaseException) -> str:
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


def not_found(reference: str, host: str | None = None) -> ImageNotFound:
    engine = engine_name(host or docker_host())
    tool = "podman" if engine == "podman" else "docker"
    return ImageNotFound(f"{engine} has no image {reference!r}",
                         tip=f"build or pull it first, or check `{tool} images {reference}`")


class EngineSilent(EngineUnreachable):
    """The engine took the connection and then sent nothing for --timeout seconds."""


class Requested:
    """An image's save asked for on ``sock`` and read ahead from then on, and the image
    inspected."""

    def __init__(self, info: dict[str, Any], sock: socket.socket,
                 reader: SocketPrefetch | None = None) -> None:
        self.info = info
        self.sock = sock
        self.reader = reader

    def read_ahead(self) -> SocketPrefetch:
        """The answer, head and body, read ahead by a thread (started once). Its ``close``
        closes the socket."""
        if self.reader is None:
            self.reader = _read_ahead(self.sock)
        return self.reader

    def close(self) -> None:
        if self.reader is not None:
            self.reader.close()
        self.sock.close()


# How many 4 MiB buffers the reader keeps ahead of the parse once it runs (SocketPrefetch's
# ``steady``), measured on the Go fixture (1.3 GB): with sixteen, Docker 20.10's and 26's
# saves took 0.4 to 0.9 s longer from first byte to last and the scan's system time
# doubled (the reader, always waiting in recv, woken for each small piece the engine
# writes); with three, podman's took about 0.3 s longer, and sixteen cost it no system
# time (it writes the save to a file before the first byte and seems to send that in
# large pieces, so the parse is the slower side).
STEADY_DOCKER, STEADY_PODMAN = 3, 16


def _read_ahead(sock: socket.socket, steady: int = STEADY_DOCKER) -> SocketPrefetch:
    from auditor.read.prefetch import SocketPrefetch

    return SocketPrefetch(sock, steady=steady, idle_timeout=timeout())


# Saves asked for ahead of time by start_early(), by (host, reference); or why the engine
# did not answer, so that a silent engine costs one timeout, not one for each attempt.
_EARLY: dict[tuple[str, str], Requested | AuditorError] = {}


def early_target(source: str) -> tuple[str, str] | None:
    """The unix socket and the image that ``auditor scan SOURCE`` will ask for a save, when
    SOURCE names an engine's image (``podman:REF``, ``docker:REF`` or a bare reference,
    which asks DOCKER_HOST's engine first); None for files, registries and TCP engines."""
    prefix, sep, rest = source.partition(":")
    if sep and prefix == "podman" and rest:
        host, reference = podman_host(), rest
    else:
        found = engine_reference(source)
        if found is None:
            return None
        host, reference = docker_host(), found
    return (host, reference) if host.startswith("unix://") else None


def start_early(source: str) -> None:
    """Ask for the save of the engine image SOURCE names now, read its answer ahead, and
    inspect the image: the engine prepares the stream (seconds, for a big image, in the
    classic store and podman) or starts sending at once (the containerd store, within
    tens of milliseconds), while the command line loads its policy and the detectors.
    Any failure is left for open_engine_image to meet again and report, after the
    command line has checked its own arguments."""
    target = early_target(source)
    if target is None or target in _EARLY:
        return
    try:
        _EARLY[target] = request_save(*target)
    except EngineSilent as exc:
        _EARLY[target] = exc
    except (AuditorError, OSError):
        pass


def take_early(host: str, reference: str) -> Requested | None:
    """The save start_early() asked for, if it did; raises again the timeout it met."""
    early = _EARLY.pop((host, reference), None)
    if isinstance(early, AuditorError):
        raise early
    return early


def request_save(host: str, reference: str) -> Requested:
    """Inspect the image, then ask for its save on a connection of its own and read the
    answer ahead from then on. (Asking for the save first gains a round trip of a few
    milliseconds and costs more: the inspection then waits on the engine's preparing,
    half a second for podman.)"""
    path = host[len("unix://"):]
    quoted = urllib.parse.quote(reference, safe="")
    info = inspect(host, reference)
    sock = connect(host, path)
    try:
        sock.sendall(f"GET /images/{quoted}/get HTTP/1.0\r\nHost: docker\r\n\r\n".encode())
    except OSError as exc:
        sock.close()
        raise EngineUnreachable(f"lost {engine_name(host)} at {host} ({why(exc)})") from None
    steady = STEADY_PODMAN if host in _PODMAN_HOSTS else STEADY_DOCKER
    return Requested(info, sock, _read_ahead(sock, steady))


def inspect(host: str, reference: str) -> dict[str, Any]:
    """The engine's inspection of image ``reference``."""
    path = host[len("unix://"):]
    quoted = urllib.parse.quote(reference, safe="")
    status, stream = request(host, path, f"/images/{quoted}/json")
    with stream:
        body = read_body(stream, MAX_INSPECT)
    if status == 404:
        raise not_found(reference, host)
    if status != 200:
        raise SourceError(f"{engine_name(host)} refused to inspect {reference!r}: "
                          f"{error_message(body)}")
    try:
        info = json.loads(body)
    except (ValueError, RecursionError):
        info = None
    if not isinstance(info, dict):
        raise SourceError(f"{engine_name(host)}'s inspection of {reference!r} is not an object")
    return info


def connect(host: str, path: str, seconds: float | None = None) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout() if seconds is None else seconds)
    try:
        sock.connect(path)
    except OSError as exc:
        sock.close()
        raise unreachable(host, exc) from None
    return sock


def request(host: str, path: str, url: str, seconds: float | None = None
            ) -> tuple[int, Any]:
    """A GET on the engine's socket: the status, and the body as a file."""
    sock = connect(host, path, seconds)
    try:
        sock.sendall(f"GET {url} HTTP/1.0\r\nHost: docker\r\n\r\n".encode())
        stream = sock.makefile("rb", buffering=0)
        return read_status(stream), stream
    except TimeoutError:
        raise EngineSilent(f"the Docker Engine at {host} sent nothing for "
                           f"{sock.gettimeout():g} s", tip="check the engine, or give it "
                           "longer with --timeout SECONDS") from None
    except OSError as exc:
        raise unreachable(host, exc) from None
    finally:
        sock.close()


def get_json(host: str, url: str, seconds: float | None = None) -> Any:
    """The JSON document a GET on a ``unix://`` engine answers with status 200."""
    status, stream = request(host, host[len("unix://"):], url, seconds)
    with stream:
        body = read_body(stream, MAX_INSPECT)
    if status != 200:
        raise SourceError(f"the Docker Engine answered {url} with {status}: "
                          f"{error_message(body)}")
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise SourceError(f"the Docker Engine's answer to {url} is not JSON") from None


def read_status(stream: Any) -> int:
    """Read the status line and headers (byte by byte: the body must stay unread)."""
    first = read_line(stream)
    while read_line(stream) not in (b"\r\n", b"\n", b""):
        pass  # headers: nothing in them that we need
    return _status(first)


def _status(line: bytes) -> int:
    words = line.split(None, 2)
    if len(words) < 2 or not words[1].isdigit():  # bytes.isdigit: ASCII digits only
        raise SourceError("the Docker Engine sent no HTTP status")
    return int(words[1])


MAX_HEAD = 64 * 1024  # an answer's status line and headers


def split_answer(chunks: Chunks) -> tuple[int, Chunks]:
    """An HTTP answer read in chunks (``SocketPrefetch.next_chunk``): its status, and its
    body's chunks, the first of them the rest of the chunk where the head ended. Each
    chunk is valid until the next is taken, as from ``chunks`` itself."""
    head = b""
    while True:
        chunk = chunks()
        if not chunk:
            where = "in its headers" if head else "before its HTTP status"
            raise SourceError(f"the Docker Engine's answer ends {where}")
        start = len(head)
        head += bytes(chunk[:MAX_HEAD + 4 - start])
        end = _end_of_head(head, max(0, start - 3))
        if end is not None:
            break
        if len(head) > MAX_HEAD:
            raise SourceError(f"the Docker Engine's answer has over {MAX_HEAD} bytes of "
                              "headers")
    status = _status(head[:head.find(b"\n") + 1])
    rest = [chunk[end - start:]]

    def body() -> bytes | memoryview:
        if rest:
            first = rest.pop()
            if first:
                return first
        return chunks()

    return status, body


def _end_of_head(head: bytes, start: int) -> int | None:
    """Where the body begins: after the first empty line (CRLF or bare LF ends)."""
    ends = [at + len(mark) for mark in (b"\r\n\r\n", b"\n\n")
            if (at := head.find(mark, start)) >= 0]
    return min(ends) if ends else None


def read_chunks(chunks: Chunks, limit: int) -> bytes:
    """The rest of an answer read in chunks; more than ``limit`` bytes is an error."""
    parts = []
    size = 0
    while chunk := chunks():
        parts.append(bytes(chunk))
        size += len(chunk)
        if size > limit:
            raise SourceError(f"the Docker Engine's answer is larger than {limit} bytes")
    return b"".join(parts)


def error_message(body: bytes) -> str:
    """The engine's error message from its JSON error body, or the body itself."""
    try:
        doc = json.loads(body)
        if isinstance(doc, dict) and isinstance(doc.get("message"), str):
            return str(doc["message"])[:200]
    except (ValueError, RecursionError):
        pass
    return body.decode("utf-8", "replace").strip()[:200]


def read_body(stream: Any, limit: int) -> bytes:
    """The rest of a response, to the end of the connection (an unbuffered socket file
    gives what has arrived, not all of it); more than ``limit`` bytes is an error."""
    return read_chunks(lambda: stream.read(1 << 16), limit)


def read_line(stream: Any, limit: int = 8192) -> bytes:
    out = bytearray()
    while len(out) < limit:
        byte = stream.read(1)
        if not byte:
            break
        out += byte
        if byte == b"\n":
            break
    return bytes(out)



"""The engine's HTTP/1.0 answers as they arrive on a socket: in pieces, or too big."""

import socket
import threading
import time

import pytest

from auditor.errors import SourceError
from auditor.read import engine_wire as wire


class Trickle:
    """A socket file that gives at most a few bytes a read, as a busy socket does."""

    def __init__(self, data: bytes, step: int = 7) -> None:
        self.data, self.step, self.pos = data, step, 0

    def read(self, n: int) -> bytes:
        chunk = self.data[self.pos:self.pos + min(n, self.step)]
        self.pos += len(chunk)
        return chunk


def test_a_body_that_arrives_in_pieces_is_read_whole():
    body = b'{"Id": "sha256:' + b"a" * 5000 + b'"}'
    assert wire.read_body(Trickle(body), 1 << 20) == body


def test_a_body_over_the_limit_is_refused():
    with pytest.raises(SourceError, match="larger than"):
        wire.read_body(Trickle(b"x" * 100, step=30), 50)


def test_status_line_and_headers_leave_the_body_unread():
    stream = Trickle(b"HTTP/1.0 404 Not Found\r\nContent-Type: application/json\r\n\r\n"
                     b'{"message": "No such image: x:y"}', step=3)
    assert wire.read_status(stream) == 404
    assert wire.error_message(wire.read_body(stream, 1 << 16)) == "No such image: x:y"


def test_inspect_answer_sent_slowly_over_a_real_socket(tmp_path):
    path = str(tmp_path / "engine.sock")
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen(2)
    info = b'{"Id": "sha256:' + b"b" * 64 + b'", "Size": 12, "RepoTags": ["x:1"]}'

    def serve() -> None:
        for _ in range(2):
            conn, _ = server.accept()
            request = conn.recv(4096)
            if b"/json " in request:
                conn.sendall(b"HTTP/1.0 200 OK\r\n\r\n")
                for i in range(0, len(info), 10):  # the body in small, separate sends
                    conn.sendall(info[i:i + 10])
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    requested = wire.request_save(f"unix://{path}", "x:1")
    requested.sock.close()
    thread.join(5)
    server.close()
    assert requested.info["Size"] == 12 and requested.info["Id"].endswith("b" * 64)


def test_engine_reference_tells_images_from_files(tmp_path):
    (tmp_path / "img.tar").write_bytes(b"")
    assert wire.engine_reference("myapp:latest") == "myapp:latest"
    assert wire.engine_reference("docker:myapp") == "myapp"
    assert wire.engine_reference(f"docker-archive:{tmp_path}/img.tar") is None
    assert wire.engine_reference(str(tmp_path / "img.tar")) is None
    assert wire.engine_reference("./missing.tar") is None


def test_the_file_prefixes_it_knows_are_the_file_sources():
    from auditor.sources import FILE_SOURCES

    assert tuple(FILE_SOURCES) == wire.FILE_PREFIXES


def pieces(*parts: bytes):
    """A chunk source as SocketPrefetch.next_chunk is: the parts, then empty."""
    it = iter(parts)
    return lambda: next(it, b"")


def test_an_answer_read_in_chunks_splits_at_the_end_of_its_head():
    status, body = wire.split_answer(pieces(b"HTTP/1.0 200 OK\r\nA: b\r", b"\n\r\nTAR",
                                            b"MORE"))
    assert status == 200
    assert [bytes(body()), bytes(body()), bytes(body())] == [b"TAR", b"MORE", b""]


def test_a_head_that_ends_a_chunk_gives_the_next_chunk_first():
    status, body = wire.split_answer(pieces(b"HTTP/1.0 404 Not Found\n\n", b'{"message": "no"}'))
    assert status == 404 and wire.error_message(wire.read_chunks(body, 100)) == "no"


@pytest.mark.parametrize("parts, words", [
    ((), "ends before its HTTP status"),
    ((b"HTTP/1.0 200 OK\r\nA: b",), "ends in its headers"),
    ((b"garbage\r\n\r\nbody",), "no HTTP status"),
    ((b"HTTP/1.0 2\xc2\xb2 OK\r\n\r\n",), "no HTTP status"),
    ((b"HTTP/1.0 200 OK\r\n" + b"X: y\r\n" * 20000,), "headers"),
])
def test_an_answer_without_a_proper_head_is_one_error(parts, words):
    with pytest.raises(SourceError, match=words):
        wire.split_answer(pieces(*parts))


def test_an_error_body_over_the_limit_is_refused():
    _status, body = wire.split_answer(pieces(b"HTTP/1.0 500 x\r\n\r\n", b"y" * 60, b"y" * 60))
    with pytest.raises(SourceError, match="larger than"):
        wire.read_chunks(body, 100)


def serve_once(tmp_path, script):
    """A unix socket whose one connection is handed to ``script(conn)``; the client end."""
    path = str(tmp_path / "s.sock")
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen(1)

    def run() -> None:
        conn, _ = server.accept()
        with conn:
            script(conn)
        server.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    client = socket.socket(socket.AF_UNIX)
    client.connect(path)
    return client, thread


def test_the_reader_reads_ahead_before_anyone_asks(tmp_path):
    from auditor.read.prefetch import SocketPrefetch

    sent = threading.Event()

    def script(conn):
        conn.sendall(b"HTTP/1.0 200 OK\r\n\r\n" + b"z" * (3 << 20))
        sent.set()

    client, thread = serve_once(tmp_path, script)
    reader = SocketPrefetch(client, chunk=1 << 20, depth=6, idle_timeout=5)
    # Far more than a unix socket buffers: only a reader already reading lets it all go.
    assert sent.wait(5)
    counted: list[int] = []
    reader.report_to(counted.append)  # what was read before it was asked is told at once
    assert counted and counted[0] >= 2 << 20
    status, body = wire.split_answer(reader.next_chunk)
    assert status == 200 and len(wire.read_chunks(body, 4 << 20)) == 3 << 20
    assert sum(counted) == (3 << 20) + 19
    reader.close()
    thread.join(5)


def test_the_read_ahead_is_deep_until_the_parse_starts_then_steady(tmp_path):
    # Before the owner takes a chunk, up to ``depth`` buffers fill (the command is loading);
    # once it parses, the reader keeps at most ``steady`` ahead, so an engine faster than
    # the parse is held to its pace instead of being read 64 MiB ahead of it.
    from auditor.read.prefetch import SocketPrefetch

    mib = 1 << 20
    payload = bytes(range(256)) * (40 * mib // 256)

    def script(conn):
        conn.sendall(payload)

    client, thread = serve_once(tmp_path, script)
    received: list[int] = []
    reader = SocketPrefetch(client, chunk=mib, depth=8, steady=3, idle_timeout=5)
    reader.report_to(received.append)
    deadline = time.monotonic() + 5
    while sum(received) < 8 * mib and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)
    assert sum(received) == 8 * mib  # the burst: depth buffers, and no more
    data = bytearray()
    ahead = []
    while chunk := reader.next_chunk():
        data += chunk
        time.sleep(0.005)  # a parse slower than the socket
        ahead.append(sum(received) - len(data))
    assert bytes(data) == payload
    # the burst drains, then the reader is never more than steady buffers ahead
    assert max(ahead[12:]) <= 3 * mib, ahead
    reader.close()
    thread.join(5)


def test_a_pause_longer_than_the_timeout_inside_a_chunk_loses_nothing(tmp_path):
    # SO_RCVTIMEO bounds a whole MSG_WAITALL recv: after some bytes and a long pause it
    # returns a part of the chunk, which is not the end of the stream.
    from auditor.read.prefetch import SocketPrefetch

    def script(conn):
        conn.sendall(b"a" * 1000)
        time.sleep(0.7)
        conn.sendall(b"b" * 1000)
        time.sleep(0.7)
        conn.sendall(b"c" * 1000)

    client, thread = serve_once(tmp_path, script)
    reader = SocketPrefetch(client, chunk=1 << 20, depth=2, idle_timeout=0.5)
    data = b""
    while chunk := reader.next_chunk():
        data += bytes(chunk)
    assert data == b"a" * 1000 + b"b" * 1000 + b"c" * 1000
    reader.close()
    thread.join(5)


def test_a_silent_engine_times_out(tmp_path):
    from auditor.read.prefetch import SocketPrefetch

    done = threading.Event()
    client, thread = serve_once(tmp_path, lambda conn: done.wait(5))
    reader = SocketPrefetch(client, idle_timeout=0.3)
    with pytest.raises(TimeoutError, match=r"nothing for 0\.3 s"):
        reader.next_chunk()
    done.set()
    reader.close()
    thread.join(5)


def test_start_early_reads_the_answer_before_it_is_taken(tmp_path, monkeypatch):
    # The containerd store sends at once: what start_early asked for must be read while the
    # command loads, not stall the engine on a full socket until the source takes it.
    path = str(tmp_path / "engine.sock")
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen(2)
    sent = threading.Event()

    def serve() -> None:
        for _ in range(2):
            conn, _ = server.accept()
            with conn:
                request = conn.recv(4096)
                if b"/json " in request:
                    conn.sendall(b'HTTP/1.0 200 OK\r\n\r\n{"Id": "sha256:' + b"c" * 64 + b'"}')
                else:
                    conn.sendall(b"HTTP/1.0 200 OK\r\n\r\n" + b"t" * (3 << 20))
                    sent.set()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    monkeypatch.setenv("DOCKER_HOST", f"unix://{path}")
    wire.start_early("early:1")
    try:
        assert sent.wait(5), "nobody read the answer before it was taken"
        requested = wire.take_early(f"unix://{path}", "early:1")
        assert requested is not None and requested.reader is not None
        status, body = wire.split_answer(requested.read_ahead().next_chunk)
        assert status == 200 and len(wire.read_chunks(body, 4 << 20)) == 3 << 20
        requested.close()
    finally:
        thread.join(5)
        server.close()


@pytest.mark.parametrize("engine", ["docker", "podman"])
def test_the_read_ahead_kept_in_steady_state_is_the_engines(tmp_path, monkeypatch, engine):
    # Docker's saves are read three buffers ahead, podman's sixteen (engine_wire's
    # STEADY_* say what was measured); which one is decided by how the host was chosen.
    path = str(tmp_path / "engine.sock")
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen(2)

    def serve() -> None:
        for _ in range(2):
            conn, _ = server.accept()
            with conn:
                if b"/json " in conn.recv(4096):
                    conn.sendall(b'HTTP/1.0 200 OK\r\n\r\n{"Id": "sha256:' + b"c" * 64 + b'"}')
                else:
                    conn.sendall(b"HTTP/1.0 200 OK\r\n\r\n" + b"t" * 1000)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    if engine == "podman":
        monkeypatch.setenv("CONTAINER_HOST", f"unix://{path}")
        host = wire.podman_host()
    else:
        host = f"unix://{path}"
    try:
        requested = wire.request_save(host, "img:1")
        reader = requested.read_ahead()
        expected = wire.STEADY_PODMAN if engine == "podman" else wire.STEADY_DOCKER
        assert reader._steady == expected
        status, body = wire.split_answer(reader.next_chunk)
        assert status == 200 and wire.read_chunks(body, 4096) == b"t" * 1000
        requested.close()
    finally:
        thread.join(5)
        server.close()
        wire._PODMAN_HOSTS.discard(f"unix://{path}")


def test_the_parser_is_built_before_the_report_model_loads():
    # start_early asks for the save once the arguments are parsed: whatever the parser
    # imports delays the request.
    import subprocess
    import sys

    code = ("import sys; from auditor.cli_parser import build_parser; build_parser(); "
            "heavy = [m for m in ('auditor.model.result', 'auditor.detectors', "
            "'auditor.reports.json') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"

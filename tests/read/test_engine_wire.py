"""The engine's HTTP/1.0 answers as they arrive on a socket: in pieces, or too big."""

import socket
import threading

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

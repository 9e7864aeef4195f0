"""An image path that is not a regular file (a FIFO, a device) is refused before a read,
never waited on; an image on standard input that never comes is waited on for --timeout
seconds, not forever. Each run is in a thread with a join bound: a regression fails the
test instead of hanging the suite."""

from __future__ import annotations

import contextlib
import io
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from auditor.cli import main
from tests.imagekit import docker_save
from tests.layerkit import D, F, layer

LAYERS = [layer(D("/etc"), F("/etc/hostname", "box\n"))]
BOUND = 30.0  # seconds a run may take before the test calls it a hang


def _bounded(run: Callable[[], int], unblock: Callable[[], None] = lambda: None) -> int:
    result: list[int] = []
    raised: list[BaseException] = []

    def target() -> None:
        try:
            result.append(run())
        except BaseException as exc:  # raised again in the test's thread
            raised.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(BOUND)
    if thread.is_alive():
        unblock()
        thread.join(5)
        pytest.fail(f"the run blocked for more than {BOUND:g} s")
    if raised:
        raise raised[0]
    return result[0]


def _release(fifo: Path) -> None:
    """Open the FIFO's other end, so that a reader blocked in open() goes on."""
    with contextlib.suppress(OSError):
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


@pytest.mark.parametrize("prefix", ["", "docker-archive:", "oci-archive:"])
def test_a_fifo_as_the_image_is_refused_at_once(capsys: Any, tmp_path: Path,
                                                prefix: str) -> None:
    fifo = tmp_path / "image.tar"
    os.mkfifo(fifo)
    code = _bounded(lambda: main(["scan", f"{prefix}{fifo}", "--no-progress"]),
                    lambda: _release(fifo))
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and "is a FIFO, not a regular file" in err
    assert "docker-archive:-" in err  # the tip: standard input is the stream form


@pytest.mark.parametrize("prefix", ["", "docker-archive:", "oci-archive:"])
def test_a_device_as_the_image_is_refused_at_once(capsys: Any, prefix: str) -> None:
    code = _bounded(lambda: main(["scan", f"{prefix}/dev/zero", "--no-progress"]))
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "is a character device" in err


def test_a_fifo_as_a_mapped_blob_is_refused(tmp_path: Path) -> None:
    # the layout check stats blobs first; the mapped read checks the open file again
    from auditor.errors import SourceError
    from auditor.read.ranges import FileMaps

    fifo = tmp_path / "blob"
    os.mkfifo(fifo)
    maps = FileMaps()
    with pytest.raises(SourceError, match="is a FIFO"):
        _bounded(lambda: len(maps.mapping(str(fifo))), lambda: _release(fifo))


def _stdin_pipe(monkeypatch: pytest.MonkeyPatch) -> tuple[int, int]:
    read_end, write_end = os.pipe()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(os.fdopen(read_end, "rb")))
    return read_end, write_end


def test_a_stdin_that_never_sends_is_given_up_after_the_timeout(
        capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _read_end, write_end = _stdin_pipe(monkeypatch)
    try:  # the writer stays open and silent, as a stalled `docker save` would
        started = time.monotonic()
        code = _bounded(lambda: main(["scan", "docker-archive:-", "--timeout", "0.5",
                                      "--no-progress"]), lambda: os.close(write_end))
        took = time.monotonic() - started
    finally:
        with contextlib.suppress(OSError):
            os.close(write_end)
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "standard input sent nothing for 0.5 s" in err
    assert "--timeout" in err
    assert 0.4 < took < 10


def test_a_stdin_that_stalls_mid_stream_is_given_up_too(
        capsys: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    raw = docker_save(tmp_path / "img.tar", LAYERS).read_bytes()
    _read_end, write_end = _stdin_pipe(monkeypatch)
    os.write(write_end, raw[:1024])  # a header and a bit, then silence
    try:
        code = _bounded(lambda: main(["scan", "docker-archive:-", "--timeout", "0.5",
                                      "--no-progress"]), lambda: os.close(write_end))
    finally:
        with contextlib.suppress(OSError):
            os.close(write_end)
    err = capsys.readouterr().err
    assert code == 2 and "sent nothing for 0.5 s" in err


def test_a_stdin_that_sends_slowly_but_steadily_is_read_whole(
        capsys: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    raw = docker_save(tmp_path / "img.tar", LAYERS).read_bytes()
    _read_end, write_end = _stdin_pipe(monkeypatch)

    def trickle() -> None:
        with os.fdopen(write_end, "wb") as out:
            for at in range(0, len(raw), 4096):
                out.write(raw[at:at + 4096])
                out.flush()
                time.sleep(0.05)  # each pause well under the timeout

    writer = threading.Thread(target=trickle, daemon=True)
    writer.start()
    code = _bounded(lambda: main(["ls", "docker-archive:-", "--timeout", "2",
                                  "--no-progress"]))
    writer.join(BOUND)
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "/etc/hostname" in out


def test_a_terminal_on_stdin_is_refused(capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import pty

    controller, terminal = pty.openpty()
    try:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(os.fdopen(terminal, "rb")))
        code = _bounded(lambda: main(["scan", "docker-archive:-", "--no-progress"]))
    finally:
        os.close(controller)
    err = capsys.readouterr().err
    assert code == 2 and "standard input is a terminal" in err

"""``-o``: every file auditor writes is written whole or not at all, never through a link,
never into a FIFO, a directory or a device; and an error line stays one short line."""

from __future__ import annotations

import json
import os
import stat
import tarfile
from pathlib import Path
from typing import Any

import pytest

from auditor.cli import MAX_ERROR_TEXT, error_line
from auditor.errors import FormatError, UsageError
from auditor.outputs import written
from tests.imagekit import docker_save
from tests.layerkit import D, F, L, layer
from tests.test_cli_flags import one_error, run


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    return docker_save(tmp_path / "img.tar", [
        layer(D("/bin"), F("/bin/busybox", b"\x7fELF", mode=0o755), L("/bin/sh", "busybox")),
    ])


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    where = tmp_path / "out"
    where.mkdir()
    return where


def _dockerfile(tmp_path: Path) -> Path:
    path = tmp_path / "Dockerfile"
    path.write_text("FROM scratch\nCOPY busybox /bin/busybox\n")
    return path


def _commands(archive: Path, tmp_path: Path, target: str) -> dict[str, list[str]]:
    return {
        # told by the extension; /dev/null has none, and is named json=/dev/null
        "scan": ["scan", str(archive), "-q", "-o",
                 target if target.endswith(".json") or target == "-" else f"json={target}"],
        "scan-named": ["scan", str(archive), "-q", "-o", f"sarif={target}"],
        "fix": ["fix", str(archive), "--no-progress", "--dockerfile",
                str(_dockerfile(tmp_path)), "-o", target],
        "ls": ["ls", str(archive), "--no-progress", "-o", target],
    }


COMMANDS = ["scan", "scan-named", "fix", "ls"]


@pytest.mark.parametrize("command", COMMANDS)
def test_a_symlink_to_a_file_is_refused_and_its_target_untouched(
        capsys: Any, archive: Path, tmp_path: Path, out_dir: Path, command: str) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    (out_dir / "r.json").symlink_to(victim)
    code, _out, err = run(capsys, *_commands(archive, tmp_path, str(out_dir / "r.json"))[command])
    assert code == 2
    one_error(err, "is a symbolic link")
    assert victim.read_text() == "precious\n"
    assert (out_dir / "r.json").is_symlink()
    assert sorted(p.name for p in out_dir.iterdir()) == ["r.json"]  # nothing left behind


@pytest.mark.parametrize("command", COMMANDS)
def test_a_dangling_symlink_is_refused_and_nothing_is_created(
        capsys: Any, archive: Path, tmp_path: Path, out_dir: Path, command: str) -> None:
    (out_dir / "r.json").symlink_to(tmp_path / "created-by-the-write")
    code, _out, err = run(capsys, *_commands(archive, tmp_path, str(out_dir / "r.json"))[command])
    assert code == 2
    one_error(err, "is a symbolic link")
    assert not (tmp_path / "created-by-the-write").exists()
    assert sorted(p.name for p in out_dir.iterdir()) == ["r.json"]


@pytest.mark.parametrize("kind, needle", [
    ("fifo", "is a FIFO"), ("dir", "is a directory"), ("device", "is a character device"),
    ("socket", "is a socket")])
@pytest.mark.parametrize("command", COMMANDS)
def test_what_is_not_a_regular_file_is_refused_without_blocking(
        capsys: Any, archive: Path, tmp_path: Path, out_dir: Path, command: str, kind: str,
        needle: str) -> None:
    target = out_dir / "r.json"
    if kind == "fifo":
        os.mkfifo(target)  # opening it for writing would wait for a reader forever
    elif kind == "dir":
        target.mkdir()
    elif kind == "socket":
        import socket

        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(target))
        sock.close()
    else:
        target = Path("/dev/null")
    code, _out, err = run(capsys, *_commands(archive, tmp_path, str(target))[command])
    assert code == 2
    one_error(err, needle)
    assert [p.name for p in out_dir.iterdir()] == ([] if kind == "device" else ["r.json"])


@pytest.mark.parametrize("command", COMMANDS)
def test_a_missing_directory_is_refused(capsys: Any, archive: Path, tmp_path: Path,
                                        command: str) -> None:
    target = str(tmp_path / "no" / "such" / "r.json")
    code, _out, err = run(capsys, *_commands(archive, tmp_path, target)[command])
    assert code == 2
    one_error(err, "is not a directory")


def test_a_bad_target_is_found_before_the_image_is_read(capsys: Any, tmp_path: Path) -> None:
    (tmp_path / "r.json").symlink_to("/etc/passwd")
    code, _out, err = run(capsys, "scan", str(tmp_path / "no-such.tar"), "-o",
                          str(tmp_path / "r.json"))
    assert code == 2
    one_error(err, "is a symbolic link")


@pytest.mark.parametrize("command", COMMANDS)
def test_a_regular_file_is_replaced_whole_keeping_its_permissions(
        capsys: Any, archive: Path, tmp_path: Path, out_dir: Path, command: str) -> None:
    target = out_dir / "r.json"
    target.write_text("old\n")
    target.chmod(0o640)
    other_name = tmp_path / "hard"
    os.link(target, other_name)  # a hard link to it keeps the old content: a new file
    code, _out, err = run(capsys, *_commands(archive, tmp_path, str(target))[command])
    assert code in (0, 1), err
    text = target.read_text()
    assert text != "old\n" and text
    if command == "scan":
        assert json.loads(text)["schema"] == "auditor/report/v1"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert other_name.read_text() == "old\n"
    assert sorted(p.name for p in out_dir.iterdir()) == ["r.json"]


def test_a_new_file_gets_the_mode_of_any_new_file(archive: Path, out_dir: Path,
                                                  capsys: Any) -> None:
    old = os.umask(0o027)
    try:
        code, _out, err = run(capsys, "scan", str(archive), "-q", "-o",
                              str(out_dir / "r.json"))
    finally:
        os.umask(old)
    assert code == 1, err
    assert stat.S_IMODE((out_dir / "r.json").stat().st_mode) == 0o640


@pytest.mark.parametrize("command", ["fix", "ls"])
def test_dash_is_standard_output(capsys: Any, archive: Path, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch, command: str) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, *_commands(archive, tmp_path, "-")[command])
    assert code == 0, err
    assert ("/bin/busybox" in out) if command == "ls" else out.startswith("# syntax") or \
        "FROM" in out
    assert not (tmp_path / "-").exists()


def test_a_write_that_fails_half_way_leaves_the_old_file_and_no_temporary(
        out_dir: Path) -> None:
    target = out_dir / "r.json"
    target.write_text("old\n")
    with pytest.raises(RuntimeError), written(str(target)) as fh:
        fh.write("half a report")
        raise RuntimeError("the writer broke")
    assert target.read_text() == "old\n"
    assert [p.name for p in out_dir.iterdir()] == ["r.json"]


def test_a_failed_flush_to_disk_is_one_error_and_leaves_nothing(
        out_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_room(_fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_room)
    with pytest.raises(UsageError, match="No space left"), written(str(out_dir / "r")) as fh:
        fh.write("x")
    assert list(out_dir.iterdir()) == []


def test_a_target_swapped_for_a_directory_meanwhile_is_refused(out_dir: Path) -> None:
    target = out_dir / "r.json"
    with pytest.raises(UsageError, match="is a directory"), written(str(target)) as fh:
        fh.write("x")
        target.mkdir()
    assert [p.name for p in out_dir.iterdir()] == ["r.json"]
    assert target.is_dir() and list(target.iterdir()) == []


def test_a_link_planted_meanwhile_is_refused_not_followed(out_dir: Path,
                                                          tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    target = out_dir / "r.json"
    with pytest.raises(UsageError, match="symbolic link"), written(str(target)) as fh:
        fh.write("report\n")
        target.symlink_to(victim)
    assert victim.read_text() == "precious\n"
    assert [p.name for p in out_dir.iterdir()] == ["r.json"] and target.is_symlink()


# -- the error line ---------------------------------------------------------------------

def test_an_error_line_is_capped_and_inert() -> None:
    line = error_line(FormatError("bad " + "\x1b[2J" * 5000 + "x" * 5000, tip="t" * 900))
    assert "\n" not in line and "\x1b" not in line
    assert len(line) < MAX_ERROR_TEXT + 400
    assert "more characters]" in line
    short = error_line(FormatError("short and\nsweet"))
    assert short == "error: short and sweet"


def test_an_image_that_names_a_long_config_gets_a_short_error_line(
        capsys: Any, tmp_path: Path) -> None:
    import io

    path = tmp_path / "img.tar"
    manifest = json.dumps([{"Config": "\x1b]0;pwned\x07" + "c" * 100_000 + ".json",
                            "RepoTags": ["a:b"], "Layers": []}]).encode()
    with tarfile.open(path, "w") as tf:
        info = tarfile.TarInfo("manifest.json")
        info.size = len(manifest)
        tf.addfile(info, io.BytesIO(manifest))
    code, _out, err = run(capsys, "scan", str(path))
    assert code == 2
    one_error(err, "more characters]")
    assert len(err) < MAX_ERROR_TEXT + 300 and "\x1b" not in err and "\x07" not in err

"""The files named beside the image (policies, baselines, Dockerfiles): regular files only,
size-capped, each problem one error line. FIFOs and devices are real ones, made here."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from auditor.errors import PolicyError, UsageError
from auditor.inputs import BASELINE, DOCKERFILE, POLICY_FILE, InputKind, read_bytes, read_text
from tests.imagekit import docker_save
from tests.layerkit import F, layer

ROOT = Path(__file__).resolve().parent.parent
SMALL = InputKind("test file", 16, UsageError)


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "fifo"
    os.mkfifo(path)
    return path


def test_a_regular_file_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"0123456789abcdef")
    assert read_bytes(path, SMALL) == b"0123456789abcdef"


def test_a_fifo_is_refused_at_once_without_waiting_for_a_writer(fifo: Path) -> None:
    with pytest.raises(UsageError, match="it is a FIFO, not a regular file"):
        read_bytes(fifo, SMALL)


@pytest.mark.parametrize(("path", "what"), [("/dev/zero", "a character device"),
                                            ("/", "a directory")])
def test_devices_and_directories_are_refused(path: str, what: str) -> None:
    with pytest.raises(PolicyError, match=f"it is {what}, not a regular file"):
        read_bytes(path, POLICY_FILE)


def test_a_file_over_the_cap_is_refused_with_its_own_sentence(tmp_path: Path) -> None:
    path = tmp_path / "big"
    path.write_bytes(b"x" * 17)
    with pytest.raises(UsageError, match="larger than"):
        read_bytes(path, SMALL)


def test_a_symlink_to_a_regular_file_is_followed_and_a_loop_is_one_sentence(
        tmp_path: Path) -> None:
    (tmp_path / "real").write_text("ok")
    (tmp_path / "link").symlink_to("real")
    (tmp_path / "loop").symlink_to("loop")
    assert read_text(tmp_path / "link", SMALL) == "ok"
    with pytest.raises(UsageError, match=r"cannot read test file .*loop"):
        read_text(tmp_path / "loop", SMALL)


def test_missing_and_not_utf8_are_one_sentence_each(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        read_text(tmp_path / "absent", SMALL)
    (tmp_path / "latin1").write_bytes(b"caf\xe9")
    with pytest.raises(UsageError, match="is not UTF-8 text"):
        read_text(tmp_path / "latin1", SMALL)


def test_the_documented_caps() -> None:
    assert (POLICY_FILE.max_bytes, BASELINE.max_bytes, DOCKERFILE.max_bytes) == (
        1 << 20, 64 << 20, 1 << 20)
    guide = (ROOT / "docs" / "guide.md").read_text(encoding="utf-8")
    assert "policy file" in guide and "1 MiB" in guide and "64 MiB" in guide


# -- through the command line, in a subprocess: a regression would block, not fail ----------

@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return docker_save(tmp_path_factory.mktemp("img") / "img.tar",
                       [layer(F("/app/run", "#!/bin/true\n", mode=0o755))])


def auditor(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "auditor", *argv], capture_output=True,
                          text=True, timeout=60, cwd=cwd, env=env, stdin=subprocess.DEVNULL)


def one_error_line(done: subprocess.CompletedProcess[str], needle: str) -> None:
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr
    assert needle in done.stderr


@pytest.mark.parametrize("special", ["fifo", "/dev/zero"])
@pytest.mark.parametrize("where", ["--policy", "extends", "--baseline", "--dockerfile",
                                   "policy check", "fix --dockerfile"])
def test_no_named_input_can_block_or_exhaust_memory(tmp_path: Path, archive: Path,
                                                    where: str, special: str) -> None:
    target = str(tmp_path / "fifo") if special == "fifo" else special
    if special == "fifo":
        os.mkfifo(target)
    what = "a FIFO" if special == "fifo" else "a character device"
    argv = {
        "--policy": ["scan", str(archive), "--policy", target],
        "--baseline": ["scan", str(archive), "--baseline", target],
        "--dockerfile": ["scan", str(archive), "--dockerfile", target],
        "policy check": ["policy", "check", target],
        "fix --dockerfile": ["fix", str(archive), "--dockerfile", target],
        "extends": ["scan", str(archive), "--policy", "p.toml"],
    }[where]
    (tmp_path / "p.toml").write_text(f'extends = "{target}"\n')
    one_error_line(auditor(*argv, cwd=tmp_path), f"it is {what}, not a regular file")


@pytest.mark.parametrize(("flag", "noun"), [("--policy", "policy file"),
                                            ("--baseline", "baseline"),
                                            ("--dockerfile", "Dockerfile")])
def test_a_huge_input_file_is_refused_before_it_is_parsed(tmp_path: Path, archive: Path,
                                                          flag: str, noun: str) -> None:
    big = tmp_path / "big"
    big.write_bytes(b" " * (65 << 20))
    one_error_line(auditor("scan", str(archive), flag, str(big), cwd=tmp_path),
                   f"{noun} {big} is larger than")

"""The README's first command, as written, on Debian's own Python: a fresh copy of the
repository, a venv made by /usr/bin/python3 (which refuses a bare ``pip install``,
PEP 668), the package installed into it, and the embedded image audited.

It needs /usr/bin/python3 with its venv module (Debian's python3-venv): it skips without
them, except where AUDITOR_REQUIRE_SYSTEM_PYTHON=1 (CI sets it), where that is a failure.
The ``apt-get`` part of the command is not run here; the test checks that it installs the
package the rest needs."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

SYSTEM_PYTHON = Path("/usr/bin/python3")


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```sh\n(.*?)```", text, re.S)
    assert block is not None
    return [line.split("  #", 1)[0].strip() for line in block.group(1).splitlines()]


def test_the_readme_has_two_commands_the_second_is_ci() -> None:
    first, second = readme_commands()
    assert second.startswith("bash .ci/run")
    parts = [shlex.split(p) for p in first.split(" && ")]
    assert parts[0] == ["apt-get", "update", "-q"]
    assert parts[1][:2] == ["apt-get", "install"] and "python3-venv" in parts[1]
    assert parts[2] == ["python3", "-m", "venv", ".venv"]
    # CI installs the same way (.ci/run's python-packages step)
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "python3 -m venv .venv" in ci and ".venv/bin/pip install" in ci


def _system_python_problem() -> str | None:
    if not SYSTEM_PYTHON.exists():
        return f"{SYSTEM_PYTHON} is not installed"
    probe = subprocess.run([str(SYSTEM_PYTHON), "-c", "import ensurepip, venv"],
                           capture_output=True, check=False)
    return "python3-venv is not installed" if probe.returncode else None


def fresh_copy(dest: Path) -> None:
    """The repository's files as a checkout has them (tracked and new, not ignored)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                             "--exclude-standard"], cwd=ROOT, capture_output=True,
                            check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        src, dst = ROOT / name, dest / name
        if not src.exists() and not src.is_symlink():
            continue  # deleted in the work tree
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            dst.symlink_to(os.readlink(src))
        else:
            dst.write_bytes(src.read_bytes())


def test_the_first_command_on_debians_own_python(tmp_path: Path) -> None:
    problem = _system_python_problem()
    if problem:
        if os.environ.get("AUDITOR_REQUIRE_SYSTEM_PYTHON") == "1":
            pytest.fail(problem)
        pytest.skip(problem)
    first = readme_commands()[0]
    command = " && ".join(p for p in first.split(" && ") if not p.startswith("apt-get"))
    fresh_copy(tmp_path)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    proc = subprocess.run(["sh", "-c", command], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "PASSED fixtures/default.tar" in proc.stdout
    venv_python = (tmp_path / ".venv" / "bin" / "python").resolve()
    assert venv_python == SYSTEM_PYTHON.resolve() or str(venv_python).startswith("/usr/bin")

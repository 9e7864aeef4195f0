"""The release literals read from real runtime binaries on this machine, through the same
reader the layer pass uses, against what the binaries print themselves."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from auditor.read.elf import read_elf_facts
from auditor.read.identity import release_pattern
from tests.inventory.test_runtimes import runtimes
from tests.layerkit import F, Spec


def _releases(path: str) -> tuple[str, ...]:
    pattern = release_pattern(path)
    assert pattern is not None
    with open(path, "rb") as f:
        facts = read_elf_facts(f.read(1024), f.read, os.path.getsize(path),
                               identify_as=".so" not in path, release=pattern)
    assert facts is not None
    return facts.releases


def _host(path: str) -> str:
    if not Path(path).is_file():
        pytest.skip(f"{path} is not installed on this machine")
    return path


def _printed(*argv: str) -> str:
    out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=30)
    return (out.stdout + out.stderr).split()[-1]


def test_debian_python_interpreter_holds_its_version() -> None:
    path = _host("/usr/bin/python3.11")
    assert _releases(path) == (_printed(path, "-V"),)


def test_debian_python_in_a_layer_is_listed_with_its_version() -> None:
    path = _host("/usr/bin/python3.11")
    layer: list[Spec] = [F("/usr/local/bin/python3.11", Path(path).read_bytes(), mode=0o755),
             F("/usr/local/lib/python3.11/os.py", b"# os\n")]
    [py] = runtimes(layer)
    assert (py.version, py.version_from) == (
        _printed(path, "-V"), "/usr/local/bin/python3.11 PY_VERSION string")


@pytest.mark.parametrize("path", ["/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0",
                                  *sorted(str(p) for p in Path("/root/.pyenv/versions").glob(
                                      "3.*/lib/libpython3.*.so.1.0"))])
def test_libpython_holds_its_version(path: str) -> None:
    interpreter = Path(_host(path)).parents[1] / "bin" / "python3"
    if not path.startswith("/root/"):
        interpreter = Path("/usr/bin/python3.11")
    env = {**os.environ, "LD_LIBRARY_PATH": str(Path(path).parent)}
    out = subprocess.run([str(interpreter), "-V"], capture_output=True, text=True,
                         check=True, env=env, timeout=30)
    assert _releases(path) == (out.stdout.split()[-1],)


def test_node_binary_holds_its_version() -> None:
    path = shutil.which("node") and os.path.realpath(shutil.which("node") or "")
    path = _host(path or "/usr/bin/node")
    if not path.endswith("/bin/node"):
        pytest.skip(f"node is {path}, not a bin/node")
    assert _releases(path) == (_printed(path, "--version").removeprefix("v"),)


@pytest.mark.parametrize("path", ["/usr/bin/python3.11",
                                  "/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0"])
def test_the_three_ways_to_a_file_find_the_same_release(path: str) -> None:
    from tests.read.test_elf import ForwardReader

    data = Path(_host(path)).read_bytes()
    pattern = release_pattern(path)
    skipping = ForwardReader(data, pos=1024)
    ways = [read_elf_facts(data[:1024], ForwardReader(data, pos=1024).read, len(data),
                           release=pattern),
            read_elf_facts(data[:1024], skipping.read, len(data), skip=skipping.skip,
                           release=pattern),
            read_elf_facts(data[:1024], ForwardReader(data).read, len(data),
                           read_at=lambda off, n: data[off:off + n], release=pattern)]
    truth = _printed(_host("/usr/bin/python3.11"), "-V")  # Debian ships the two together
    assert [f.releases if f else None for f in ways] == [(truth,)] * 3

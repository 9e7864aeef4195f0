"""The runtime closure of the real fixture images, their ELF facts read back from
``docker save`` (see savekit) until the layer reader attaches them to the tree."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from auditor.closure.compute import CLOSURE_WANTS, Closure, compute_closure
from auditor.inventory import build_inventory, inventory_wants
from auditor.read.elf import ElfFacts
from auditor.read.wants import ContentWants
from tests.fixes.savekit import scan_elf


def real_closure(saved_images: Any, name: str) -> tuple[Closure, dict[str, ElfFacts]]:
    from auditor.audit import read_tree

    archive = Path(saved_images(f"auditor-fixture/{name}:latest"))
    image, tree = read_tree(str(archive),
                            wants=ContentWants([*CLOSURE_WANTS, *inventory_wants()]))
    facts = scan_elf(archive, tree).facts
    return compute_closure(tree, image.config, facts, build_inventory(tree)), facts


@pytest.mark.engine
def test_real_c_single(saved_images: Any) -> None:
    c, _ = real_closure(saved_images, "c-single")
    assert (c.entry, c.kind, c.base_candidate) == ("/src/hello", "dynamic", "distroless-cc")
    assert "/src/hello" in c.files and any(f.endswith("/libc.so.6") for f in c.files)
    assert "/usr/lib64/ld-linux-x86-64.so.2" in c.files and c.missing == ()
    assert not any("gcc" in f for f in c.files)
    assert c.share < 0.01


@pytest.mark.engine
@pytest.mark.parametrize("name", ["c-multi-scratch", "go-multi-scratch"])
def test_real_static_on_scratch(saved_images: Any, name: str) -> None:
    c, facts = real_closure(saved_images, name)
    assert (c.files, c.kind, c.base_candidate) == (("/hello",), "static", "scratch")
    assert c.share == pytest.approx(1.0, abs=1e-3)
    assert facts["/hello"].is_go == name.startswith("go")


@pytest.mark.engine
def test_real_python_single(saved_images: Any) -> None:
    c, _ = real_closure(saved_images, "python-single")
    assert (c.kind, c.base_candidate) == ("python", "distroless-python3")
    files = set(c.files)
    assert {"/usr/bin/python3.11", "/usr/lib/python3.11/os.py", "/app/app.py",
            "/usr/local/lib/python3.11/dist-packages/six.py"} <= files
    assert not any(f.startswith(("/usr/lib/go", "/usr/lib/gcc")) for f in files)
    assert [m for m in c.missing if not m.optional] == []


@pytest.mark.engine
def test_real_node_single(saved_images: Any) -> None:
    c, facts = real_closure(saved_images, "node-single")
    # ELF facts of the whole toolchain image: the deep string tables too (libnode's .dynstr
    # ends 6 MiB in; the dynamically linked go tool's lies after 7 MiB of code)
    assert [p for p, f in facts.items() if f.incomplete] == []
    assert "libuv.so.1" in facts["/usr/lib/x86_64-linux-gnu/libnode.so.108"].needed
    go = facts["/usr/lib/go-1.19/bin/go"]
    assert go.is_go and "libc.so.6" in go.needed
    assert (c.kind, c.base_candidate) == ("node", "distroless-nodejs")
    files = set(c.files)
    assert {"/app/app.js", "/app/node_modules/is-number/index.js",
            "/usr/lib/x86_64-linux-gnu/libnode.so.108"} <= files
    assert not any("/node_modules/ms/" in f for f in files)
    assert [m for m in c.missing if not m.optional] == []

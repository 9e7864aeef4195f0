"""Small Debian-like trees and hand-made ELF facts for the runtime-closure tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from auditor.closure.compute import CLOSURE_WANTS, Closure, compute_closure
from auditor.inventory import build_inventory
from auditor.model.image import ImageConfig
from auditor.read.elf import ElfFacts
from auditor.read.wants import Want
from tests.layerkit import D, F, L, Spec, tree_of

LD = "/lib64/ld-linux-x86-64.so.2"
MA = "/usr/lib/x86_64-linux-gnu"
ELF_BODY = b"\x7fELF" + bytes(200)
PY = b"\x7fELF" + bytes(1000)


def exe(interp: str | None = LD, needed: Sequence[str] = ("libc.so.6",), **kw: Any) -> ElfFacts:
    static = interp is None and not needed
    return ElfFacts(64, "little", "x86_64", "dyn", interpreter=interp, needed=tuple(needed),
                    dynamic=bool(interp or needed), is_static=static, **kw)


def lib(*needed: str, **kw: Any) -> ElfFacts:
    return ElfFacts(64, "little", "x86_64", "dyn", needed=needed, dynamic=True,
                    is_static=not needed, **kw)


# A merged-/usr Debian: the loader and libc reached through the usual links.
DEBIAN: list[Spec] = [
    D("/usr/bin"), D(MA), D("/usr/lib64"), D("/etc"),
    L("/bin", "usr/bin"), L("/lib", "usr/lib"), L("/lib64", "usr/lib64"),
    L("/usr/lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
    F(f"{MA}/ld-linux-x86-64.so.2", ELF_BODY, 0o755),
    F(f"{MA}/libc.so.6", ELF_BODY * 10, 0o755),
    F(f"{MA}/libm.so.6", ELF_BODY, 0o644),
    F(f"{MA}/libz.so.1.2.13", ELF_BODY, 0o644), L(f"{MA}/libz.so.1", "libz.so.1.2.13"),
    F("/usr/bin/dash", ELF_BODY, 0o755), L("/usr/bin/sh", "dash"),
    F("/usr/bin/env", ELF_BODY, 0o755),
    F("/etc/passwd", "root:x:0:0::/root:/bin/sh\n"), F("/etc/group", "root:x:0:\n"),
    F("/etc/nsswitch.conf", "passwd: files\n"),
    F("/etc/ld.so.conf", "include /etc/ld.so.conf.d/*.conf\n"),
    F("/etc/ld.so.conf.d/x86_64-linux-gnu.conf", f"/usr/local/lib/x86_64-linux-gnu\n{MA}\n"),
]
DEBIAN_ELF = {
    f"{MA}/ld-linux-x86-64.so.2": lib(soname="ld-linux-x86-64.so.2"),
    f"{MA}/libc.so.6": lib("ld-linux-x86-64.so.2", interpreter=LD),
    f"{MA}/libm.so.6": lib("libc.so.6"), f"{MA}/libz.so.1.2.13": lib("libc.so.6"),
    "/usr/bin/dash": exe(), "/usr/bin/env": exe(),
}
LIBC_FILES = {"/lib", "/lib64", "/usr/lib64/ld-linux-x86-64.so.2",
              f"{MA}/ld-linux-x86-64.so.2", f"{MA}/libc.so.6"}


def closure(layers: Sequence[Sequence[Spec]], elf: dict[str, ElfFacts], *,
            wants: Sequence[Want] = (), inventory: bool = False, **config: Any) -> Closure:
    tree = tree_of(*layers, wants=[*CLOSURE_WANTS, *wants])
    facts = {**DEBIAN_ELF, **elf}
    inv = build_inventory(tree) if inventory else None
    return compute_closure(tree, ImageConfig(**config), facts, inv)


def app(path: str, facts: ElfFacts, size: int = 300, **config: Any) -> Closure:
    layer = [F(path, b"\x7fELF" + bytes(size - 4), 0o755)]
    return closure([DEBIAN, layer], {path: facts}, **config)


PYTHON: list[Spec] = [
    F("/usr/bin/python3.11", PY, 0o755), L("/usr/bin/python3", "python3.11"),
    F("/usr/lib/python3.11/os.py", "import sys\n"),
    F("/usr/lib/python3.11/lib-dynload/_ssl.cpython-311-x86_64-linux-gnu.so", ELF_BODY),
    F("/usr/local/lib/python3.11/dist-packages/six.py", "# six\n"),
    F("/usr/lib/python3.12/os.py", "# another python\n"),
]
PY_ELF = {"/usr/bin/python3.11": exe(needed=("libz.so.1", "libm.so.6", "libc.so.6")),
          "/usr/lib/python3.11/lib-dynload/_ssl.cpython-311-x86_64-linux-gnu.so":
              lib("libssl.so.3", "libc.so.6")}

"""Test-only: a small merged-/usr image with a dynamic C program, its audit result, and a
hand-made runtime closure (the shape of ``auditor.closure.compute.Closure``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from auditor.audit import audit_image
from auditor.filetree import squash_layers
from auditor.fixes.attribution import Attribution, attribute
from auditor.model.image import HistoryEntry, ImageConfig
from auditor.model.result import AuditResult
from tests.layerkit import D, F, L, Spec, image_of

LIBDIR = "/usr/lib/x86_64-linux-gnu"
LIBC, LOADER = f"{LIBDIR}/libc.so.6", f"{LIBDIR}/ld-linux-x86-64.so.2"
PASSWD = ("root:x:0:0:root:/root:/bin/bash\ntoor:x:0:0::/root:/bin/sh\n"
          "app:x:10001:10001::/nonexistent:/usr/sbin/nologin\n")
BASE: list[Spec] = [
    D("/usr"), D("/usr/bin"), D("/usr/lib"), D(LIBDIR), D("/usr/lib64"), D("/etc"),
    L("/bin", "usr/bin"), L("/lib", "usr/lib"), L("/lib64", "usr/lib64"),
    F(LIBC, b"\x7fELF" + b"c" * 996, mode=0o755), F(f"{LIBDIR}/libunused.so.1", "u" * 50),
    F(LOADER, b"\x7fELF" + b"l" * 196, mode=0o755),
    L("/usr/lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
    F("/usr/bin/dash", b"\x7fELF" + b"d" * 96, mode=0o755), L("/usr/bin/sh", "dash"),
    F("/usr/bin/tar", b"\x7fELF" + b"t" * 96, mode=0o755),
    F("/etc/passwd", PASSWD), F("/etc/group", "root:x:0:\napp:x:10001:\n"),
]
APP: list[Spec] = [D("/src"), F("/src/hello", b"\x7fELF" + b"h" * 96, mode=0o755)]
DOCKERFILE = """\
# a single-stage build
FROM base
WORKDIR /src
COPY hello ./
CMD ["/src/hello"]
"""
HISTORY = (
    HistoryEntry("", False, comment="Imported from -"),
    HistoryEntry("/bin/sh -c #(nop) WORKDIR /src", True),
    HistoryEntry("/bin/sh -c #(nop) COPY file:0123456789abcdef0123 in ./ ", False),
    HistoryEntry('/bin/sh -c #(nop)  CMD ["/src/hello"]', True),
)
CLOSURE_FILES = ("/src/hello", "/lib64", "/usr/lib64/ld-linux-x86-64.so.2", "/lib", LOADER,
                 LIBC)


@dataclass(frozen=True)
class Closure:
    entry: str = "/src/hello"
    kind: str = "dynamic"
    files: tuple[str, ...] = CLOSURE_FILES
    bytes: int = 1300
    share: float = 0.5
    missing: tuple[object, ...] = ()
    notes: tuple[str, ...] = ()
    base_candidate: str = "distroless-cc"
    reason: str = "dynamically linked against glibc: needs its loader and libc"
    commands: tuple[tuple[str, str], ...] = ()
    unfollowed: tuple[str, ...] = ()

    def applets_of(self, path: str) -> list[str]:
        return []


@dataclass(frozen=True)
class Missing:
    name: str
    needed_by: str
    optional: bool = False


def result_of(*layers: Sequence[Spec], config: ImageConfig | None = None,
              history: Sequence[HistoryEntry] = HISTORY) -> AuditResult:
    config = replace(config or ImageConfig(cmd=("/src/hello",), working_dir="/src",
                                           env=("PATH=/usr/local/bin:/usr/bin:/bin",)),
                     history=tuple(history))
    image = image_of(*(layers or (BASE, APP)), config=config)
    image = replace(image, config=replace(image.config,
                                          diff_ids=tuple(s.digest for s in image.layers)))
    return audit_image(image, squash_layers(image.layers), detect=False)


def attribution_of(result: AuditResult, text: str = DOCKERFILE, **kw: object) -> Attribution:
    config = result.image.config
    return attribute(text, config.history, len(result.image.layers), **kw)  # type: ignore[arg-type]

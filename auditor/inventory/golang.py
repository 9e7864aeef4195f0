"""Go modules compiled into Go binaries, from each binary's build information.

The layer pass already reads every ELF file's program headers as it streams by; for a Go
binary it also takes the build info blob at the start of the data segment
(``auditor.read.gobuildinfo``), so this cataloger reads nothing more. The module lines:

- ``path P``: the main package; ``mod M V SUM``: the main module (``(devel)`` when built
  from a checkout); ``dep M V SUM``: a dependency; ``=> M V SUM`` after a dep: what
  replaced it (the version built is the replacement's, when it has one); ``build K=V``:
  build settings (``GOARCH``, ``CGO_ENABLED``, ``vcs.revision``).

Each binary gives its main module (its main package, as ``(devel)``, when it names no
module: Go's own commands), its dependencies and the Go standard library it was built
with (``stdlib``, version as ``1.21.5``), each a ``golang`` package located at the
binary, ``version_from`` "Go build info". The list agrees with syft's on the fixture
images (``tests/inventory/test_syft_agreement.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from auditor.filetree import FileTree, Node
from auditor.inventory import Package, cataloger
from auditor.inventory._read import path_index
from auditor.model.image import Skipped

VERSION_FROM = "Go build info"
MAX_MODULES = 10_000  # per binary; more is not a real module list


@dataclass(slots=True)
class ModInfo:
    path: str = ""
    main: tuple[str, str] | None = None
    deps: list[tuple[str, str]] = field(default_factory=list)
    settings: dict[str, str] = field(default_factory=dict)


def parse_modinfo(text: str) -> ModInfo:
    """The module lines of a build info blob; lines it does not know are passed over."""
    info = ModInfo()
    for line in text.split("\n"):
        kind, _, rest = line.partition("\t")
        fields = rest.split("\t")
        if kind == "path":
            info.path = rest
        elif kind == "mod" and fields[0]:
            info.main = (fields[0], fields[1] if len(fields) > 1 else "")
        elif kind == "dep" and fields[0] and len(info.deps) < MAX_MODULES:
            info.deps.append((fields[0], fields[1] if len(fields) > 1 else ""))
        elif kind == "=>" and info.deps and len(fields) > 1 and fields[1]:
            info.deps[-1] = (info.deps[-1][0], fields[1])
        elif kind == "build":
            key, eq, value = rest.partition("=")
            if eq:
                info.settings[key] = value
    return info


def go_release(version: str) -> str:
    """``go1.21.5`` as ``1.21.5``; experiments (``go1.21.5 X:boringcrypto``) dropped."""
    word = version.split()[0] if version.split() else ""
    return word[2:] if word.startswith("go") else word


def binary_packages(node: Node) -> list[Package]:
    blob = node.elf.go_buildinfo if node.elf is not None else None
    if blob is None:
        return []
    info = parse_modinfo(blob.modinfo)
    arch = info.settings.get("GOARCH") or None

    def module(name: str, version: str) -> Package:
        return Package(name=name, version=version, ecosystem="golang", files=(node.path,),
                       installed_size=0, location=node.path, arch=arch,
                       version_from=VERSION_FROM)

    out: list[Package] = []
    if blob.version:
        out.append(module("stdlib", go_release(blob.version)))
    if info.main is not None:
        out.append(module(*info.main))
    elif info.path:  # Go's own commands and GOPATH builds name no module: their package
        out.append(module(info.path, "(devel)"))
    out += [module(path, version) for path, version in info.deps]
    return out


@cataloger("golang")
def catalog_golang(tree: FileTree, skipped: list[Skipped]) -> Iterator[Package]:
    for node in path_index(tree).elves:
        if not node.elf.is_go:
            continue
        path = node.path
        packages = binary_packages(node)
        blob = node.elf.go_buildinfo
        if not packages:
            skipped.append(Skipped(path, f"Go build info not read: {blob.incomplete}"
                                   if blob is not None and blob.incomplete else
                                   "Go binary without readable build info"))
        elif blob is not None and blob.incomplete:
            skipped.append(Skipped(path, f"Go build info in part: {blob.incomplete}"))
        yield from packages

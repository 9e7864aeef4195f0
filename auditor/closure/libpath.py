"""Where the dynamic loader finds a ``DT_NEEDED`` library, worked out from the image alone.

glibc's ld.so (ld.so(8)) tries, for a name without a slash: the ``DT_RPATH`` of the object
that needs it and then of each object that loaded that one, up to the executable (only when
the needing object has no ``DT_RUNPATH``); ``LD_LIBRARY_PATH``; the object's own
``DT_RUNPATH``; the directories ldconfig cached from ``/etc/ld.so.conf`` and its includes;
then the built-in directories (multiarch ones on Debian and Ubuntu, ``/lib64`` on 64-bit
Red Hat-like systems, ``/lib`` and ``/usr/lib``). A library of another ELF class or machine
is passed over, as the loader does with ``/usr/lib32`` on a 64-bit system.

musl's loader reads ``/etc/ld-musl-ARCH.path`` instead, and without it uses ``/lib``,
``/usr/local/lib`` and ``/usr/lib``; it treats rpath and runpath alike.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable

from auditor.model.image import DIR
from auditor.model.tree import Tree
from auditor.read.elf import ElfFacts
from auditor.read.globs import name_match
from auditor.read.wants import Want

KiB = 1024
LD_SO_CONF = "/etc/ld.so.conf"
LD_SO_WANTS = [Want(LD_SO_CONF, 64 * KiB), Want("/etc/ld.so.conf.d/*.conf", 64 * KiB),
               Want("/etc/ld-musl-*.path", 4 * KiB)]
MAX_INCLUDE_DEPTH = 8

# Debian multiarch triplets by the machine names ElfFacts uses.
MULTIARCH = {
    "x86_64": ("x86_64-linux-gnu",), "i386": ("i386-linux-gnu", "i686-linux-gnu"),
    "aarch64": ("aarch64-linux-gnu",), "arm": ("arm-linux-gnueabihf", "arm-linux-gnueabi"),
    "ppc64": ("powerpc64le-linux-gnu", "powerpc64-linux-gnu"), "s390x": ("s390x-linux-gnu",),
    "riscv64": ("riscv64-linux-gnu",), "mips": ("mipsel-linux-gnu", "mips-linux-gnu"),
}
MUSL_DEFAULT = ("/lib", "/usr/local/lib", "/usr/lib")

ElfOf = Callable[[str], "ElfFacts | None"]


def default_dirs(facts: ElfFacts) -> tuple[str, ...]:
    triplets = MULTIARCH.get(facts.machine, ())
    dirs = [f"{root}/{t}" for t in triplets for root in ("/lib", "/usr/lib")]
    if facts.elf_class == 64:
        dirs += ["/lib64", "/usr/lib64"]
    return (*dirs, "/lib", "/usr/lib")


def _conf_lines(tree: Tree, path: str) -> list[str]:
    data = tree.read_prefix(path, 64 * KiB)
    if data is None:
        return []
    lines = []
    for raw in data.decode("utf-8", "replace").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            lines.append(line)
    return lines


def _glob(tree: Tree, pattern: str) -> list[str]:
    """Files of the tree matching a glob whose wildcards are in the last component only,
    as ld.so.conf's ``include`` lines are in practice."""
    directory, _, name = pattern.rpartition("/")
    real = tree.resolve(directory or "/")
    if real is None:
        return []
    return sorted(posixpath.join(directory or "/", n.path.rpartition("/")[2])
                  for n in tree.children(real) if name_match(name, n.path.rpartition("/")[2]))


def ld_so_conf_dirs(tree: Tree, path: str = LD_SO_CONF, depth: int = 0) -> list[str]:
    """The library directories ``path`` names, includes followed, in order."""
    dirs: list[str] = []
    if depth > MAX_INCLUDE_DEPTH:
        return dirs
    for line in _conf_lines(tree, path):
        words = line.split()
        if words[0] == "include":
            for pattern in words[1:]:
                if not pattern.startswith("/"):
                    pattern = posixpath.join(posixpath.dirname(path), pattern)
                for included in _glob(tree, pattern):
                    dirs += ld_so_conf_dirs(tree, included, depth + 1)
        elif words[0] == "hwcap":
            continue
        else:
            # old syntax allowed "dir=type" and several dirs on a line
            dirs += [w.split("=", 1)[0] for w in line.replace(",", " ").split()]
    return list(dict.fromkeys(d.rstrip("/") or "/" for d in dirs if d.startswith("/")))


def musl_dirs(tree: Tree, interpreter: str) -> tuple[str, ...]:
    arch = posixpath.basename(interpreter).removeprefix("ld-musl-").split(".so", 1)[0]
    path = f"/etc/ld-musl-{arch}.path"
    if tree.lookup(path) is None:
        return MUSL_DEFAULT
    return tuple(d for line in _conf_lines(tree, path)
                 for d in line.replace(":", " ").split() if d.startswith("/"))


def expand(dirs: Iterable[str], origin: str, facts: ElfFacts) -> list[str]:
    """Run-path entries with ``$ORIGIN``, ``$LIB`` and ``$PLATFORM`` substituted."""
    lib = "lib64" if facts.elf_class == 64 else "lib"
    out = []
    for d in dirs:
        for token, value in (("ORIGIN", origin), ("LIB", lib), ("PLATFORM", facts.machine)):
            d = d.replace("${" + token + "}", value).replace("$" + token, value)
        if d.startswith("/"):
            out.append(posixpath.normpath(d))
    return out


def is_musl(interpreter: str | None) -> bool:
    return interpreter is not None and posixpath.basename(interpreter).startswith("ld-musl")


class LibrarySearch:
    """Finds libraries in one image for one program (whose interpreter picks the rules)."""

    def __init__(self, tree: Tree, elf_of: ElfOf, ld_library_path: str = "") -> None:
        self.tree = tree
        self.elf_of = elf_of
        self.env_dirs = [d for d in ld_library_path.split(":") if d.startswith("/")]
        self.conf_dirs = ld_so_conf_dirs(tree)
        self.musl: tuple[str, ...] | None = None
        self.used_conf_dirs: set[str] = set()

    def use_interpreter(self, interpreter: str) -> None:
        if self.musl is None and is_musl(interpreter):
            self.musl = musl_dirs(self.tree, interpreter)

    def search_dirs(self, facts: ElfFacts, origin: str, inherited: list[str]) -> list[str]:
        own_rpath = expand(facts.rpath, origin, facts)
        runpath = expand(facts.runpath, origin, facts)
        if self.musl is not None:
            return [*own_rpath, *runpath, *inherited, *self.env_dirs, *self.musl]
        rpath = [] if facts.runpath else [*own_rpath, *inherited]
        return [*rpath, *self.env_dirs, *runpath, *self.conf_dirs, *default_dirs(facts)]

    def find(self, name: str, facts: ElfFacts, origin: str, inherited: list[str]
             ) -> str | None:
        """The path (as the loader would open it) of library ``name`` needed by an object
        with ``facts``, whose directory is ``origin``; None when the image lacks it."""
        if "/" in name:
            return name if self._fits(name, facts) else None
        defaults = set(default_dirs(facts))
        for directory in dict.fromkeys(self.search_dirs(facts, origin, inherited)):
            candidate = posixpath.join(directory, name)
            if self._fits(candidate, facts):
                if directory in self.conf_dirs and directory not in defaults:
                    self.used_conf_dirs.add(directory)
                return candidate
        return None

    def _fits(self, path: str, wanted: ElfFacts) -> bool:
        real = self.tree.resolve(path)
        node = None if real is None else self.tree.get(real)
        if node is None or node.kind == DIR or not node.is_file:
            return False
        facts = self.elf_of(real or path)
        return facts is None or (facts.elf_class == wanted.elf_class
                                 and facts.machine == wanted.machine)

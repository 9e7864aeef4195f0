"""The bookkeeping of a runtime-closure walk: which paths are in, links included, and the
ELF load graph (``PT_INTERP``, then ``DT_NEEDED`` breadth first) of every object added.

Every path is walked component by component through the squashed tree, so each symbolic
link passed on the way (``/lib64``, ``/usr/lib64/ld-linux-x86-64.so.2``) is in the closure
with the file it leads to: copying the closure must leave every name the program uses
resolvable. Only entries the tree has are ever added.
"""

from __future__ import annotations

import posixpath
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from auditor.closure.libpath import LibrarySearch, expand
from auditor.filetree import MAX_SYMLINK_HOPS, Node
from auditor.model.closure import MissingLibrary
from auditor.model.image import DIR, HARDLINK, SYMLINK
from auditor.model.tree import Tree
from auditor.read.elf import ELF_MAGIC, ElfFacts

ElfOf = Callable[[str], "ElfFacts | None"]
Exclude = Callable[[str], bool]


@dataclass(slots=True)
class _Load:
    path: str  # as the loader opens it: its directory is $ORIGIN for a library
    real: str
    inherited: list[str]  # DT_RPATH dirs of the objects that loaded it
    optional: bool
    program: bool = False  # the executable itself: $ORIGIN is its real directory


def parent(path: str) -> str:
    return path.rpartition("/")[0] or "/"


class ClosureWalk:
    def __init__(self, tree: Tree, elf_of: ElfOf, search: LibrarySearch) -> None:
        self.tree = tree
        self.elf_of = elf_of
        self.search = search
        self.kept: dict[str, Node] = {}
        self.missing: list[MissingLibrary] = []
        self.notes: list[str] = []
        self.required: dict[str, str] = {}  # needed name -> real path, program's own chain
        self.interpreters: set[str] = set()
        self._loaded: set[str] = set()
        self._queue: deque[_Load] = deque()
        self._dirs: set[str] = set()

    # -- paths ----------------------------------------------------------------------------

    def follow(self, path: str) -> str | None:
        """The real path ``path`` leads to, keeping every symbolic link passed on the way;
        None when it leads nowhere in the image."""
        pending = [p for p in reversed(path.split("/")) if p not in ("", ".")]
        current, hops = "/", 0
        while pending:
            part = pending.pop()
            if part == "..":
                current = parent(current)
                continue
            candidate = posixpath.join(current, part)
            node = self.tree.get(candidate)
            if node is None:
                return None
            if node.kind == SYMLINK:
                hops += 1
                if hops > MAX_SYMLINK_HOPS:
                    return None
                self.kept[candidate] = node
                target = node.link or ""
                if target.startswith("/"):
                    current = "/"
                pending.extend(p for p in reversed(target.split("/")) if p not in ("", "."))
                continue
            if pending and node.kind != DIR:
                return None
            current = candidate
        return current

    def add(self, path: str) -> str | None:
        """Put ``path`` (and the links to it) in the closure; its real path, or None."""
        real = self.follow(path)
        node = None if real is None else self.tree.get(real)
        if node is None:
            return None
        if node.kind != DIR:
            self.kept[node.path] = node
            if node.kind == HARDLINK and node.link and node.link in self.tree.nodes:
                self.kept.setdefault(node.link, self.tree.nodes[node.link])
        return node.path

    def add_tree(self, directory: str, exclude: Exclude | None = None) -> int:
        """Everything under ``directory``, links followed (once each), ELF files loaded as
        optional modules. Returns how many entries were skipped by ``exclude``."""
        real = self.follow(directory)
        if real is None or real in self._dirs:
            return 0
        node = self.tree.get(real)
        if node is None or node.kind != DIR:
            return 0
        self._dirs.add(real)
        skipped = 0
        stack = [real]
        while stack:
            for child in self.tree.children(stack.pop()):
                if exclude is not None and exclude(child.path):
                    skipped += 1
                    continue
                if child.kind == DIR:
                    stack.append(child.path)
                elif child.kind == SYMLINK:
                    target = self.follow(child.path)
                    if target is not None and exclude is not None and exclude(target):
                        self.kept.pop(child.path, None)
                        skipped += 1
                        continue
                    target_node = None if target is None else self.tree.get(target)
                    if target is not None and target_node is not None \
                            and target_node.kind == DIR:
                        skipped += self.add_tree(target, exclude)
                    elif target_node is not None:
                        self.add(child.path)
                        self.load(child.path, optional=True)
                else:
                    self.add(child.path)
                    self.load(child.path, optional=True)
        return skipped

    # -- ELF loading ----------------------------------------------------------------------

    def facts(self, real: str) -> ElfFacts | None:
        return self.elf_of(real)

    def is_elf(self, real: str) -> bool:
        if self.elf_of(real) is not None:
            return True
        head = self.tree.read_prefix(real, 4)
        return head is not None and head.startswith(ELF_MAGIC)

    def load(self, path: str, optional: bool = False, program: bool = False
             ) -> ElfFacts | None:
        """Queue the ELF object at ``path`` (already added) and run the load graph."""
        real = self.tree.resolve(path)
        if real is None:
            return None
        facts = self.elf_of(real)
        if facts is None:
            if not optional and self.is_elf(real):
                self.notes.append(f"{real} is an ELF file whose load facts were not read; "
                                  "the libraries it needs are not in the closure.")
            return None
        if real not in self._loaded:
            self._loaded.add(real)
            self._queue.append(_Load(path, real, [], optional, program))
            self._drain()
        return facts

    def _drain(self) -> None:
        while self._queue:
            item = self._queue.popleft()
            facts = self.elf_of(item.real)
            if facts is None:
                continue
            if facts.incomplete:
                self.notes.append(f"{item.real}: ELF facts incomplete ({facts.incomplete}).")
            if facts.interpreter:
                self._interpreter(facts.interpreter, item)
            # $ORIGIN: the executable's real directory, a library's directory as opened
            origin = parent(item.real if item.program else item.path)
            own_rpath = [] if facts.runpath else expand(facts.rpath, origin, facts)
            passed_on = [*own_rpath, *item.inherited]
            for name in facts.needed:
                found = self.search.find(name, facts, origin, item.inherited)
                real = None if found is None else self.add(found)
                if found is None or real is None:
                    self.missing.append(MissingLibrary(name, item.real, item.optional))
                    continue
                if not item.optional:
                    self.required.setdefault(name, real)
                if real not in self._loaded:
                    self._loaded.add(real)
                    self._queue.append(_Load(found, real, passed_on, item.optional))

    def _interpreter(self, interpreter: str, item: _Load) -> None:
        if item.optional and interpreter in self.interpreters:
            return
        real = self.add(interpreter)
        if real is None:
            if interpreter not in self.interpreters:
                self.missing.append(MissingLibrary(interpreter, item.real, item.optional))
        elif real not in self._loaded:
            self._loaded.add(real)
            self._queue.append(_Load(interpreter, real, [], item.optional))
        self.interpreters.add(interpreter)
        self.search.use_interpreter(interpreter)

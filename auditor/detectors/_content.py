"""What an executable's content says it is, for the tool detectors.

Two kinds of content are read, both kept by the one pass over the layers:

- an ELF program's identity strings (``ElfFacts.identity``, found by ``read/elf`` in its
  read-only data as it streamed by: ``GNU bash, version %s``, BusyBox's banner), and the
  applet table of a multi-call binary;
- a script's first KiB: its ``#!`` line and, for a Python console-script wrapper, the
  package whose ``main`` it starts (``from pip._internal.cli.main import main`` is pip
  whatever the file is called).

A script's interpreter alone says nothing of what the script is (``#!/bin/sh`` starts
every kind of program), so a shebang without a known entry point is no tool.

:func:`content_executables` lists every executable file in the tree whose content names a
program, wherever it lies: a shell copied to ``/opt/tools/bb`` runs as well from there.
"""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass

from auditor.filetree import FileTree, Node
from auditor.model.image import FILE, HARDLINK

SCRIPT_HEAD = 1024  # what the layer reader keeps of every executable
# A console-script wrapper (pip's, setuptools', distlib's) imports the package's main.
_PYTHON_SHEBANG = re.compile(rb"^#![^\n]*python[\d.]*\b")
_ENTRY_POINT = re.compile(
    rb"^(?:from|import) (pip|pipx|pipenv|poetry|conda|mamba|mesonbuild|SCons"
    rb"|setuptools\.command\.easy_install)\b[\w.]*(?: import \w+)?", re.MULTILINE)
_EASY_INSTALL = re.compile(rb"^# EASY-INSTALL-ENTRY-SCRIPT: '(pip|pipenv|poetry|meson)[=']",
                           re.MULTILINE)
_COMMAND_OF = {"mesonbuild": "meson", "SCons": "scons",
               "setuptools.command.easy_install": "easy_install"}


@dataclass(frozen=True, slots=True)
class Identity:
    """What one executable's content says: the programs it is, and its applets."""

    programs: tuple[tuple[str, str], ...]  # (command, what matched)
    applets: tuple[str, ...] = ()  # a multi-call binary's applet table

    def what(self, command: str) -> str | None:
        return next((what for c, what in self.programs if c == command), None)


def identity(node: Node) -> Identity | None:
    """The programs ``node``'s content names, or None."""
    elf = node.elf
    if elf is not None:
        programs = getattr(elf, "identity", ())
        return Identity(programs, getattr(elf, "applets", ())) if programs else None
    head = node.data
    if not head or not head.startswith(b"#!") or not _PYTHON_SHEBANG.match(head):
        return None
    found = _ENTRY_POINT.search(head, 0, SCRIPT_HEAD) or _EASY_INSTALL.search(head, 0,
                                                                              SCRIPT_HEAD)
    if found is None:
        return None
    module = found.group(1).decode("ascii")
    line = found.group().decode("ascii", "replace")
    command = _COMMAND_OF.get(module, module)
    shebang = head.split(b"\n", 1)[0].decode("utf-8", "replace")[:80]
    return Identity(((command, f"shebang {shebang!r} and entry point {line!r}"),))


_CACHE: weakref.WeakKeyDictionary[FileTree, dict[str, tuple[Node, Identity]]] = (
    weakref.WeakKeyDictionary())


def content_executables(tree: FileTree) -> dict[str, tuple[Node, Identity]]:
    """Every executable regular file of ``tree`` whose content names a program, by path.
    A hard link that shares an earlier name's content is listed once, under that name."""
    cached = _CACHE.get(tree)
    if cached is not None:
        return cached
    found: dict[str, tuple[Node, Identity]] = {}
    for path, node in tree.nodes.items():
        if node.kind not in (FILE, HARDLINK) or not node.mode & 0o111:
            continue
        if node.kind == HARDLINK and node.link and (first := tree.get(node.link)) is not None \
                and first.kind == FILE and first.layer <= node.layer:
            continue  # the first name is listed itself
        ident = identity(node)
        if ident is not None:
            found[path] = (node, ident)
    _CACHE[tree] = found
    return found

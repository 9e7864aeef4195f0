"""What an executable's content says it is, for the tool detectors.

Two kinds of content are read, both kept by the one pass over the layers:

- an ELF program's identity strings (``ElfFacts.identity``, found by ``read/elf`` in its
  read-only data as it streamed by: ``GNU bash, version %s``, BusyBox's banner, toybox's
  ``Toybox %s multicall binary``), and the applets of a multi-call binary (BusyBox's
  table, the commands toybox's help text is kept for);
- a script's first KiB: its ``#!`` line and, for a Python console-script wrapper, the
  package whose ``main`` it starts (``from pip._internal.cli.main import main`` is pip
  whatever the file is called); for a Node package manager's own entry file, the line
  that starts its CLI (npm's ``bin/npm-cli.js`` is ``require('../lib/cli.js')(process)``,
  yarn 1's ``bin/yarn.js`` requires ``/../lib/cli`` and checks ``cli.autoRun``, pnpm's
  ``bin/pnpm.cjs`` requires ``../dist/pnpm.cjs``, corepack's shims
  ``require('./lib/corepack.cjs').runMain(``).

A script's interpreter alone says nothing of what the script is (``#!/bin/sh`` starts
every kind of program), so a shebang without a known entry point is no tool.

:func:`content_executables` lists every executable file in the tree whose content names a
program, wherever it lies: a shell copied to ``/opt/tools/bb`` runs as well from there.
:func:`multicall_reasons` says whether a file is BusyBox or toybox, by content first, then
by its name or the applet names linked to it; :func:`file_format` what its first bytes are.
"""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

from auditor.filetree import FileTree, Node
from auditor.model.image import FILE, HARDLINK

if TYPE_CHECKING:
    from auditor.detectors._tools import Executable

# A multi-call binary is named for its program, or is the target of many common applets.
MULTICALL_NAME = re.compile(r"^(busybox|toybox)(?:[.-][\w.-]*)?$")
_CORE_APPLETS = frozenset({"ls", "cat", "cp", "mv", "rm", "mkdir", "echo", "sh", "sed", "grep"})
MULTICALL_MIN_NAMES = 20
MULTICALL_MIN_CORE = 4
# What content names a multi-call binary, and where its list of applets came from.
_MULTICALL_PROGRAMS = ("busybox", "toybox")
_TABLE_OF = {"busybox": "table", "toybox": "help"}

ELF_MAGIC = b"\x7fELF"

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
# A Node script: #!/usr/bin/env node, #!/usr/local/bin/node, #!/usr/bin/env -S node --x.
_NODE_SHEBANG = re.compile(rb"#!\s*(?:/\S*/)?(?:env\s+(?:-S\s*)?)?(?:/\S*/)?node(?:js)?"
                           rb"(?=\s|$)")
# What each package manager's own entry file runs (npm 10, 6; yarn 1; pnpm 9, 10; corepack
# 0.x, whose shims name the tool they stand for). Each is a statement of that program's
# entry file, never a mere mention: ``require('npm')`` or ``exec('npm install')`` is none.
_NODE_ENTRIES = (  # (command, the statement; Q stands for either quote)
    ("npm", rb"^require\(Q\.\./lib/cli\.jsQ\)\(process\)"),  # npm >= 7 bin/npm-cli.js
    ("npm", rb"^\s*process\.title = QnpmQ$"),  # npm 6 bin/npm-cli.js
    ("npx", rb"^process\.argv\[1\] = require\.resolve\(Q\./npm-cli\.jsQ\)"),  # npm >= 7
    ("npx", rb"^const npx = require\(QlibnpxQ\)"),  # npm 6 bin/npx-cli.js
    ("yarn", rb"^\s*var cli = require\(__dirname \+ Q/\.\./lib/cliQ\);\s*if \(!cli\.autoRun\)"),
    ("pnpm", rb"^global\[Qpnpm__startedAtQ\] = Date\.now\(\)"),  # bin/pnpm.cjs
    ("pnpm", rb"^require\(Q\.\./dist/pnpm\.cjsQ\)"),
    ("pnpx", rb"^require\(Q\./pnpm\.cjsQ\)"),  # bin/pnpx.cjs
    ("corepack", rb"^require\(Q\./lib/corepack\.cjsQ\)\.runMain\((?:\[Q[\w-]{1,20}Q)?"),
)
_NODE_ENTRY = re.compile(b"|".join(
    b"(?P<%s%d>%s)" % (command.encode(), n, pattern.replace(b"Q", rb"['\"]"))
    for n, (command, pattern) in enumerate(_NODE_ENTRIES)), re.MULTILINE)


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
    if not head or not head.startswith(b"#!"):
        return None
    if _PYTHON_SHEBANG.match(head):
        found = (_ENTRY_POINT.search(head, 0, SCRIPT_HEAD)
                 or _EASY_INSTALL.search(head, 0, SCRIPT_HEAD))
        if found is None:
            return None
        module = found.group(1).decode("ascii")
        command = _COMMAND_OF.get(module, module)
    elif _NODE_SHEBANG.match(head):
        found = _NODE_ENTRY.search(head, 0, SCRIPT_HEAD)
        if found is None or found.lastgroup is None:
            return None
        command = found.lastgroup.rstrip("0123456789")
    else:
        return None
    line = found.group().strip().split(b"\n", 1)[0].decode("ascii", "replace")[:80]
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


def file_format(tree: FileTree, path: str) -> dict[str, str]:
    """What the first bytes say: ELF, a script and its interpreter, or unknown."""
    head = tree.read_prefix(path, 256)
    if head is None:
        return {"format": "unknown"}
    if head.startswith(b"#!"):
        line = head[2:].split(b"\n", 1)[0].strip()
        return {"format": "script", "interpreter": line.decode("utf-8", "replace")[:120]}
    return {"format": "ELF" if head.startswith(ELF_MAGIC) else "other"}


def multicall_reasons(tree: FileTree, exe: Executable) -> tuple[str, list[str]] | None:
    """(program, why) when ``exe`` is a multi-call binary such as BusyBox or toybox; a
    reason that its content gave comes first, as ``content:<what matched>``."""
    bases = exe.basenames()
    named = sorted(b for b in bases if MULTICALL_NAME.match(b))
    core = sorted(bases & _CORE_APPLETS)
    reasons: list[str] = []
    ident = exe.ident
    for program in _MULTICALL_PROGRAMS:
        banner = ident.what(program) if ident is not None else None
        if ident is not None and banner is not None:
            table = (f" and its {_TABLE_OF[program]} of {len(ident.applets)} applets"
                     if ident.applets else "")
            return program, [f"content:{banner}{table}",
                             *([f"named {named[0]}"] if named else [])]
    if named:
        reasons.append(f"named {named[0]}")
    if len(exe.names) >= MULTICALL_MIN_NAMES and len(core) >= MULTICALL_MIN_CORE:
        reasons.append(f"{len(exe.names)} command names lead to this one file "
                       f"(including {', '.join(core[:5])})")
    if not reasons or file_format(tree, exe.real)["format"] not in ("ELF", "unknown"):
        return None
    program = named[0].split(".")[0].split("-")[0] if named else "multi-call binary"
    return program, reasons

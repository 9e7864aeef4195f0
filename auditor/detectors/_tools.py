"""Shared by the tool detectors (shells, package managers, compilers, network tools).

A tool is a regular executable file that a command name on the search path leads to.
The index of those files is built once per tree: every entry of a search directory (the
usual six, the image's ``ENV PATH``, toolchain bin directories such as Go's and a JDK's)
is followed through symbolic and hard links to the file it runs, and every name leading
to the same file is grouped with it. A name off the search path never counts: neither
``/usr/share/doc/bash`` nor a helper script called ``make`` deep under ``/usr/lib``.
An executable whose content names a program (``_content``: ELF identity strings, a
console-script wrapper's or a Node package manager's entry point) joins the index
wherever it lies, recognised by that content.

:func:`tool_findings` turns a :class:`ToolTable` of command families into one finding
per real tool (or per owning package), and one per category for a multi-call binary.
"""

from __future__ import annotations

import posixpath
import re
import weakref
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from auditor.detectors import ScanContext
from auditor.detectors._content import (
    Identity,
    content_executables,
    file_format,
    multicall_reasons,
)
from auditor.detectors._matches import Match, applets_of, content_matches, name_matches
from auditor.detectors._sizing import tool_cost
from auditor.filetree import FileTree, Node
from auditor.inventory import Package
from auditor.model.evidence import Evidence
from auditor.model.findings import SEVERITY_RANK, Finding, Rule
from auditor.model.image import DIR, FILE, HARDLINK, SYMLINK

STANDARD_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")

# Toolchains that keep their commands outside PATH and link only some of them into it
# (Debian's /usr/bin/go -> ../lib/go-1.19/bin/go), or rely on images adding them to PATH.
_TOOLCHAIN_BIN = re.compile(
    r"^(?:/usr/lib/go(?:-[\d.]+)?/bin|/usr/local/go/bin"
    r"|/usr/lib/jvm/[^/]+(?:/jre)?/bin|/opt/java/[^/]+/bin|/usr/local/openjdk[^/]*/bin"
    r"|/opt/(?:openjdk|jdk)[^/]*/bin"
    r"|/usr/local/cargo/bin|/root/\.cargo/bin|/home/[^/]+/\.cargo/bin"
    r"|/opt/gradle[^/]*/bin|/opt/maven[^/]*/bin|/usr/share/maven/bin"
    r"|/opt/conda/bin|/opt/conda/condabin)$")
# Global npm installs reach PATH through /usr/local/bin; their own and bundled
# dependencies' .bin directories are npm internals, not commands anyone runs.
_GLOBAL_NODE_MODULES = ("/usr/lib/node_modules/", "/usr/local/lib/node_modules/", "/opt/yarn")

# Cross-compiler and multiarch names: x86_64-linux-gnu-gcc-12, aarch64-alpine-linux-musl-ld.
_TRIPLET = re.compile(
    r"^(?:x86_64|i[3-6]86|aarch64|arm\w*|powerpc\w*|ppc\w*|s390x?|riscv\d+|mips\w*"
    r"|loongarch\d+|sparc\w*)-")
_VERSION_SUFFIX = re.compile(r"-?\d+(?:\.\d+)*$")  # gcc-12, clang-15, pip3.11, ksh93, dnf-3

NAMES_IN_MESSAGE = 4


# -- the command tables --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Family:
    """One tool and the command names it goes by (after version and triplet stripping)."""

    name: str
    rule: Rule
    commands: tuple[str, ...]
    multicall_severity: str | None = None  # what a multi-call binary with this applet gets


class ToolTable:
    """Command name -> family; the order families are given in ranks them as primary."""

    def __init__(self, *families: Family) -> None:
        self.families = families
        self._by_command: dict[str, tuple[int, int, Family]] = {}
        for rank, fam in enumerate(families):
            for sub, command in enumerate(fam.commands):
                if command in self._by_command:
                    raise ValueError(f"command {command!r} is in two families")
                self._by_command[command] = (rank, sub, fam)

    def exact(self, command: str) -> tuple[int, int, Family] | None:
        """The family of exactly this command name (an applet's, say)."""
        return self._by_command.get(command)

    def match(self, basename: str) -> tuple[int, int, Family] | None:
        """The family of a command name, with its rank; tolerant of versions and triplets."""
        for candidate in _name_candidates(basename):
            hit = self._by_command.get(candidate)
            if hit is not None:
                return hit
        return None


def _name_candidates(basename: str) -> Iterator[str]:
    yield basename
    stripped = _VERSION_SUFFIX.sub("", basename)
    if stripped and stripped != basename:
        yield stripped
    if _TRIPLET.match(basename):
        parts = basename.split("-")
        # The vendor/OS/ABI part has one to three words; try each split point.
        for cut in range(2, min(len(parts), 5)):
            rest = "-".join(parts[cut:])
            yield rest
            rest_stripped = _VERSION_SUFFIX.sub("", rest)
            if rest_stripped and rest_stripped != rest:
                yield rest_stripped


# -- the executable index ------------------------------------------------------------------


@dataclass(slots=True)
class Executable:
    real: str  # the regular file that runs
    node: Node
    names: list[str] = field(default_factory=list)  # search-path entries that lead here
    links: list[str] = field(default_factory=list)  # links passed on the way (alternatives)
    in_search_dir: bool = False  # the real file itself sits in a search directory
    ident: Identity | None = None  # what its content says it is

    def all_paths(self) -> list[str]:
        return _unique([self.real, *sorted(self.names), *sorted(self.links)])

    def basenames(self) -> set[str]:
        return {posixpath.basename(p) for p in (self.real, *self.names, *self.links)}


@dataclass(slots=True)
class ExecutableIndex:
    search_dirs: tuple[str, ...]  # canonical, in search order
    by_real: dict[str, Executable]


_CACHE: weakref.WeakKeyDictionary[FileTree, dict[tuple[str, ...], ExecutableIndex]] = (
    weakref.WeakKeyDictionary())


def image_path_dirs(ctx: ScanContext) -> tuple[str, ...]:
    """The absolute directories of the image's ``ENV PATH``, in order."""
    dirs: list[str] = []
    for entry in ctx.image.config.env:
        if entry.startswith("PATH="):
            dirs.extend(d for d in entry[5:].split(":") if d.startswith("/"))
    return tuple(dirs)


def executables(ctx: ScanContext) -> ExecutableIndex:
    """The executable index of ``ctx.tree``; built once and shared by every tool detector."""
    extra = image_path_dirs(ctx)
    per_tree = _CACHE.setdefault(ctx.tree, {})
    if extra not in per_tree:
        per_tree[extra] = build_index(ctx.tree, extra)
    return per_tree[extra]


def search_dirs(tree: FileTree, extra: Iterable[str] = ()) -> tuple[str, ...]:
    """Every search directory, canonical (merged /usr: /bin is /usr/bin) and present."""
    wanted = [*STANDARD_PATH, *extra]
    for node in tree.nodes.values():
        if node.kind == DIR and (node.path.endswith("/bin") or node.path.endswith("/.bin")) \
                and _is_toolchain_bin(node.path):
            wanted.append(node.path)
    out: list[str] = []
    for directory in wanted:
        real = tree.resolve(posixpath.normpath(directory))
        if real is not None and (n := tree.get(real)) is not None and n.kind == DIR:
            out.append(real)
    return tuple(_unique(out))


def _is_toolchain_bin(path: str) -> bool:
    if _TOOLCHAIN_BIN.match(path):
        return True
    # An application's own node_modules/.bin: what `npm ci` put there (tsc, node-gyp).
    return (path.endswith("/node_modules/.bin") and path.count("/node_modules/") == 1
            and not path.startswith(_GLOBAL_NODE_MODULES))


def build_index(tree: FileTree, extra: Iterable[str] = ()) -> ExecutableIndex:
    dirs = search_dirs(tree, extra)
    dir_set = set(dirs)
    by_real: dict[str, Executable] = {}
    for directory in dirs:
        for child in tree.children(directory):
            if child.kind == DIR:
                continue
            found = follow(tree, child.path)
            if found is None:
                continue
            real, links = found
            node = tree.get(real)
            if node is None or not node.is_file or not node.mode & 0o111:
                continue
            exe = by_real.get(real)
            if exe is None:
                exe = by_real[real] = Executable(real, node)
                exe.in_search_dir = posixpath.dirname(real) in dir_set
            if child.path != real:
                exe.names.append(child.path)
            exe.links.extend(p for p in links if posixpath.dirname(p) not in dir_set)
    for exe in by_real.values():
        exe.names = _unique(exe.names)
        exe.links = [p for p in _unique(exe.links) if p not in exe.names and p != exe.real]
    for path, (node, ident) in content_executables(tree).items():
        if path not in by_real:
            by_real[path] = Executable(path, node)
        by_real[path].ident = ident
    return ExecutableIndex(dirs, by_real)


def follow(tree: FileTree, path: str) -> tuple[str, list[str]] | None:
    """The regular file ``path`` runs (symlinks and hard links followed) and the links
    passed on the way; None when the chain dangles, loops or leaves regular files."""
    passed: list[str] = []
    current = path
    for _ in range(40):  # as Linux's MAXSYMLINKS
        node = tree.get(current)
        if node is None:
            return None
        if node.kind == SYMLINK:
            passed.append(current)
            target = posixpath.join(posixpath.dirname(current), node.link or "")
            nxt = tree.resolve(target, follow_last=False)
            if nxt is None:
                return None
            current = nxt
            continue
        if node.kind == HARDLINK and node.link:
            first = tree.get(node.link)
            # The name the link was made to; unless that name was rewritten later, in
            # which case this hard link holds the older content on its own.
            if first is not None and first.kind == FILE and first.layer <= node.layer:
                passed.append(current)
                current = first.path
        return current, passed
    return None


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


# -- findings ------------------------------------------------------------------------------


@dataclass(slots=True)
class _Hit:
    exe: Executable
    matches: list[Match]

    @property
    def best(self) -> Match:
        # The file's own name says what it is (cc -> clang-15 is clang); then table order.
        return min(self.matches, key=lambda m: (m.via != "path", m.path != self.exe.real,
                                                 m.rank, m.path))

    @property
    def recognised_by(self) -> str:
        return "path" if any(m.via == "path" for m in self.matches) else self.best.via


def owner_of(ctx: ScanContext, exe: Executable) -> Package | None:
    """The package that owns the real file, else one that owns a name leading to it."""
    for path in (exe.real, *exe.names, *exe.links):
        pkg = ctx.owner(path)
        if pkg is not None:
            return pkg
    return None


def _describe(paths: list[str], first: str) -> str:
    others = [p for p in paths if p != first]
    if not others:
        return first
    shown = ", ".join(others[:NAMES_IN_MESSAGE])
    more = f" and {len(others) - NAMES_IN_MESSAGE} more" if len(others) > NAMES_IN_MESSAGE else ""
    return f"{first} (also {shown}{more})"


def tool_findings(ctx: ScanContext, table: ToolTable, nouns: Mapping[str, str],
                  multicall_rule: Rule | None = None) -> Iterator[Finding]:
    """One finding per tool of ``table`` in the image, grouped as the module doc says.

    ``nouns`` names what each rule's tools are, for messages ("shell", "compiler").
    """
    index = executables(ctx)
    groups: dict[tuple[str, ...], list[_Hit]] = {}
    multicall: list[tuple[Executable, tuple[str, list[str]], list[tuple[str, Match]]]] = []
    for real in sorted(index.by_real):
        exe = index.by_real[real]
        matched = name_matches(exe, table)
        if not matched and exe.ident is None:
            continue
        mc = multicall_reasons(ctx.tree, exe) if multicall_rule is not None else None
        if mc is not None:
            applets = applets_of(exe, table, matched)
            if applets:
                multicall.append((exe, mc, applets))
            continue
        matched += content_matches(exe, table)
        if not matched:
            continue
        pkg = owner_of(ctx, exe)
        by_rule: dict[str, list[Match]] = {}
        for match in matched:
            by_rule.setdefault(match.family.rule.id, []).append(match)
        for rule_id, matches in by_rule.items():
            hit = _Hit(exe, matches)
            key = ((rule_id, "package", pkg.name) if pkg is not None
                   else (rule_id, "file", hit.best.family.name, posixpath.dirname(real)))
            groups.setdefault(key, []).append(hit)
    found = [_tool_finding(ctx, hits, nouns) for hits in groups.values()]
    if multicall_rule is not None:
        found += [_multicall_finding(ctx, exe, mc, applets, multicall_rule,
                                     nouns[multicall_rule.id])
                  for exe, mc, applets in multicall]
    yield from sorted(found, key=lambda f: (f.path or "", f.rule_id))


def _recognised(hits: list[_Hit]) -> str:
    """How the tool was recognised: "path" when any name on a search path said so, else
    what its content matched."""
    ways = [h.recognised_by for h in hits]
    return "path" if "path" in ways else ways[0]


def _tool_finding(ctx: ScanContext, hits: list[_Hit], nouns: Mapping[str, str]) -> Finding:
    hits.sort(key=lambda h: (h.best.via != "path", h.best.rank, h.exe.real))
    primary = hits[0]
    family = primary.best.family
    paths = _unique(p for h in hits for p in h.exe.all_paths())
    pkg = owner_of(ctx, primary.exe)
    cost = tool_cost(ctx, [h.exe.node for h in hits], pkg)
    commands = sorted({posixpath.basename(m.path) for h in hits for m in h.matches
                       if m.via == "path"})
    recognised_by = _recognised(hits)
    content = _unique(m.via for h in hits for m in h.matches if m.via != "path")
    evidence: dict[str, Any] = {
        "tool": family.name,
        "commands": commands,
        "recognised_by": recognised_by,
        **({"content": [c.removeprefix("content:") for c in content]} if content else {}),
        **file_format(ctx.tree, primary.exe.real),
        **cost.evidence,
    }
    message = f"{nouns[family.rule.id]} {family.name} at {_describe(paths, primary.exe.real)}"
    if pkg is not None:
        message += f", from package {pkg.name}"
    elif "install_tree" in cost.evidence:
        message += f", part of {cost.evidence['install_tree']}"
    if recognised_by != "path":
        message += f" (recognised by its content: {recognised_by.removeprefix('content:')})"
    tools = _unique(h.best.family.name for h in hits)
    if len(tools) > 1:
        evidence["tools"] = tools
    return ctx.finding(family.rule, message, path=primary.exe.real, paths=paths,
                       package=pkg.ref if pkg is not None else None,
                       size=cost.bytes, claim=cost.claim, evidence=Evidence.of(**evidence))


def _multicall_finding(ctx: ScanContext, exe: Executable, mc: tuple[str, list[str]],
                       found: list[tuple[str, Match]], rule: Rule, noun: str) -> Finding:
    program, reasons = mc
    ranked = sorted(found, key=lambda am: (am[1].rank, am[0]))
    applets = _unique(applet for applet, _ in ranked)
    applet_paths = _unique(m.path for _, m in ranked if m.path != exe.real)
    pkg = owner_of(ctx, exe)
    cost = tool_cost(ctx, [exe.node], pkg)
    levels = [m.family.multicall_severity for _, m in found if m.family.multicall_severity]
    severity = max(levels, key=SEVERITY_RANK.__getitem__) if levels else None
    if severity is not None and SEVERITY_RANK[severity] <= SEVERITY_RANK[rule.severity]:
        severity = None
    recognised_by = reasons[0] if reasons[0].startswith("content:") else "name"
    evidence: dict[str, Any] = {
        "program": program,
        "applets": applets,
        "applet_links": len(exe.names),
        "recognised_by": recognised_by,
        "reasons": reasons,
        **file_format(ctx.tree, exe.real),
        **cost.evidence,
    }
    how = (f"recognised by its content: {recognised_by.removeprefix('content:')}"
           if recognised_by != "name" else f"{len(exe.names)} command names lead to it")
    message = (f"{program} at {exe.real} provides the {noun} applet"
               f"{'s' if len(applets) > 1 else ''} {', '.join(applets)} ({how})")
    return ctx.finding(rule, message, path=exe.real, paths=_unique([exe.real, *applet_paths]),
                       package=pkg.ref if pkg is not None else None,
                       size=cost.bytes, claim=cost.claim, evidence=Evidence.of(**evidence),
                       severity=severity)

"""Shared by the tool detectors (shells, package managers, compilers, network tools).

A tool is a regular executable file that a command name on the search path leads to.
The index of those files is built once per tree: every entry of a search directory (the
usual six, the image's ``ENV PATH``, toolchain bin directories such as Go's and a JDK's)
is followed through symbolic and hard links to the file it runs, and every name leading
to the same file is grouped with it. A name off the search path never counts: neither
``/usr/share/doc/bash`` nor a helper script called ``make`` deep under ``/usr/lib``.

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

# A multi-call binary is named for its program, or is the target of many common applets.
MULTICALL_NAME = re.compile(r"^(busybox|toybox)(?:[.-][\w.-]*)?$")
_CORE_APPLETS = frozenset({"ls", "cat", "cp", "mv", "rm", "mkdir", "echo", "sh", "sed", "grep"})
MULTICALL_MIN_NAMES = 20
MULTICALL_MIN_CORE = 4

ELF_MAGIC = b"\x7fELF"
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


# -- content -------------------------------------------------------------------------------


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
    """(program, why) when ``exe`` is a multi-call binary such as BusyBox or toybox."""
    bases = exe.basenames()
    named = sorted(b for b in bases if MULTICALL_NAME.match(b))
    core = sorted(bases & _CORE_APPLETS)
    reasons: list[str] = []
    if named:
        reasons.append(f"named {named[0]}")
    if len(exe.names) >= MULTICALL_MIN_NAMES and len(core) >= MULTICALL_MIN_CORE:
        reasons.append(f"{len(exe.names)} command names lead to this one file "
                       f"(including {', '.join(core[:5])})")
    if not reasons or file_format(tree, exe.real)["format"] not in ("ELF", "unknown"):
        return None
    program = named[0].split(".")[0].split("-")[0] if named else "multi-call binary"
    return program, reasons


# -- findings ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Match:
    family: Family
    path: str  # the search-path entry whose name matched
    rank: tuple[int, int]  # the family's place in the table, the command's in the family


@dataclass(slots=True)
class _Hit:
    exe: Executable
    matches: list[_Match]

    @property
    def best(self) -> _Match:
        # The file's own name says what it is (cc -> clang-15 is clang); then table order.
        return min(self.matches, key=lambda m: (m.path != self.exe.real, m.rank, m.path))


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
    multicall: list[tuple[Executable, tuple[str, list[str]], _Hit]] = []
    for real in sorted(index.by_real):
        exe = index.by_real[real]
        candidates = exe.names + ([exe.real] if exe.in_search_dir else [])
        matched = [_Match(m[2], p, (m[0], m[1])) for p in candidates
                   if (m := table.match(posixpath.basename(p))) is not None]
        if not matched:
            continue
        mc = multicall_reasons(ctx.tree, exe) if multicall_rule is not None else None
        if mc is not None:
            multicall.append((exe, mc, _Hit(exe, matched)))
            continue
        pkg = owner_of(ctx, exe)
        by_rule: dict[str, list[_Match]] = {}
        for match in matched:
            by_rule.setdefault(match.family.rule.id, []).append(match)
        for rule_id, matches in by_rule.items():
            hit = _Hit(exe, matches)
            key = ((rule_id, "package", pkg.name) if pkg is not None
                   else (rule_id, "file", hit.best.family.name, posixpath.dirname(real)))
            groups.setdefault(key, []).append(hit)
    found = [_tool_finding(ctx, hits, nouns) for hits in groups.values()]
    if multicall_rule is not None:
        found += [_multicall_finding(ctx, exe, mc, hit, multicall_rule,
                                     nouns[multicall_rule.id])
                  for exe, mc, hit in multicall]
    yield from sorted(found, key=lambda f: (f.path or "", f.rule_id))


def _tool_finding(ctx: ScanContext, hits: list[_Hit], nouns: Mapping[str, str]) -> Finding:
    hits.sort(key=lambda h: (h.best.rank, h.exe.real))
    primary = hits[0]
    family = primary.best.family
    paths = _unique(p for h in hits for p in h.exe.all_paths())
    pkg = owner_of(ctx, primary.exe)
    cost = tool_cost(ctx, [h.exe.node for h in hits], pkg)
    commands = sorted({posixpath.basename(m.path) for h in hits for m in h.matches})
    evidence: dict[str, Any] = {
        "tool": family.name,
        "commands": commands,
        "matched_by": "command name on the search path",
        **file_format(ctx.tree, primary.exe.real),
        **cost.evidence,
    }
    message = f"{nouns[family.rule.id]} {family.name} at {_describe(paths, primary.exe.real)}"
    if pkg is not None:
        message += f", from package {pkg.name}"
    elif "install_tree" in cost.evidence:
        message += f", part of {cost.evidence['install_tree']}"
    tools = _unique(h.best.family.name for h in hits)
    if len(tools) > 1:
        evidence["tools"] = tools
    return ctx.finding(family.rule, message, path=primary.exe.real, paths=paths,
                       package=pkg.ref if pkg is not None else None,
                       size=cost.bytes, claim=cost.claim, evidence=Evidence.of(**evidence))


def _multicall_finding(ctx: ScanContext, exe: Executable, mc: tuple[str, list[str]],
                       hit: _Hit, rule: Rule, noun: str) -> Finding:
    program, reasons = mc
    ranked = sorted(hit.matches, key=lambda m: (m.rank, m.path))
    applet_paths = _unique(m.path for m in ranked)
    applets = _unique(posixpath.basename(p) for p in applet_paths)
    pkg = owner_of(ctx, exe)
    cost = tool_cost(ctx, [exe.node], pkg)
    levels = [m.family.multicall_severity for m in hit.matches if m.family.multicall_severity]
    severity = max(levels, key=SEVERITY_RANK.__getitem__) if levels else None
    if severity is not None and SEVERITY_RANK[severity] <= SEVERITY_RANK[rule.severity]:
        severity = None
    evidence: dict[str, Any] = {
        "program": program,
        "applets": applets,
        "applet_links": len(exe.names),
        "recognised_by": reasons,
        **file_format(ctx.tree, exe.real),
        **cost.evidence,
    }
    message = (f"{program} at {exe.real} provides the {noun} applet"
               f"{'s' if len(applets) > 1 else ''} {', '.join(applets)}"
               f" ({len(exe.names)} command names lead to it)")
    return ctx.finding(rule, message, path=exe.real, paths=_unique([exe.real, *applet_paths]),
                       package=pkg.ref if pkg is not None else None,
                       size=cost.bytes, claim=cost.claim, evidence=Evidence.of(**evidence),
                       severity=severity)


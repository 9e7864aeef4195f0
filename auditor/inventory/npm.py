"""Node packages: every ``package.json`` of a package directory in a ``node_modules`` tree
(``node_modules/NAME`` or ``node_modules/@SCOPE/NAME``, nested trees too), and in Debian's
system module directories, where its ``node-*`` packages install them without a
``node_modules`` (``/usr/share/nodejs/NAME``).

Whether a package is a devDependency is not in its own ``package.json``; npm's lock files
say so: ``package-lock.json`` beside the project's ``node_modules`` or the hidden
``node_modules/.package-lock.json`` npm 7+ writes, keyed by the path from the project
directory (``node_modules/a/node_modules/b``), with ``"dev": true`` on dev-only packages.
Lockfile v1 nests the same under ``dependencies``.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterable, Iterator
from typing import Any

from auditor.filetree import FileTree, Node
from auditor.inventory import Package, cataloger
from auditor.inventory._read import KiB, MiB, find_files, path_index, read_content
from auditor.model.image import Skipped
from auditor.read.wants import Want

MODULE_DIRS = ("**/node_modules", "/usr/share/nodejs", "/usr/lib/nodejs",
               "/usr/lib/*/nodejs", "/usr/local/lib/nodejs")
PACKAGE_WANTS = [Want(f"{d}/{pattern}", 512 * KiB) for d in MODULE_DIRS
                 for pattern in ("*/package.json", "@*/*/package.json")]
LOCK_WANTS = [Want("**/package-lock.json", 32 * MiB),
              Want("**/node_modules/.package-lock.json", 32 * MiB)]
WANTS = [*PACKAGE_WANTS, *LOCK_WANTS]

NODE_MODULES = "/node_modules/"
# npm's package name rule, loosened to what older registries let through (capitals).
VALID_NAME = re.compile(r"(@[a-z0-9~][\w.~-]*/)?[a-z0-9~][\w.~-]*", re.IGNORECASE)


def package_dir_of(path: str) -> str | None:
    """The package directory owning ``path`` in a node_modules tree, if any."""
    cut = path.rfind(NODE_MODULES)
    if cut < 0:
        return None
    rest = path[cut + len(NODE_MODULES):].split("/", 2)
    if rest[0].startswith("@"):
        if len(rest) < 2:
            return None
        return path[:cut + len(NODE_MODULES)] + rest[0] + "/" + rest[1]
    if rest[0].startswith("."):  # .bin, .cache, .package-lock.json: npm's, not a package's
        return None
    return path[:cut + len(NODE_MODULES)] + rest[0]


def parse_manifest(data: bytes) -> tuple[str, str] | str:
    """``(name, version)`` of a package.json, or why it has none."""
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        return f"package.json is not JSON: {exc}"
    if not isinstance(doc, dict):
        return "package.json is not a JSON object"
    name, version = doc.get("name"), doc.get("version")
    if not isinstance(name, str) or not isinstance(version, str) or not name or not version:
        return "package.json has no name or no version"
    if not VALID_NAME.fullmatch(name):
        return f"package.json name {name[:60]!r} is not a package name"
    return name, version.strip()


class LockFiles:
    """The dev flags of every lock file in the image, looked up by package directory."""

    def __init__(self, tree: FileTree, skipped: list[Skipped]) -> None:
        self._tree = tree
        self._skipped = skipped
        self._by_project: dict[str, dict[str, bool] | None] = {}

    def dev(self, package_dir: str) -> bool | None:
        """Whether the package at ``package_dir`` is dev-only; None when no lock says."""
        # Walk out through each enclosing node_modules: the nearest project that locks
        # this directory decides.
        cut = package_dir.rfind(NODE_MODULES)
        while cut >= 0:
            project = package_dir[:cut] or "/"
            flags = self._flags(project)
            if flags is not None:
                key = package_dir[cut + 1:] if project == "/" else package_dir[len(project) + 1:]
                if key in flags:
                    return flags[key]
            cut = package_dir.rfind(NODE_MODULES, 0, cut)
        return None

    def _flags(self, project: str) -> dict[str, bool] | None:
        if project not in self._by_project:
            self._by_project[project] = self._load(project)
        return self._by_project[project]

    def _load(self, project: str) -> dict[str, bool] | None:
        base = project.rstrip("/")
        for path in (f"{base}/node_modules/.package-lock.json", f"{base}/package-lock.json"):
            content = read_content(self._tree, path, self._skipped, "npm lock file")
            if content is None:
                continue
            if not content.complete:
                self._skipped.append(Skipped(path, "lock file is larger than the bytes read; "
                                                   "dev dependencies are not told apart"))
                continue
            try:
                doc = json.loads(content.data.decode("utf-8-sig"))
            except (UnicodeDecodeError, ValueError) as exc:
                self._skipped.append(Skipped(path, f"lock file is not JSON: {exc}"))
                continue
            if isinstance(doc, dict):
                return lock_dev_flags(doc)
            self._skipped.append(Skipped(path, "lock file is not a JSON object"))
        return None


def lock_dev_flags(doc: dict[str, Any]) -> dict[str, bool]:
    """``{"node_modules/a/node_modules/b": dev}`` from a lock file (v1, v2 or v3)."""
    flags: dict[str, bool] = {}
    packages = doc.get("packages")
    if isinstance(packages, dict):
        for key, entry in packages.items():
            if isinstance(key, str) and key and isinstance(entry, dict):
                flags[key] = entry.get("dev") is True
        return flags
    stack: list[tuple[str, Any]] = [("", doc.get("dependencies"))]
    while stack:
        prefix, deps = stack.pop()
        if not isinstance(deps, dict):
            continue
        for name, entry in deps.items():
            if isinstance(entry, dict):
                key = f"{prefix}node_modules/{name}"
                flags[key] = entry.get("dev") is True
                stack.append((key + "/", entry.get("dependencies")))
    return flags


def _files_by_package(tree: FileTree, dirs: set[str]) -> dict[str, list[str]]:
    """Every path under each package directory, nested packages' paths excluded."""
    out: dict[str, list[str]] = {d: [] for d in dirs}
    system = tuple(d + "/" for d in dirs if NODE_MODULES not in d + "/")
    for path in _paths_at_or_under(tree, dirs):
        owner = package_dir_of(path) if NODE_MODULES in path else None
        if owner not in out and (path in out or (system and path.startswith(system))):
            owner = path
            while owner not in out and owner != "/":
                owner = posixpath.dirname(owner)
        if owner in out:
            out[owner].append(path)
    for paths in out.values():
        paths.sort()
    return out


def _paths_at_or_under(tree: FileTree, dirs: set[str]) -> Iterable[str]:
    """The paths of the tree that are one of ``dirs`` or lie under one: a package directory
    owns nothing else (its own node_modules' packages, or what lies beneath it)."""
    if "/" in dirs:
        return tree.nodes
    index = path_index(tree)
    found = {d for d in dirs if d in tree.nodes}
    for d in dirs:
        found.update(n.path for n in index.under(d + "/"))
    return found


def _size(tree: FileTree, paths: list[str]) -> int:
    return sum(n.size for n in (tree.nodes[p] for p in paths) if n.is_file)


@cataloger("npm", wants=WANTS)
def catalog_npm(tree: FileTree, skipped: list[Skipped]) -> Iterator[Package]:
    manifests: list[tuple[Node, str, str]] = []
    for node in find_files(tree, PACKAGE_WANTS, ("/package.json",)):
        content = read_content(tree, node.path, skipped, "package.json")
        if content is None:
            continue
        parsed = parse_manifest(content.data)
        if isinstance(parsed, str):
            reason = parsed if content.complete else (
                "package.json is larger than the bytes read (512 KiB)")
            skipped.append(Skipped(node.path, reason))
            continue
        manifests.append((node, *parsed))
    if not manifests:
        return
    locks = LockFiles(tree, skipped)
    files = _files_by_package(tree, {posixpath.dirname(n.path) for n, _, _ in manifests})
    for node, name, version in manifests:
        package_dir = posixpath.dirname(node.path)
        owned = files[package_dir]
        yield Package(name=name, version=version, ecosystem="npm", files=tuple(owned),
                      installed_size=_size(tree, owned), location=node.path,
                      dev=locks.dev(package_dir) if NODE_MODULES in node.path else None)

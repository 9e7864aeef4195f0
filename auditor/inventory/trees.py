"""Install trees: the directory a toolchain unpacked itself into, outside any package
database (the way the official golang, eclipse-temurin, node and python images ship them).

A command such as ``/usr/local/go/bin/go`` or ``/opt/java/openjdk/bin/javac`` is one small
file of a tree that only works whole; what it costs is the tree. A tree's root is the
directory above a ``bin/`` that holds the file, recognised by what such installs always
carry:

- a JDK or JRE: a ``release`` file (``JAVA_VERSION=...``) beside ``bin/``;
- Go: ``VERSION`` beside ``bin/`` and ``pkg/tool`` (or ``src/runtime``);
- a Node package unpacked as a tree (``/opt/yarn-v1.22.22``): ``package.json`` beside ``bin/``;
  inside a ``node_modules`` tree, the outermost package directory (npm with the
  dependencies it bundles, ``/usr/local/lib/node_modules/npm``);
- any other toolchain (Gradle, Maven, a Zig tarball): ``bin/`` and ``lib/`` beside a
  ``LICENSE``, ``NOTICE``, ``README`` or ``VERSION`` file.

Directories every install shares (``/usr``, ``/usr/local``, ``/opt``) are never a tree.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from auditor.filetree import FileTree, Node
from auditor.model.image import DIR, FILE

SHARED_DIRS = frozenset({"", "/", "/usr", "/usr/local", "/opt", "/usr/lib", "/usr/lib64",
                         "/usr/local/lib", "/usr/share", "/usr/local/share", "/home", "/root",
                         "/srv", "/var", "/var/lib", "/snap", "/usr/libexec"})
NODE_MODULES = "/node_modules/"
_NOTE_FILES = ("LICENSE", "NOTICE", "README", "VERSION", "COPYING")


@dataclass(frozen=True, slots=True)
class InstallTree:
    root: str
    kind: str  # "java", "go", "node package", "toolchain"
    files: tuple[Node, ...]  # its regular files (each hard-linked file once)

    @property
    def bytes(self) -> int:
        return sum(n.size for n in self.files)


def _is(tree: FileTree, path: str, kind: str) -> bool:
    node = tree.get(path)
    return node is not None and (node.kind == kind or (kind == FILE and node.is_file))


def _exists(tree: FileTree, path: str) -> bool:
    return tree.lookup(path) is not None


def tree_kind(tree: FileTree, root: str) -> str | None:
    """What install tree ``root`` is the root of, or None when it is none."""
    if root in SHARED_DIRS or not _is(tree, root, DIR):
        return None
    has_bin = _is(tree, root + "/bin", DIR)
    if has_bin and _exists(tree, root + "/release"):
        return "java"
    if _exists(tree, root + "/VERSION") and (_is(tree, root + "/pkg/tool", DIR)
                                             or _is(tree, root + "/src/runtime", DIR)):
        return "go"
    if has_bin and _exists(tree, root + "/package.json"):
        return "node package"
    if has_bin and _is(tree, root + "/lib", DIR):
        names = [posixpath.basename(n.path).upper() for n in tree.children(root)]
        if any(name.startswith(_NOTE_FILES) for name in names):
            return "toolchain"
    return None


def install_root(tree: FileTree, path: str) -> tuple[str, str] | None:
    """``(root, kind)`` of the install tree the file at ``path`` belongs to, if any."""
    cut = path.find(NODE_MODULES)
    if cut >= 0:
        rest = path[cut + len(NODE_MODULES):].split("/")
        name = "/".join(rest[:2]) if rest[0].startswith("@") else rest[0]
        root = path[:cut + len(NODE_MODULES)] + name
        if len(rest) > 1 and name and not name.startswith(".") and _exists(
                tree, root + "/package.json"):
            return root, "node package"
        return None
    parts = path.split("/")
    # the directory above each bin/ holding the file, the deepest first; a JDK 8 keeps a
    # second bin/ in jre/
    for i in range(len(parts) - 2, 0, -1):
        if parts[i] != "bin":
            continue
        root = "/".join(parts[:i])
        kind = tree_kind(tree, root)
        if kind is None and root.endswith("/jre"):
            root = root[:-4]
            kind = tree_kind(tree, root)
        if kind is not None:
            return root, kind
    return None


def tree_files(tree: FileTree, root: str) -> tuple[Node, ...]:
    """The regular files under ``root``, in path order, each hard-linked file once."""
    out: list[Node] = []
    stack = [root]
    while stack:
        for child in tree.children(stack.pop()):
            if child.kind == DIR:
                stack.append(child.path)
            elif child.kind == FILE:
                out.append(child)
    out.sort(key=lambda n: n.path)
    return tuple(out)


def install_tree(tree: FileTree, path: str) -> InstallTree | None:
    """The install tree holding the file at ``path``, with its files; None when the file
    belongs to no tree this module recognises."""
    found = install_root(tree, path)
    if found is None:
        return None
    root, kind = found
    return InstallTree(root, kind, tree_files(tree, root))

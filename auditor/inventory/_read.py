"""Reading the database files the catalogers declared in their wants, shared by all of them.

Content exists only for files that matched a ``Want`` during the layer pass, and only up to
that want's bound; a file longer than its bound arrives cut short, so every reader here says
whether it got the whole file.
"""

from __future__ import annotations

import bisect
import posixpath
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from auditor.filetree import FileTree, Node
from auditor.model.image import FILE, Skipped
from auditor.read.globs import compile_globs
from auditor.read.wants import Want

KiB = 1024
MiB = 1024 * KiB


@dataclass(frozen=True, slots=True)
class Content:
    path: str
    data: bytes
    complete: bool  # False when the file was longer than its want's bound (or budget)


def read_content(tree: FileTree, path: str, skipped: list[Skipped] | None = None,
                 what: str = "database") -> Content | None:
    """The captured content of the regular file at ``path`` (links followed).

    None when there is no such file or nothing of it was captured; the latter is recorded
    in ``skipped`` (when given), since the file exists but could not be read.
    """
    node = tree.lookup(path)
    if node is None or not node.is_file:
        return None
    if node.data is None:
        if node.size and skipped is not None:
            skipped.append(Skipped(path, f"{what} content was not captured"))
        if node.size:
            return None
        return Content(path, b"", True)
    return Content(path, node.data, len(node.data) >= node.size)


@dataclass(frozen=True, slots=True)
class PathIndex:
    """A tree's entries in path order and by base name, made once per tree: catalogers and
    detectors look for files by name or under a directory many times over, and each walk
    of every path of an image costs as much as all the lookups together."""

    stamp: tuple[int, int]  # the tree's layers and entries when it was made
    paths: list[str]  # every path but the root, in path order
    nodes: list[Node]  # their entries, in the same order
    by_name: dict[str, list[Node]]  # base name -> entries, in path order
    elves: list[Node]  # the regular files the ELF reader read, in path order

    def named(self, name: str) -> list[Node]:
        """The entries whose base name is ``name``, in path order."""
        return self.by_name.get(name, [])

    def under(self, prefix: str) -> list[Node]:
        """The entries whose path starts with ``prefix``, in path order."""
        if not prefix:
            return list(self.nodes)
        start = bisect.bisect_left(self.paths, prefix)
        # every path that starts with the prefix sorts before the prefix's last character
        # made one greater
        last = ord(prefix[-1])
        if last < 0x10FFFF:
            end = bisect.bisect_left(self.paths, prefix[:-1] + chr(last + 1), start)
        else:
            end = start
            while end < len(self.paths) and self.paths[end].startswith(prefix):
                end += 1
        return self.nodes[start:end]

    def ending(self, tails: tuple[str, ...]) -> list[Node]:
        """The entries whose path ends with one of ``tails``, in path order."""
        candidates: list[Node] = []
        within = tuple(t for t in tails if "/" not in t)
        if within:  # such a tail ends the base name: look through the names, not the paths
            candidates += [n for name, named in self.by_name.items() if name.endswith(within)
                           for n in named]
        for tail in tails:
            if "/" in tail:
                base = tail.rpartition("/")[2]
                # the path's base name is the tail's last part (none: no clean path ends so)
                candidates += self.named(base) if base else self.nodes
        found = {n.path: n for n in candidates if n.path.endswith(tails)}
        return [found[p] for p in sorted(found)]


_INDEXES: weakref.WeakKeyDictionary[FileTree, PathIndex] = weakref.WeakKeyDictionary()


def path_index(tree: FileTree) -> PathIndex:
    """The :class:`PathIndex` of ``tree``, made again when a layer was applied since."""
    stamp = (len(tree.layers), len(tree.nodes))
    index = _INDEXES.get(tree)
    if index is None or index.stamp != stamp:
        nodes = list(tree)
        paths = [n.path for n in nodes]
        by_name: dict[str, list[Node]] = {}
        for node in nodes:
            base = node.path.rpartition("/")[2]
            named = by_name.get(base)
            if named is None:
                by_name[base] = [node]
            else:
                named.append(node)
        elves = [n for n in nodes if n.elf is not None and n.kind == FILE]
        index = _INDEXES[tree] = PathIndex(stamp, paths, nodes, by_name, elves)
    return index


def find_files(tree: FileTree, wants: Iterable[Want], endswith: tuple[str, ...]) -> list[Node]:
    """Regular files of the tree matching any of ``wants``' globs, in path order.

    ``endswith`` is a cheap first filter (every glob's fixed tail), looked up in the tree's
    :class:`PathIndex`, so the regular expression runs on a handful of paths rather than
    on every file of the image.
    """
    rx = compile_globs(w.glob for w in wants)
    return [node for node in path_index(tree).ending(endswith)
            if node.is_file and rx.match(node.path)]


def paragraphs(text: str) -> Iterator[list[str]]:
    """Blank-line separated blocks of lines (dpkg status, apk installed)."""
    block: list[str] = []
    for line in text.split("\n"):
        if line.strip():
            block.append(line.rstrip("\r"))
        elif block:
            yield block
            block = []
    if block:
        yield block


def complete_part(text: str, unit: str = "\n\n") -> str:
    """The part of a cut-short file that ends at its last whole unit: a paragraph break
    (status databases) or a newline (file lists)."""
    cut = text.rfind(unit)
    return text[:cut + 1] if cut >= 0 else ""


def read_text(tree: FileTree, path: str, skipped: list[Skipped], what: str, lost: str, *,
              unit: str = "\n\n", errors: str = "surrogateescape") -> str | None:
    """A package database as text. When only its first bytes were kept, the text ends at
    the last whole ``unit`` and ``skipped`` says what is ``lost`` after the cut."""
    content = read_content(tree, path, skipped, what)
    if content is None:
        return None
    text = content.data.decode("utf-8", errors)
    if not content.complete:
        text = complete_part(text, unit)
        skipped.append(Skipped(path, f"{what} is larger than the bytes read; {lost}"))
    return text


def join_inside(base: str, rel: str) -> str:
    """``rel`` (from a package's file list) as an absolute, normalised image path."""
    return posixpath.normpath(posixpath.join(base, rel))

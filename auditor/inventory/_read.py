"""Reading the database files the catalogers declared in their wants, shared by all of them.

Content exists only for files that matched a ``Want`` during the layer pass, and only up to
that want's bound; a file longer than its bound arrives cut short, so every reader here says
whether it got the whole file.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from auditor.filetree import FileTree, Node
from auditor.model.image import Skipped
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


def find_files(tree: FileTree, wants: Iterable[Want], endswith: tuple[str, ...]) -> list[Node]:
    """Regular files of the tree matching any of ``wants``' globs, in path order.

    ``endswith`` is a cheap first filter (every glob's fixed tail), so the regular
    expression runs on a handful of paths rather than on every file of the image.
    """
    rx = compile_globs(w.glob for w in wants)
    found = [node for path, node in tree.nodes.items()
             if path.endswith(endswith) and node.is_file and rx.match(path)]
    found.sort(key=lambda n: n.path)
    return found


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

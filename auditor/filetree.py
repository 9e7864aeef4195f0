"""Squashing layers into the one filesystem a container sees, as overlayfs does.

Rules (OCI image spec, "Applying Changesets", and what Docker's overlay2 driver does):
- ``.wh.NAME`` deletes NAME (and everything under it) from the layers below;
- ``.wh..wh..opq`` in a directory hides everything the layers below had in it;
- whiteouts never hide entries of their own layer, so they are applied first;
- an entry replaces what was at its path; a directory over a directory merges;
- a non-directory where a directory was removes that directory's whole subtree, and a
  layer entry below a path that is not a directory turns that path into a directory;
- a hard link shares its target's content, mode and owner.

Every entry keeps the index of the layer that last wrote it. Every file copy that does
not survive to the final tree is wasted space, charged to the layer that wrote it.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from auditor.model.image import DIR, FILE, HARDLINK, SYMLINK, LayerScan, RawEntry, Skipped
from auditor.model.tree import LayerStats, TreeWalk, WastedCopy

__all__ = ["MAX_SYMLINK_HOPS", "FileTree", "LayerSquash", "LayerStats", "Node", "TreeWalk",
           "WastedCopy", "squash_layers"]

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
MAX_SYMLINK_HOPS = 40  # as Linux's path walk (MAXSYMLINKS)


# One entry of the squashed tree: the layer's own RawEntry, its ``layer`` set (see
# RawEntry); the tree makes new ones only for the root, the directories it implies and
# hard links (which take their target's content).
Node = RawEntry


def _node(path: str, kind: str, layer: int, mode: int = 0o755, uid: int = 0, gid: int = 0,
          size: int = 0, link: str | None = None, mtime: int = 0, data: bytes | None = None,
          elf: Any = None, archive: Any = None) -> Node:
    return RawEntry(path, kind, mode, uid, gid, size, link, mtime, data, elf, layer, archive)


def _plain(path: str) -> bool:
    """An absolute path with no empty, ``.`` or ``..`` component."""
    return path == "/" or (path.startswith("/") and not path.endswith(("/", "/.", "/.."))
                           and "//" not in path and "/./" not in path and "/../" not in path)


def _parent(path: str) -> str:
    # rpartition, not posixpath.dirname: this runs for every entry of every layer
    return path.rpartition("/")[0] or "/"


class FileTree:
    """The squashed tree. Build it with :func:`squash_layers`."""

    def __init__(self) -> None:
        root = _node("/", DIR, -1)
        self.nodes: dict[str, Node] = {"/": root}
        self._children: dict[str, set[str]] = {"/": set()}
        self.layers: list[LayerStats] = []
        self.wasted: list[WastedCopy] = []
        self.skipped: list[Skipped] = []
        # dive's view (every version of a path written more than once), kept small: a
        # file in the tree is its path's one version so far unless listed here; a path
        # whose one version is gone (deleted, replaced by a non-file, a whiteout of
        # nothing) maps to that version's size; one written again maps to None, the
        # sizes of its versions then added up in _dive_wasted
        self._touches: dict[str, int | None] = {}
        self._dive_wasted = 0
        # Every entry but the root in path order (and its paths), and the size totals, kept
        # until the next layer is applied: detectors walk the whole tree several times and
        # every report and verdict asks for the sizes, which add up over tens of thousands
        # of entries each time.
        self._in_order: tuple[list[Node], list[str]] | None = None
        self._sizes: tuple[int, int] | None = None  # size_bytes, dive_wasted_bytes

    # -- building -------------------------------------------------------------------------

    def _remove(self, path: str, by_layer: int, removed: bool) -> None:
        """Remove ``path`` and its whole subtree, charging file copies as waste."""
        node = self.nodes.get(path)
        if node is None or path == "/":
            return
        stack = [path]
        while stack:
            p = stack.pop()
            n = self.nodes.pop(p)
            kids = self._children.pop(p, None)
            if kids:
                stack.extend(kids)
            if n.kind == FILE:
                self._touches.setdefault(p, n.size)  # its version outlives it
            if n.kind == FILE and n.size:
                self.wasted.append(WastedCopy(p, n.size, n.layer, by_layer, removed))
                if 0 <= n.layer < len(self.layers):
                    self.layers[n.layer].wasted_bytes += n.size
                self.layers[by_layer].removed_bytes += n.size
        self._children[_parent(path)].discard(path)

    def _ensure_dir(self, path: str, layer: int) -> None:
        """Make every ancestor up to ``path`` a directory (implicitly, as unpackers do)."""
        # A loop, not recursion: an image may name a path thousands of components deep.
        nodes = self.nodes
        missing: list[str] = []  # path and its ancestors that are not directories, deepest first
        while path != "/":
            node = nodes.get(path)
            if node is not None and node.kind == DIR:
                break
            missing.append(path)
            path = _parent(path)
        for path in reversed(missing):
            if path in nodes:
                self._remove(path, layer, removed=False)
            self._insert(_node(path, DIR, layer))

    def _insert(self, node: Node, parent: str | None = None) -> None:
        self.nodes[node.path] = node
        self._children[parent or _parent(node.path)].add(node.path)
        if node.kind == DIR:
            self._children.setdefault(node.path, set())

    def apply_layer(self, scan: LayerScan) -> None:
        self._in_order = self._sizes = None
        index = len(self.layers)
        stats = LayerStats(index)
        self.layers.append(stats)
        self.skipped.extend(scan.skipped)
        # Whiteouts first: they act on the layers below only, wherever they sit in the tar.
        upper: list[RawEntry] = []
        for raw in scan.entries:
            base = raw.path.rpartition("/")[2]  # posixpath.basename, for every entry
            if not base.startswith(WHITEOUT_PREFIX):
                upper.append(raw)
                continue
            stats.whiteouts += 1
            directory = _parent(raw.path)
            if base == OPAQUE_MARKER:
                for child in list(self._children.get(directory, ())):
                    self._remove(child, index, removed=True)
            elif base.startswith(WHITEOUT_PREFIX + WHITEOUT_PREFIX):
                continue  # other aufs metadata (.wh..wh.plnk, .wh..wh.aufs): not content
            else:
                target = posixpath.join(directory, base[len(WHITEOUT_PREFIX):])
                self._touch(target, 0, whiteout=True)
                self._remove(target, index, removed=True)
        for raw in upper:
            self._apply_entry(raw, index, stats)

    def _touch(self, path: str, size: int, whiteout: bool = False) -> None:
        """One more version of ``path``: a file of ``size`` about to be inserted (what
        was there is gone already), or a whiteout (a version of size 0, before the
        removal)."""
        touches = self._touches
        before = touches.get(path, -1)
        if before == -1:  # nothing recorded: a file in the tree is the one version
            node = self.nodes.get(path)
            if node is None or node.kind != FILE:
                if whiteout:
                    touches[path] = 0
                return  # a new file stands for its own version once it is in the tree
            before = node.size
        self._dive_wasted += size if before is None else before + size
        touches[path] = None

    def _apply_entry(self, raw: RawEntry, index: int, stats: LayerStats) -> None:
        path = raw.path
        if path == "/":
            root = self.nodes["/"]
            root.mode, root.uid, root.gid, root.layer = raw.mode, raw.uid, raw.gid, index
            return
        parent = _parent(path)
        above = self.nodes.get(parent)
        if above is None or above.kind != DIR:  # most entries' parent is a directory already
            self._ensure_dir(parent, index)
        old = self.nodes.get(path)
        if raw.kind == DIR and old is not None and old.kind == DIR:
            # a directory over a directory merges: its children stay, its own fields are
            # the upper layer's (the entry is replaced, never changed: see RawEntry)
            self.nodes[path] = self._own(raw, index)
            return
        if raw.kind == HARDLINK:
            target = self.nodes.get(raw.link or "")
            if target is None or not target.is_file:
                self.skipped.append(Skipped(f"layer {index}: {path!r}",
                                            f"hard link to missing file {raw.link!r}"))
                return
            if old is not None:
                self._remove(path, index, removed=False)
            self._insert(_node(path, HARDLINK, index, target.mode, target.uid, target.gid,
                               target.size, target.path if target.kind == FILE else
                               target.link, target.mtime, target.data, target.elf,
                               target.archive), parent)
            return
        if old is not None:
            self._remove(path, index, removed=False)
        if raw.kind == FILE:
            stats.added_bytes += raw.size
            stats.files += 1
            self._touch(path, raw.size)
        self._insert(self._own(raw, index), parent)

    @staticmethod
    def _own(raw: RawEntry, index: int) -> Node:
        """``raw`` as this tree's entry for layer ``index``: the object itself, or a copy
        when another tree already holds it for another layer."""
        if raw.layer == index:
            return raw
        if raw.layer == -1:
            raw.layer = index
            return raw
        return _node(raw.path, raw.kind, index, raw.mode, raw.uid, raw.gid, raw.size,
                     raw.link, raw.mtime, raw.data, raw.elf, raw.archive)

    # -- reading --------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.nodes)

    def _order(self) -> tuple[list[Node], list[str]]:
        order = self._in_order
        if order is None or len(order[1]) != len(self.nodes) - 1:
            nodes = self.nodes
            paths = sorted(nodes)
            del paths[0]  # "/", first in path order (one list, not a filtered copy)
            order = self._in_order = ([nodes[path] for path in paths], paths)
        return order

    def __iter__(self) -> Iterator[Node]:
        """Every entry, root excluded, in path order."""
        return iter(self._order()[0])

    def walk(self) -> TreeWalk:
        """Every entry, root excluded, in path order, as iteration; its ``skip_below()``
        passes over what lies under the entry it returned last."""
        return TreeWalk(*self._order())

    def get(self, path: str) -> Node | None:
        """The entry at exactly ``path``, symlinks not followed."""
        return self.nodes.get(path)

    def children(self, path: str) -> list[Node]:
        return [self.nodes[p] for p in sorted(self._children.get(path, ()))]

    def resolve(self, path: str, follow_last: bool = True) -> str | None:
        """The canonical path ``path`` leads to inside the image, symlinks followed.

        Absolute link targets are taken from the image root and ``..`` stops at the root, as
        in a chroot, so no lookup ever leaves the image. None when a component is missing,
        a non-directory is walked through, or the links loop.
        """
        nodes = self.nodes
        node = nodes.get(path)
        if node is not None and (node.kind != SYMLINK or not follow_last) and _plain(path):
            # Every ancestor of an entry is a directory (squashing keeps it so), so there
            # is no link on the way: the path is its own answer, without walking it.
            return path
        pending = [p for p in reversed(path.split("/")) if p and p != "."]
        current = "/"
        hops = 0
        while pending:
            part = pending.pop()
            if part == "..":
                current = _parent(current)
                continue
            cur = nodes.get(current)
            if cur is None or cur.kind != DIR:
                return None
            # posixpath.join, for a part that holds no "/" (this runs for every directory
            # the package databases name)
            candidate = current + "/" + part if current != "/" else "/" + part
            node = nodes.get(candidate)
            if node is None:
                return None
            if node.kind == SYMLINK and (pending or follow_last):
                hops += 1
                if hops > MAX_SYMLINK_HOPS:
                    return None
                target = node.link or ""
                if target.startswith("/"):
                    current = "/"
                pending.extend(p for p in reversed(target.split("/")) if p not in ("", "."))
                continue
            current = candidate
        return current

    def lookup(self, path: str, follow_last: bool = True) -> Node | None:
        resolved = self.resolve(path, follow_last)
        return None if resolved is None else self.nodes.get(resolved)

    def read_prefix(self, path: str, size: int) -> bytes | None:
        """Up to ``size`` bytes from the start of the file at ``path`` (links followed).

        Only content declared in the scan's wants was kept; None when it was not, or when
        ``path`` is not a regular file.
        """
        node = self.lookup(path)
        if node is None or not node.is_file or node.data is None:
            return None
        return node.data[:size]

    def read_prefixes(self, paths: Iterable[str], size: int) -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        for path in paths:
            data = self.read_prefix(path, size)
            if data is not None:
                out[path] = data
        return out

    def has_whole(self, path: str) -> bool:
        """Whether the whole content of the file at ``path`` was kept."""
        node = self.lookup(path)
        return node is not None and node.data is not None and len(node.data) == node.size

    # -- size accounting ------------------------------------------------------------------

    def _totals(self) -> tuple[int, int]:
        if self._sizes is None:
            self._sizes = (sum(n.size for n in self.nodes.values() if n.kind == FILE),
                           self._dive_wasted)
        return self._sizes

    @property
    def size_bytes(self) -> int:
        """Bytes of file content in the final tree (each hard-linked file once)."""
        return self._totals()[0]

    @property
    def wasted_bytes(self) -> int:
        return sum(w.size for w in self.wasted)

    @property
    def dive_wasted_bytes(self) -> int:
        """dive's figure: every version of a path written in more than one layer, the
        surviving copy included (so it is never below :attr:`wasted_bytes`' share)."""
        return self._totals()[1]


def squash_layers(layers: Sequence[LayerScan]) -> FileTree:
    tree = FileTree()
    for scan in layers:
        tree.apply_layer(scan)
    return tree


class LayerSquash:
    """Layers squashed as a source reads them, before it knows the image for sure.

    A stream puts its layers in an order of its own and names their order only at its end
    (``docker save``'s manifest.json), but an engine says beforehand which layers the image
    has: the source hands each layer over by the place it expects it to take (``add``), in
    any order, and every layer whose predecessors are all here is squashed at once, while
    the rest of the stream arrives. ``tree_of`` then takes the image's real layers: the
    tree built so far stands only if it began with exactly those layers, in that order;
    otherwise the layers are squashed again from the start, so a wrong guess costs time,
    never a wrong tree.
    """

    def __init__(self) -> None:
        self._tree = FileTree()
        self._applied: list[LayerScan] = []
        self._waiting: dict[int, LayerScan] = {}

    def add(self, index: int, scan: LayerScan) -> None:
        if index < len(self._applied) or index in self._waiting:
            return  # a place handed over twice: the first one stands until tree_of
        self._waiting[index] = scan
        while len(self._applied) in self._waiting:
            ready = self._waiting.pop(len(self._applied))
            self._tree.apply_layer(ready)
            self._applied.append(ready)

    def tree_of(self, layers: Sequence[LayerScan]) -> FileTree:
        """The squashed tree of ``layers``, the image's layers in order."""
        tree, done = self._tree, self._applied
        self._tree, self._applied, self._waiting = FileTree(), [], {}  # handed out once
        if len(done) <= len(layers) and all(
                a.entries is b.entries and a.skipped is b.skipped
                for a, b in zip(done, layers[:len(done)], strict=True)):
            for scan in layers[len(done):]:
                tree.apply_layer(scan)
            return tree
        return squash_layers(layers)

"""The squashed tree as the steps after squashing read it: its read-only interface
(``Tree``, which ``auditor.filetree.FileTree`` satisfies; squashing itself stays there),
and the plain values it hands out: each layer's sizes, each wasted file copy, and a walk
in path order that can leave out subtrees.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from auditor.model.image import RawEntry, Skipped


@dataclass(frozen=True, slots=True)
class WastedCopy:
    """A file copy written by ``layer`` and deleted or replaced by ``by_layer``."""

    path: str
    size: int
    layer: int
    by_layer: int
    removed: bool  # True when deleted; False when overwritten by a new version


@dataclass(slots=True)
class LayerStats:
    index: int
    added_bytes: int = 0  # file content the layer wrote
    wasted_bytes: int = 0  # of that, what later layers deleted or overwrote
    removed_bytes: int = 0  # lower-layer content this layer deleted or overwrote
    files: int = 0
    whiteouts: int = 0


class TreeWalk:
    """A walk over a tree's entries in path order that can leave out subtrees.

    Paths under a directory form one run in path order (those starting with ``dir/``), so
    leaving them out is a jump, not a test of every path in them. The run need not follow
    the directory at once (``/a/b-c`` sorts between ``/a/b`` and ``/a/b/x``): the walk
    jumps when it reaches the run.
    """

    def __init__(self, nodes: list[RawEntry], paths: list[str]) -> None:
        self._nodes, self._paths = nodes, paths
        self._next = 0
        self._skips: list[tuple[int, int]] = []  # a heap of [start, end) index runs

    def __iter__(self) -> TreeWalk:
        return self

    def __next__(self) -> RawEntry:
        i = self._next
        while self._skips and self._skips[0][0] <= i:
            i = max(i, heapq.heappop(self._skips)[1])
        if i >= len(self._nodes):
            raise StopIteration
        self._next = i + 1
        return self._nodes[i]

    def skip_below(self) -> None:
        """Leave out every entry under the one returned last."""
        last = self._next - 1
        if last < 0:
            return
        path = self._paths[last]
        start = bisect.bisect_left(self._paths, path + "/", last + 1)
        end = bisect.bisect_left(self._paths, path + "0", start)  # "0" follows "/"
        if start < end:
            heapq.heappush(self._skips, (start, end))


class Tree(Protocol):
    """The one filesystem a container sees, layers squashed: every entry (a ``RawEntry``
    whose ``layer`` is the layer that wrote it), looked up by path with the image's
    symlinks followed inside the image, and what the layers wasted.

    Read-only: whoever holds a ``Tree`` (the audit result, the reports, the fixes) reads
    it and never changes it.
    """

    @property
    def nodes(self) -> Mapping[str, RawEntry]:
        """Every entry by its exact path, the root included."""
        ...

    @property
    def layers(self) -> Sequence[LayerStats]:
        """Each layer's sizes, in layer order."""
        ...

    @property
    def wasted(self) -> Sequence[WastedCopy]:
        """Every file copy a later layer deleted or replaced."""
        ...

    @property
    def skipped(self) -> Sequence[Skipped]:
        """What the layers or squashing could not take in."""
        ...

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[RawEntry]:
        """Every entry, root excluded, in path order."""
        ...

    def walk(self) -> TreeWalk:
        """Every entry, root excluded, in path order, subtrees leavable."""
        ...

    def get(self, path: str) -> RawEntry | None:
        """The entry at exactly ``path``, symlinks not followed."""
        ...

    def children(self, path: str) -> list[RawEntry]:
        """The entries directly in the directory ``path``, in path order."""
        ...

    def resolve(self, path: str, follow_last: bool = True) -> str | None:
        """The canonical path ``path`` leads to inside the image; None when it leads
        nowhere."""
        ...

    def lookup(self, path: str, follow_last: bool = True) -> RawEntry | None:
        """The entry ``path`` leads to, symlinks followed."""
        ...

    def read_prefix(self, path: str, size: int) -> bytes | None:
        """Up to ``size`` kept bytes from the start of the file at ``path``."""
        ...

    def read_prefixes(self, paths: Iterable[str], size: int) -> dict[str, bytes]:
        """:meth:`read_prefix` of each path that has kept content."""
        ...

    def has_whole(self, path: str) -> bool:
        """Whether the whole content of the file at ``path`` was kept."""
        ...

    @property
    def size_bytes(self) -> int:
        """Bytes of file content in the final tree (each hard-linked file once)."""
        ...

    @property
    def wasted_bytes(self) -> int:
        """Bytes of the file copies later layers deleted or replaced."""
        ...

    @property
    def dive_wasted_bytes(self) -> int:
        """dive's figure: every version of a path written in more than one layer."""
        ...

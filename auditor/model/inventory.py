"""The inventory: every package the image's databases and files name, what could not be
read, and which package owns which file. The catalogers in ``auditor.inventory`` fill it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from auditor.model.image import DIR, Skipped
from auditor.model.package import FROM_FILES, Package
from auditor.model.tree import Tree


@dataclass(slots=True)
class Inventory:
    packages: list[Package] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    _owners: dict[str, Package] = field(default_factory=dict)

    def index(self, tree: Tree) -> None:
        """Map each package file, and where it really lives after symlinks, to its owner
        (the first package that lists it).

        Directories are shared by many packages (``/usr/bin``), so they are not indexed:
        ``owner()`` of a directory says nothing. Package databases list tens of thousands
        of paths, so the work is done a package at a time on sets. A path the tree holds
        lives where it says: every ancestor of an entry is a directory and entries' paths
        are clean, so no link is on its way. Only the few paths the tree lacks (``/bin/sh``
        under a ``/bin -> usr/bin`` link) are resolved, their parents once each.
        """
        nodes = tree.nodes
        dirs = {path for path, node in nodes.items() if node.kind == DIR}
        real_dirs: dict[str, str | None] = {}
        found: dict[str, Package] = {}
        # the last package first, so that an earlier one's entry replaces a later one's
        for pkg in reversed(self.packages):
            if pkg.ecosystem in FROM_FILES:
                continue
            files = set(pkg.files)
            elsewhere = files.difference(nodes)  # a dict: one lookup per file
            files -= dirs
            for path in elsewhere:
                parent, _, base = path.rpartition("/")
                parent = parent or "/"
                if parent in real_dirs:
                    real_parent = real_dirs[parent]
                else:
                    real_parent = real_dirs[parent] = tree.resolve(parent)
                if real_parent is not None and real_parent != parent:
                    real = real_parent.rstrip("/") + "/" + base
                    if real not in dirs:
                        files.add(real)
            found.update(dict.fromkeys(files, pkg))
        found.update(self._owners)  # what was indexed before stays
        self._owners = found

    def owner(self, path: str) -> Package | None:
        return self._owners.get(path)

    @property
    def owned(self) -> Mapping[str, Package]:
        """Every path ``owner()`` knows, with its owner: for tests of thousands of paths."""
        return self._owners

    def by_name(self, name: str, ecosystem: str | None = None) -> list[Package]:
        return [p for p in self.packages
                if p.name == name and (ecosystem is None or p.ecosystem == ecosystem)]

    def __iter__(self) -> Iterator[Package]:
        return iter(self.packages)

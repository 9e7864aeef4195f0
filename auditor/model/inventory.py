"""The inventory: every package the image's databases and files name, what could not be
read, and which package owns which file. The catalogers in ``auditor.inventory`` fill it.
"""

from __future__ import annotations

from collections.abc import Iterator
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
        """Map each package file, and where it really lives after symlinks, to its owner.

        Directories are shared by many packages (``/usr/bin``), so they are not indexed:
        ``owner()`` of a directory says nothing. Parents are resolved once each: a package
        database lists tens of thousands of paths in a few hundred directories.
        """
        real_dirs: dict[str, str | None] = {}
        nodes, owners = tree.nodes, self._owners  # tens of thousands of paths: no lookups
        for pkg in self.packages:
            if pkg.ecosystem in FROM_FILES:
                continue
            for path in pkg.files:
                node = nodes.get(path)
                if node is not None and node.kind == DIR:
                    continue
                owners.setdefault(path, pkg)
                parent, _, base = path.rpartition("/")
                parent = parent or "/"
                if parent in real_dirs:
                    real_parent = real_dirs[parent]
                else:
                    real_parent = real_dirs[parent] = tree.resolve(parent)
                if real_parent is not None and real_parent != parent:
                    real = real_parent.rstrip("/") + "/" + base
                    node = nodes.get(real)
                    if node is None or node.kind != DIR:
                        owners.setdefault(real, pkg)

    def owner(self, path: str) -> Package | None:
        return self._owners.get(path)

    def by_name(self, name: str, ecosystem: str | None = None) -> list[Package]:
        return [p for p in self.packages
                if p.name == name and (ecosystem is None or p.ecosystem == ecosystem)]

    def __iter__(self) -> Iterator[Package]:
        return iter(self.packages)

"""Package inventory: what the image's package databases say is installed, and who owns
which file. One module per ecosystem, each registering a cataloger with ``@cataloger``.

A cataloger declares the files it reads (``wants``: globs and byte bounds) so that the
single pass over the layers keeps their content; it then reads them from the squashed
tree only. A file it cannot parse becomes a recorded ``Skipped`` entry, never a crash.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from auditor.filetree import FileTree
from auditor.model.image import Skipped
from auditor.model.package import FROM_FILES, Package
from auditor.read.wants import Want

__all__ = ["CATALOGERS", "Cataloger", "Inventory", "Package", "build_inventory",
           "cataloger", "inventory_wants", "load_catalogers"]


CatalogFn = Callable[[FileTree, list[Skipped]], Iterable[Package]]


@dataclass(frozen=True, slots=True)
class Cataloger:
    name: str
    wants: tuple[Want, ...]
    run: CatalogFn


CATALOGERS: dict[str, Cataloger] = {}


def cataloger(name: str, wants: Iterable[Want] = ()) -> Callable[[CatalogFn], CatalogFn]:
    """Register ``fn(tree, skipped) -> packages`` as the cataloger for one ecosystem."""

    def register(fn: CatalogFn) -> CatalogFn:
        if name in CATALOGERS:
            raise ValueError(f"cataloger {name!r} registered twice")
        CATALOGERS[name] = Cataloger(name, tuple(wants), fn)
        return fn

    return register


def load_catalogers() -> dict[str, Cataloger]:
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")
    return CATALOGERS


@dataclass(slots=True)
class Inventory:
    packages: list[Package] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    _owners: dict[str, Package] = field(default_factory=dict)

    def index(self, tree: FileTree) -> None:
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
                if node is not None and node.kind == "dir":
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
                    if node is None or node.kind != "dir":
                        owners.setdefault(real, pkg)

    def owner(self, path: str) -> Package | None:
        return self._owners.get(path)

    def by_name(self, name: str, ecosystem: str | None = None) -> list[Package]:
        return [p for p in self.packages
                if p.name == name and (ecosystem is None or p.ecosystem == ecosystem)]

    def __iter__(self) -> Iterator[Package]:
        return iter(self.packages)


def build_inventory(tree: FileTree) -> Inventory:
    inv = Inventory()
    for cat in load_catalogers().values():
        try:
            inv.packages.extend(cat.run(tree, inv.skipped))
        except Exception as exc:  # one broken cataloger never stops the scan
            inv.skipped.append(Skipped(f"cataloger {cat.name}", f"failed: {exc!r}"))
    inv.index(tree)
    return inv


def inventory_wants() -> list[Want]:
    return [w for cat in load_catalogers().values() for w in cat.wants]

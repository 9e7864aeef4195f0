"""Package inventory: what the image's package databases say is installed, and who owns
which file. One module per ecosystem, each registering a cataloger with ``@cataloger``.

A cataloger declares the files it reads (``wants``: globs and byte bounds) so that the
single pass over the layers keeps their content; it then reads them from the squashed
tree only. A file it cannot parse becomes a recorded ``Skipped`` entry, never a crash.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from auditor.filetree import FileTree
from auditor.model.image import Skipped
from auditor.model.inventory import Inventory
from auditor.model.package import Package
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

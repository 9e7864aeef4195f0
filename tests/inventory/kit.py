"""Run one cataloger on a small synthetic image, reading only what it declared it wants."""

from __future__ import annotations

from collections.abc import Sequence

from auditor.filetree import FileTree
from auditor.inventory import Inventory, Package, build_inventory, load_catalogers
from auditor.model.image import Skipped
from auditor.read.wants import Want
from tests.layerkit import Spec, tree_of


def tree_for(name: str, *layers: Sequence[Spec], extra: Sequence[Want] = ()) -> FileTree:
    """The squashed tree with content captured exactly as cataloger ``name`` declared."""
    wants = [*load_catalogers()[name].wants, *extra]
    return tree_of(*layers, wants=wants)


def catalog(name: str, *layers: Sequence[Spec], tree: FileTree | None = None
            ) -> tuple[list[Package], list[Skipped]]:
    tree = tree or tree_for(name, *layers)
    skipped: list[Skipped] = []
    packages = list(load_catalogers()[name].run(tree, skipped))
    return packages, skipped


def inventory(*layers: Sequence[Spec]) -> Inventory:
    wants = [w for cat in load_catalogers().values() for w in cat.wants]
    return build_inventory(tree_of(*layers, wants=wants))


def by_name(packages: list[Package]) -> dict[str, Package]:
    return {p.name: p for p in packages}

"""What a tool costs: the package that installed it, or the install tree it belongs to.

A tool a package database owns costs that package (its recorded installed size, at least
the files found). A tool outside any database costs the install tree it came in
(``auditor.inventory.trees``: the JDK around ``javac``, ``/usr/local/go`` around ``go``,
``/opt/yarn-v1.22.22`` around ``yarn``), less the files of that tree a database owns,
which are their package's. npm's own record names only npm's files, not the dependencies
it bundles in its ``node_modules``; the tree holds both, so an npm package costs its tree
too. A lone file costs itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from auditor.detectors import ScanContext
from auditor.filetree import Node
from auditor.inventory import Package
from auditor.inventory.trees import install_tree
from auditor.model.evidence import JsonValue
from auditor.model.findings import Copy
from auditor.model.image import FILE

TREE_PACKAGES = frozenset({"npm"})  # ecosystems whose record leaves out what they bundle


@dataclass(slots=True)
class Cost:
    bytes: int
    claim: list[Copy]
    evidence: dict[str, JsonValue] = field(default_factory=dict)


def _copies(nodes: Iterable[Node]) -> list[Copy]:
    return [(n.layer, n.path, n.size) for n in nodes if n.kind == FILE]


def package_files(ctx: ScanContext, pkg: Package) -> list[Node]:
    out: dict[str, Node] = {}
    for path in pkg.files:
        node = ctx.tree.lookup(path, follow_last=False)
        if node is not None and node.kind == FILE:
            out[node.path] = node
    return list(out.values())


def tool_cost(ctx: ScanContext, files: list[Node], pkg: Package | None) -> Cost:
    """The cost of a tool whose files (the executables found) are ``files``, owned by
    ``pkg`` when a package database owns them."""
    file_bytes = sum(n.size for n in files)
    cost = Cost(file_bytes, _copies(files))
    if pkg is not None:
        owned = package_files(ctx, pkg)
        cost = Cost(max(file_bytes, pkg.installed_size), _copies(owned) or cost.claim,
                    {"package_installed_size": pkg.installed_size})
        if pkg.ecosystem not in TREE_PACKAGES:
            return cost
    tree = install_tree(ctx.tree, files[0].path) if files else None
    if tree is None:
        return cost
    mine = [n for n in tree.files if (o := ctx.owner(n.path)) is None or o is pkg
            or o.ecosystem in TREE_PACKAGES]
    size = sum(n.size for n in mine)
    if size <= cost.bytes:
        return cost
    cost.bytes, cost.claim = size, _copies(mine)
    cost.evidence.update(install_tree=tree.root, install_tree_kind=tree.kind,
                         install_tree_files=len(mine), install_tree_bytes=size)
    return cost

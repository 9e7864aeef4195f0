"""A ScanContext with an image config and a history of our choosing, for the detectors that
read them (user, config, history, permissions). Strings in ``history`` are steps that made a
layer, in order; ``nop(...)`` makes an empty-layer step (USER, EXPOSE, ENV...)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace

from auditor.detectors import ScanContext
from auditor.filetree import squash_layers
from auditor.inventory import Inventory, Package
from auditor.model.findings import Finding
from auditor.model.image import HistoryEntry, ImageConfig
from tests.layerkit import Spec, image_of


def nop(created_by: str) -> HistoryEntry:
    return HistoryEntry(created_by, empty_layer=True)


def context_of(*layers: Sequence[Spec], config: ImageConfig | None = None,
               history: Sequence[str | HistoryEntry] | None = None,
               packages: Iterable[Package] = ()) -> ScanContext:
    config = config or ImageConfig()
    if history is None:
        history = [f"/bin/sh -c step {i}" for i in range(len(layers))]
    entries = tuple(h if isinstance(h, HistoryEntry) else HistoryEntry(h, False)
                    for h in history)
    image = image_of(*layers, config=replace(config, history=entries))
    tree = squash_layers(image.layers)
    inventory = Inventory(packages=list(packages))
    inventory.index(tree)
    return ScanContext(image, tree, inventory, image.config.layer_history(len(layers)))


def run(detect: Callable[[ScanContext], Iterable[Finding]], ctx: ScanContext,
        rule_id: str | None = None) -> list[Finding]:
    found = list(detect(ctx))
    return [f for f in found if rule_id is None or f.rule_id == rule_id]

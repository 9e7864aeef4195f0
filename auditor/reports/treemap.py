"""The image's bytes by layer and by what they are, and a squarified treemap of them.

Each file of the squashed tree goes to one kind, the first that holds: ``runtime`` (the
runtime closure needs it), the category of a finding about it or a directory above it
(``shell``, ``compiler``, ``cache``, ...), ``package`` (a package database owns it),
``other``. A layer's copies that later layers deleted or overwrote are its ``wasted``
bytes. The layout is the squarified treemap of Bruls, Huizing and van Wijk (2000): rows of
rectangles laid along the shorter side, each row kept while it makes the worst aspect
ratio better.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from auditor.model.result import Report
from auditor.reports import view

KINDS = ("runtime", "secret", "shell", "package-manager", "compiler", "network-tool",
         "setuid", "leftover-source", "cache", "wasted-space", "config", "root-user",
         "package", "wasted", "other")
KIND_LABEL = {"runtime": "needed at run time", "package": "other package files",
              "wasted": "deleted or overwritten later", "other": "other files"}


@dataclass(frozen=True, slots=True)
class Rect:
    x: float
    y: float
    w: float
    h: float


@dataclass(frozen=True, slots=True)
class Block:
    layer: int
    kind: str
    bytes: int
    rect: Rect


def _finding_kinds(report: Report) -> dict[str, str]:
    """path -> category of the most severe finding about it (a directory covers its tree)."""
    kinds: dict[str, str] = {}
    for f in reversed(view.findings(report)):  # least severe first: the worst one wins
        for path in f.paths or ((f.path,) if f.path else ()):
            kinds[path.rstrip("/") or "/"] = f.category
    return kinds


def _kind_of(path: str, needed: frozenset[str], kinds: dict[str, str], report: Report) -> str:
    if path in needed:
        return "runtime"
    probe = path
    while probe:
        kind = kinds.get(probe)
        if kind is not None:
            return kind
        probe = probe.rpartition("/")[0]
    return "package" if view.owner(report, path) is not None else "other"


def bytes_by_layer(report: Report) -> dict[int, dict[str, int]]:
    """layer -> kind -> bytes: what the final tree holds from each layer, and its waste."""
    closure = view.closure(report)
    needed = frozenset(closure.files) if closure is not None else frozenset()
    kinds = _finding_kinds(report)
    out: dict[int, dict[str, int]] = {}
    for path, size, layer in view.files(report):
        kind = _kind_of(path, needed, kinds, report)
        by_kind = out.setdefault(layer, {})
        by_kind[kind] = by_kind.get(kind, 0) + size
    for facts in view.image(report).layers:
        if facts.wasted_bytes:
            out.setdefault(facts.index, {})["wasted"] = facts.wasted_bytes
    return out


def _worst(row: Sequence[float], side: float) -> float:
    total = sum(row)
    if total <= 0 or side <= 0:
        return float("inf")
    return max(max(side * side * a / (total * total), total * total / (side * side * a))
               for a in row if a > 0)


def squarify(values: Sequence[float], rect: Rect) -> list[Rect]:
    """Rectangles for ``values`` (largest first) that tile ``rect`` in proportion."""
    total = sum(values)
    if total <= 0:
        return [Rect(rect.x, rect.y, 0, 0) for _ in values]
    scale = rect.w * rect.h / total
    areas = [v * scale for v in values]
    out: list[Rect] = []
    x, y, w, h = rect.x, rect.y, rect.w, rect.h
    i = 0
    while i < len(areas):
        side = min(w, h)
        row = [areas[i]]
        i += 1
        while i < len(areas) and _worst([*row, areas[i]], side) <= _worst(row, side):
            row.append(areas[i])
            i += 1
        thick = sum(row) / side if side else 0
        offset = 0.0
        for a in row:
            length = a / thick if thick else 0
            if w >= h:  # a column along the left edge
                out.append(Rect(x, y + offset, thick, length))
            else:  # a row along the top edge
                out.append(Rect(x + offset, y, length, thick))
            offset += length
        if w >= h:
            x, w = x + thick, w - thick
        else:
            y, h = y + thick, h - thick
    return out


def layout(by_layer: dict[int, dict[str, int]], width: float, height: float,
           pad: float = 2.0) -> tuple[list[tuple[int, int, Rect]], list[Block]]:
    """(layer, bytes, rect) of each layer and the blocks of kinds inside them."""
    layers = sorted(((sum(k.values()), layer) for layer, k in by_layer.items()
                     if sum(k.values()) > 0), reverse=True)
    outer = squarify([float(size) for size, _ in layers], Rect(0, 0, width, height))
    frames = []
    blocks = []
    for (size, layer), rect in zip(layers, outer, strict=True):
        frames.append((layer, size, rect))
        inner = Rect(rect.x + pad, rect.y + pad + 14 if rect.h > 40 else rect.y + pad,
                     max(0.0, rect.w - 2 * pad),
                     max(0.0, rect.h - 2 * pad - (14 if rect.h > 40 else 0)))
        kinds = sorted(((b, kind) for kind, b in by_layer[layer].items() if b > 0),
                       key=lambda item: (-item[0], KINDS.index(item[1])
                                         if item[1] in KINDS else 99))
        for (b, kind), r in zip(kinds, squarify([float(b) for b, _ in kinds], inner),
                                strict=True):
            blocks.append(Block(layer, kind, b, r))
    return frames, blocks

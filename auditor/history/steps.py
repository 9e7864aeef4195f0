"""Build steps read back from an image's history, each mapped to the layer it made.

Non-empty history entries map to layers in order; when they do not add up to the number
of layers we attribute nothing rather than guess (as ``ImageConfig.layer_history``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from auditor.history.created_by import parse_created_by
from auditor.history.mounts import RunMount
from auditor.model.image import ImageConfig


@dataclass(frozen=True, slots=True)
class Step:
    """One history entry read as a Dockerfile instruction."""

    index: int  # position in the config's history
    layer: int | None  # the layer it produced; None for empty-layer steps or when unknown
    instruction: str  # RUN, ADD, COPY, USER, ...; "" when the entry says nothing (imports)
    args: str  # the text after the keyword; for RUN, the shell script itself
    created_by: str  # the history entry as written
    buildkit: bool
    mounts: tuple[RunMount, ...] = ()  # a RUN's --mount flags, where history records them


def build_steps(config: ImageConfig, layer_count: int) -> list[Step]:
    producing = sum(1 for h in config.history if not h.empty_layer)
    mapped = producing == layer_count
    steps: list[Step] = []
    layer = 0
    for index, entry in enumerate(config.history):
        this_layer: int | None = None
        if not entry.empty_layer:
            this_layer = layer if mapped else None
            layer += 1
        read = parse_created_by(entry.created_by)
        steps.append(Step(index, this_layer, read.instruction, read.args, entry.created_by,
                          read.buildkit, read.mounts))
    return steps


def last_step(steps: Sequence[Step], instruction: str) -> Step | None:
    for step in reversed(steps):
        if step.instruction == instruction:
            return step
    return None

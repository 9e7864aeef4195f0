"""Which Dockerfile instruction made each layer: the attribution, as a value.

``auditor.fixes.attribution`` computes it; suggestions, the rewrite and the reports read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from auditor.model.dockerfile import Dockerfile, Instruction, Stage


@dataclass(frozen=True, slots=True)
class LayerOrigin:
    layer: int
    from_base: bool  # made by the base image's build, not by this Dockerfile
    dockerfile_line: int | None
    instruction: str | None  # the Dockerfile instruction, or the base's history entry
    confidence: str  # exact | order | none


@dataclass(frozen=True, slots=True)
class StepMatch:
    """One instruction of the target stage chain and the history entry it made."""

    instruction: Instruction
    stage: Stage
    history_index: int | None
    layer: int | None
    confidence: str


@dataclass(frozen=True)
class Attribution:
    layers: tuple[LayerOrigin, ...]
    base_layers: int  # layers that came with the base image
    base_image: str | None  # the FROM image of the target chain's first stage
    from_line: int | None  # that FROM's line
    target: Stage | None
    steps: tuple[StepMatch, ...]
    unmatched: tuple[str, ...]  # what could not be matched, in sentences
    dockerfile: Dockerfile | None = None
    history_layers: Mapping[int, int] = field(default_factory=dict)  # history index -> layer
    # The history is not the record of this Dockerfile's final stage, in one sentence:
    # nothing is attributed, every report warns, and ``fix`` refuses.
    mismatch: str | None = None

    def origin(self, layer: int | None) -> LayerOrigin | None:
        if layer is None or not 0 <= layer < len(self.layers):
            return None
        return self.layers[layer]

    def step_of_layer(self, layer: int | None) -> StepMatch | None:
        for step in self.steps:
            if layer is not None and step.layer == layer:
                return step
        return None

    def step_of_history(self, index: int | None) -> StepMatch | None:
        for step in self.steps:
            if index is not None and step.history_index == index:
                return step
        return None

    def line_of_layer(self, layer: int | None) -> int | None:
        origin = self.origin(layer)
        return origin.dockerfile_line if origin is not None else None

    def last(self, keyword: str, text: str = "") -> StepMatch | None:
        """The target chain's last ``keyword`` instruction whose text contains ``text``."""
        for step in reversed(self.steps):
            ins = step.instruction
            if ins.keyword == keyword and text in ins.original:
                return step
        return None

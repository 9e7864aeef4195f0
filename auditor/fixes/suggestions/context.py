"""What every suggestion reads: the findings by category, where each came from, and the
final stage when there is one; and the helpers that put image text into a suggestion's text
on one line."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from auditor.fixes.finalstage import FinalStage
from auditor.model.attribution import Attribution, LayerOrigin, StepMatch
from auditor.model.closure import Closure
from auditor.model.findings import Finding
from auditor.model.result import AuditResult
from auditor.model.text import inert

TOOLCHAIN = ("compiler", "network-tool")  # what only a build needs
DROPPED_BY_STAGE = (*TOOLCHAIN, "package-manager", "leftover-source", "cache", "shell", "setuid")
SHOWN = 6


def one(text: object) -> str:
    """A string from the image (a path, a package, USER, an ENV name) on one line, its
    control characters shown as escapes: a newline in a path cannot start a line of the
    suggestion that reads as an instruction of ours."""
    return inert(str(text))


@dataclass
class Ctx:
    """One ``suggest`` call's inputs, and the findings sorted by category."""

    result: AuditResult
    closure: Closure | None
    attribution: Attribution | None
    by_category: dict[str, list[Finding]] = field(default_factory=lambda: defaultdict(list))
    final: FinalStage | None = None

    @property
    def image_bytes(self) -> int:
        """What ``docker images`` counts: every layer's bytes, deleted ones included."""
        return sum(s.added_bytes for s in self.result.tree.layers)

    def origin(self, f: Finding) -> tuple[LayerOrigin | None, StepMatch | None]:
        a = self.attribution
        if a is None:
            return None, None
        step = a.step_of_layer(f.layer) if f.layer is not None else None
        index = f.evidence.history_index
        if step is None and index is not None:
            step = a.step_of_history(index)
        return a.origin(f.layer), step

    def user_run(self, f: Finding) -> StepMatch | None:
        """The user's own RUN that made ``f``, when attribution is sure of it."""
        origin, step = self.origin(f)
        if step is None or step.confidence == "none" or step.instruction.keyword != "RUN":
            return None
        return None if origin is not None and origin.from_base else step


def names(findings: Iterable[Finding]) -> str:
    """The packages, paths or titles of ``findings``, the first few of them, each once."""
    seen: dict[str, None] = {}
    for f in findings:
        seen[one((f.package.name if f.package is not None else "") or f.path or f.title)] = None
    listed = list(seen)
    more = f" and {len(listed) - SHOWN} more" if len(listed) > SHOWN else ""
    return ", ".join(listed[:SHOWN]) + more


def ids(findings: Iterable[Finding]) -> tuple[str, ...]:
    """The rules a suggestion answers: its ``rule_ids``, and what its text names."""
    return tuple(sorted({f.rule_id for f in findings}))


def rules(findings: Iterable[Finding]) -> str:
    return ", ".join(ids(findings))


def line_ref(step: StepMatch | None) -> str:
    return f" (line {step.instruction.line})" if step is not None else ""

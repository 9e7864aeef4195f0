"""A suggestion: one stage fix, with the bytes it saves and where it applies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Suggestion:
    title: str
    text: str
    saves_bytes: int = 0
    layer: int | None = None
    dockerfile_line: int | None = None
    # The rules whose findings it answers, sorted; empty when it answers a layer or the
    # whole image rather than named rules (SARIF ties it to rules by these).
    rule_ids: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"title": self.title, "text": self.text, "saves_bytes": self.saves_bytes,
                "layer": self.layer, "dockerfile_line": self.dockerfile_line}

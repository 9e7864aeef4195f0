"""Report formats: a closed set, one module each, every one a ``write(report, stream, opts)``."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from auditor.audit import AuditResult
from auditor.model.text import created_by_text, human_bytes, shorten

__all__ = ["FORMATS", "Report", "Suggestion", "WriteOptions", "created_by_text", "formats",
           "human_bytes", "shorten", "writer"]


@dataclass(frozen=True, slots=True)
class Suggestion:
    title: str
    text: str
    saves_bytes: int = 0
    layer: int | None = None
    dockerfile_line: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"title": self.title, "text": self.text, "saves_bytes": self.saves_bytes,
                "layer": self.layer, "dockerfile_line": self.dockerfile_line}


@dataclass
class Report:
    """Everything a report shows: the audit, and the policy's verdict when there is one."""

    result: AuditResult
    verdict: Any = None  # auditor.policy.Verdict
    policy_name: str | None = None
    policy_source: str | None = None
    suggestions: Sequence[Suggestion] = field(default_factory=tuple)
    dockerfile: str | None = None  # the Dockerfile path as given (repository-relative)
    dockerfile_lines: dict[int, int] = field(default_factory=dict)  # layer -> line
    sarif_category: str | None = None
    closure: Any = None  # auditor.closure.compute.Closure, when computed
    attribution: Any = None  # auditor.fixes.attribution.Attribution, with --dockerfile


@dataclass(frozen=True, slots=True)
class WriteOptions:
    color: bool = False
    width: int | None = None
    quiet: bool = False


Writer = Callable[[Report, TextIO, WriteOptions], None]


# Each format's module (auditor.reports.NAME) is imported only when that format is written:
# the terminal report needs rich and SARIF needs sarif-om, which a JSON report does not.
FORMATS = ("terminal", "json", "sarif", "markdown", "codequality", "junit", "cyclonedx",
           "html")


def writer(name: str) -> Writer:
    """The ``write`` of format ``name`` (one of ``FORMATS``)."""
    if name not in FORMATS:
        raise KeyError(name)
    write: Writer = importlib.import_module(f"auditor.reports.{name}").write
    return write


def formats() -> dict[str, Writer]:
    return {name: writer(name) for name in FORMATS}

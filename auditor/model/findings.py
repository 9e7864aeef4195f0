"""The unit of every report: one Finding per thing found, with its evidence."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from auditor.model.package import PackageRef

SEVERITIES = ("critical", "high", "medium", "low", "info")
SEVERITY_RANK = {name: rank for rank, name in enumerate(reversed(SEVERITIES))}  # info=0

CATEGORIES = (
    "shell", "package-manager", "compiler", "network-tool", "root-user", "leftover-source",
    "secret", "setuid", "cache", "wasted-space", "config",
)


@dataclass(frozen=True, slots=True)
class Rule:
    """A rule a detector reports under: stable id, fixed category, default severity."""

    id: str
    category: str
    severity: str
    title: str
    help: str = ""  # longer text; the detector's docstring when empty
    fix: str = ""  # the short fix, shown beside each finding

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ValueError(f"rule {self.id}: unknown category {self.category!r}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"rule {self.id}: unknown severity {self.severity!r}")


@dataclass(frozen=True, slots=True)
class Finding:
    rule_id: str
    category: str
    severity: str
    title: str
    message: str
    path: str | None = None  # absolute path in the image; None for config findings
    package: PackageRef | None = None  # reports show its label, name@version
    layer: int | None = None
    created_by: str | None = None
    bytes: int = 0
    fix: str = ""
    paths: tuple[str, ...] = ()  # every path of the thing found (path is the first)
    evidence: Mapping[str, Any] = field(default_factory=dict)  # why it was flagged

    @property
    def fingerprint(self) -> str:
        """Stable across rebuilds: the rule plus what was found, never a layer digest."""
        # The package without its version: an upgraded package is the same finding. The
        # name as typed, never split from the label: @a/x@1 and @b/x@1 are two findings.
        where = self.path or (self.package.name if self.package is not None else "")
        subject = str(self.evidence.get("subject", ""))
        key = f"{self.rule_id}\0{where}" + (f"\0{subject}" if subject else "")
        return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:32]

    @property
    def package_label(self) -> str | None:
        """The package as reports show it (``name@version``), or None."""
        return self.package.label if self.package is not None else None

    def to_json(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "category": self.category,
            "severity": self.severity,
            "title": self.title,
            "message": self.message,
            "path": self.path,
            "paths": list(self.paths),
            "package": self.package_label,
            "layer": self.layer,
            "created_by": self.created_by,
            "bytes": self.bytes,
            "fix": self.fix,
            "fingerprint": self.fingerprint,
            "evidence": dict(self.evidence),
        }


def mask_secret(value: str, keep: int = 4) -> str:
    """Never print a secret whole: keep a few leading characters so a person can find it."""
    if len(value) <= keep * 2:
        return "*" * len(value)
    return value[:keep] + "*" * min(len(value) - keep, 16)

"""The unit of every report: one Finding per thing found, with its evidence."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from auditor.model.evidence import Evidence
from auditor.model.package import PackageRef

SEVERITIES = ("critical", "high", "medium", "low", "info")
SEVERITY_RANK = {name: rank for rank, name in enumerate(reversed(SEVERITIES))}  # info=0

CATEGORIES = (
    "shell", "package-manager", "compiler", "network-tool", "root-user", "leftover-source",
    "secret", "setuid", "cache", "wasted-space", "config",
)


# How a rule's metadata defaults when its declaration does not say (detectors state only
# their exceptions). Security rules are risks (GitHub code scanning files them under
# security, with a security-severity); the others are hygiene (maintainability).
SECURITY_CATEGORIES = frozenset({"shell", "package-manager", "compiler", "network-tool",
                                 "root-user", "secret", "setuid"})
# These categories mix hygiene with risk: the rules of medium severity and above are risks
# (an exposed SSH port, a copied .git directory), the rest are hygiene.
MIXED_CATEGORIES = frozenset({"config", "leftover-source"})
# GitHub reads security-severity as critical > 9.0, high 7.0-8.9, medium 4.0-6.9, low
# 0.1-3.9: each value sits inside its band, clear of the edges.
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "2.0"}
# How often a rule's findings are right (SARIF's precision). Secrets are matched by shape,
# so a test key or an example token can pass for one; a leftover source tree may be
# meant; the others are facts of the file tree or config.
PRECISIONS = ("very-high", "high", "medium", "low")
CATEGORY_PRECISION = {"secret": "high", "leftover-source": "high"}
MAX_TAGS = 20  # GitHub code scanning's limit per rule (10 shown)


@dataclass(frozen=True, slots=True)
class Rule:
    """A rule a detector reports under: stable id, fixed category, default severity, and
    what reports say about it. Fields left at their defaults are derived in
    ``__post_init__`` from the category and severity (see the tables above), so a
    declaration states only its exceptions and every reader sees the resolved value."""

    id: str
    category: str
    severity: str
    title: str
    help: str = ""  # longer text; the detector's docstring when empty
    fix: str = ""  # the short fix, shown beside each finding
    security: bool | None = None  # a risk, not hygiene; None: from category and severity
    precision: str = ""  # one of PRECISIONS; "": from the category
    # SARIF security-severity ("0.1".."10.0") for all its findings; "": the band of each
    # finding's severity (security rules only)
    security_severity: str = ""
    tags: tuple[str, ...] = ()  # (): container, the category, security or maintainability

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ValueError(f"rule {self.id}: unknown category {self.category!r}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"rule {self.id}: unknown severity {self.severity!r}")
        if self.security is None:
            object.__setattr__(self, "security", self.category in SECURITY_CATEGORIES or (
                self.category in MIXED_CATEGORIES
                and SEVERITY_RANK[self.severity] >= SEVERITY_RANK["medium"]))
        if not self.precision:
            object.__setattr__(self, "precision",
                               CATEGORY_PRECISION.get(self.category, "very-high"))
        if not self.tags:
            object.__setattr__(self, "tags", ("container", self.category, "security"
                                              if self.security else "maintainability"))
        self._check_reporting()

    def _check_reporting(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"rule {self.id}: unknown precision {self.precision!r}")
        if self.security_severity:
            try:
                score = float(self.security_severity)
            except ValueError:
                score = -1.0
            if not 0.0 <= score <= 10.0:
                raise ValueError(f"rule {self.id}: security_severity "
                                 f"{self.security_severity!r} is not a score from 0.0 to 10.0")
        if len(self.tags) > MAX_TAGS or not all(self.tags):
            raise ValueError(f"rule {self.id}: tags must be 1 to {MAX_TAGS} non-empty words")

    def security_severity_of(self, severity: str) -> str | None:
        """The SARIF security-severity for this rule's findings when the worst is
        ``severity``; None for a hygiene rule (and for info, which has no band)."""
        if not self.security:
            return None
        return self.security_severity or SECURITY_SEVERITY.get(severity)


@dataclass(frozen=True, slots=True)
class Overlap:
    """Bytes of a finding that another finding already counts in the totals."""

    fingerprint: str  # the finding the bytes belong to in the totals
    rule_id: str
    path: str | None
    bytes: int

    def to_json(self) -> dict[str, Any]:
        return {"fingerprint": self.fingerprint, "rule_id": self.rule_id, "path": self.path,
                "bytes": self.bytes}


# A file copy: the layer that wrote it, its path and its size. One copy counts once.
Copy = tuple[int, str, int]


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
    evidence: Evidence = field(default_factory=Evidence)  # why it was flagged
    # Bytes of ``bytes`` that other findings count (the same files seen by two concerns:
    # an apt cache and the RUN that left it); totals add ``own_bytes`` only.
    overlaps: tuple[Overlap, ...] = ()
    # The file copies whose bytes ``bytes`` counts, for the overlap pass; never reported.
    claim: frozenset[Copy] = field(default=frozenset(), compare=False, repr=False)

    @property
    def own_bytes(self) -> int:
        """The bytes that belong to this finding alone in the totals."""
        return max(0, self.bytes - sum(o.bytes for o in self.overlaps))

    @property
    def fingerprint(self) -> str:
        """Stable across rebuilds: the rule plus what was found, never a layer digest."""
        # The package without its version: an upgraded package is the same finding. The
        # name as typed, never split from the label: @a/x@1 and @b/x@1 are two findings.
        where = self.path or (self.package.name if self.package is not None else "")
        subject = self.evidence.subject or ""
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
            "overlaps": [o.to_json() for o in self.overlaps],
            "fix": self.fix,
            "fingerprint": self.fingerprint,
            "evidence": self.evidence.to_json(),
        }


def mask_secret(value: str, keep: int = 4) -> str:
    """Never print a secret whole: keep a few leading characters so a person can find it."""
    if len(value) <= keep * 2:
        return "*" * len(value)
    return value[:keep] + "*" * min(len(value) - keep, 16)

"""The policy's verdict on an image, and the waivers a policy grants (plain values)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from auditor.model.findings import Finding


@dataclass(frozen=True, slots=True)
class Waiver:
    """A ``[[waivers]]`` entry: a finding's fingerprint, or a rule id with an optional path
    glob, accepted until ``expires`` (inclusive) for the stated ``reason``."""

    reason: str
    expires: date
    fingerprint: str | None = None
    rule: str | None = None
    path: str | None = None

    @property
    def subject(self) -> str:
        if self.fingerprint is not None:
            return f"fingerprint {self.fingerprint}"
        return f"rule {self.rule}" + (f" at {self.path}" if self.path else "")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.fingerprint is not None:
            out["fingerprint"] = self.fingerprint
        if self.rule is not None:
            out["rule"] = self.rule
        if self.path is not None:
            out["path"] = self.path
        out["reason"] = self.reason
        out["expires"] = self.expires
        return out



@dataclass(frozen=True)
class Verdict:
    policy: str
    policy_source: str
    score: int  # 0..100, from every counted finding (the baseline does not change it)
    grade: str  # A..F
    passed: bool
    reasons: list[str]  # one sentence per policy rule that failed the image
    findings: list[Finding]  # after the policy; includes the policy's own findings
    suppressed: list[tuple[Finding, str]]  # (finding, why): allow-list, waiver, baseline
    expired_waivers: list[Waiver]
    new_findings: list[Finding] | None  # not in the baseline; None without a baseline
    actions: dict[str, str] = field(default_factory=dict)  # fingerprint -> fail/warn/ignore

    def action(self, finding: Finding) -> str:
        return self.actions.get(finding.fingerprint, "warn")

    def to_json(self) -> dict[str, Any]:
        return {
            "policy": {"name": self.policy, "source": self.policy_source},
            "score": self.score,
            "grade": self.grade,
            "passed": self.passed,
            "reasons": list(self.reasons),
            "findings": [{**f.to_json(), "action": self.action(f)} for f in self.findings],
            "suppressed": [{"finding": f.to_json(), "why": why} for f, why in self.suppressed],
            "expired_waivers": [{**w.to_dict(), "expires": w.expires.isoformat()}
                                for w in self.expired_waivers],
            "new_findings": (None if self.new_findings is None
                             else [f.fingerprint for f in self.new_findings]),
        }

"""What the pipeline hands the reports: the audit of an image, and the report on it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from auditor.model.attribution import Attribution
from auditor.model.closure import Closure
from auditor.model.findings import Finding
from auditor.model.image import HistoryEntry, Image, Skipped
from auditor.model.inventory import Inventory
from auditor.model.suggestion import Suggestion
from auditor.model.tree import Tree
from auditor.model.verdict import Verdict


@dataclass(frozen=True)
class AuditResult:
    """An image read and audited: its squashed tree, its packages and its findings."""

    image: Image
    tree: Tree  # an auditor.filetree.FileTree, read-only from here on
    inventory: Inventory
    history: tuple[HistoryEntry | None, ...]  # per layer, secrets masked
    findings: tuple[Finding, ...] = ()
    skipped: tuple[Skipped, ...] = ()


@dataclass(frozen=True)
class Report:
    """Everything a report shows: the audit, the policy's verdict when there is one, the
    runtime closure, the attribution to Dockerfile lines, and the suggestions."""

    result: AuditResult
    verdict: Verdict | None = None
    policy_name: str | None = None
    policy_source: str | None = None
    suggestions: tuple[Suggestion, ...] = ()
    dockerfile: str | None = None  # the Dockerfile path as given (repository-relative)
    dockerfile_lines: Mapping[int, int] = field(default_factory=dict)  # layer -> line
    sarif_category: str | None = None
    closure: Closure | None = None  # when computed
    attribution: Attribution | None = None  # with a Dockerfile
    # --severity: the severities shown, and how many findings (counted or suppressed) the
    # filter left out; the verdict was made before it and still counts them all.
    shown_severities: tuple[str, ...] | None = None
    hidden_by_severity: int = 0

    def showing(self, severities: tuple[str, ...]) -> Report:
        """This report showing only findings of ``severities``: what every format prints.
        The gate (passed, score, reasons) is the verdict on every finding."""
        def keep(f: Finding) -> bool:
            return f.severity in severities

        result, verdict = self.result, self.verdict
        hidden = sum(not keep(f) for f in (verdict.findings if verdict else result.findings))
        result = replace(result, findings=tuple(f for f in result.findings if keep(f)))
        if verdict is not None:
            hidden += sum(not keep(f) for f, _why in verdict.suppressed)
            verdict = replace(verdict, findings=[f for f in verdict.findings if keep(f)],
                              suppressed=[(f, w) for f, w in verdict.suppressed if keep(f)])
        return replace(self, result=result, verdict=verdict, shown_severities=severities,
                       hidden_by_severity=hidden)

    def config_line(self, rule_id: str) -> int | None:
        """The Dockerfile line of a finding with no layer (root user, no HEALTHCHECK, a
        config finding): the line of the one suggestion that answers its rule, else the
        final stage's last ``USER``, else that stage's ``FROM``; never the builder's
        ``FROM`` of a multi-stage file. None without a Dockerfile."""
        lines = {s.dockerfile_line for s in self.suggestions
                 if s.dockerfile_line and rule_id in s.rule_ids}
        if len(lines) == 1:
            return lines.pop()
        a = self.attribution
        target = a.target if a is not None and a.mismatch is None else None
        if target is None:  # no Dockerfile, or not the one that built the image
            return None
        users = [ins.line for ins in target.instructions if ins.keyword == "USER"]
        return users[-1] if users else target.from_line

    def finding_line(self, finding: Finding) -> int | None:
        """The Dockerfile line a finding points at: its layer's, or :meth:`config_line`."""
        if finding.layer is not None:
            return self.dockerfile_lines.get(finding.layer)
        return self.config_line(finding.rule_id)

"""What the CI, SBOM and HTML formats read of a report, in one place.

``codequality``, ``junit``, ``cyclonedx`` and ``html`` read the report only through these
accessors, so when the model moves (``Report``, ``Verdict``, ``Package``) one module
follows it. Each accessor answers in plain values: findings, the gate, what was
suppressed and why, the image and its layers, the packages, suggestions, what was skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from auditor.model.findings import SEVERITY_RANK, Finding
from auditor.model.image import FILE, Skipped
from auditor.model.package import Package
from auditor.model.result import Report
from auditor.model.suggestion import Suggestion
from auditor.model.text import human_bytes


@dataclass(frozen=True, slots=True)
class Gate:
    """The policy's verdict on the image."""

    policy: str
    passed: bool
    score: int
    grade: str
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LayerFacts:
    index: int
    digest: str
    size_bytes: int  # content the layer wrote
    wasted_bytes: int  # of that, what later layers deleted or overwrote
    files: int
    created_by: str | None


@dataclass(frozen=True, slots=True)
class ImageFacts:
    reference: str
    id: str  # the config digest
    size_bytes: int  # the squashed tree's content
    wasted_bytes: int
    os: str
    architecture: str
    layers: tuple[LayerFacts, ...]


def by_severity(findings: list[Finding]) -> list[Finding]:
    """Most severe first; ties in a stable, readable order."""
    return sorted(findings, key=lambda f: (-SEVERITY_RANK[f.severity], -f.bytes, f.rule_id,
                                           f.path or "", f.fingerprint))


def findings(report: Report) -> list[Finding]:
    """What the report shows: after the policy when there is one, most severe first."""
    verdict = report.verdict
    return by_severity(list(verdict.findings if verdict is not None
                            else report.result.findings))


def suppressed(report: Report) -> list[tuple[Finding, str]]:
    """(finding, why) for each finding the policy hid (allow-list, waiver, baseline), and
    that is not also shown."""
    verdict = report.verdict
    if verdict is None:
        return []
    shown = {f.fingerprint for f in verdict.findings}
    return [(f, why) for f, why in verdict.suppressed if f.fingerprint not in shown]


# What kind of thing kept a finding from counting, by how evaluate() words its reason.
SUPPRESSION_KINDS = ("allow-list", "waiver", "baseline", "--ignore")


def suppression_kind(why: str) -> str:
    """``allow-list``, ``waiver``, ``baseline`` or ``--ignore``: the start of ``why``."""
    for kind in SUPPRESSION_KINDS:
        if why.startswith(kind):
            return kind
    return "policy"


def dockerfile_line(report: Report, f: Finding) -> int | None:
    """The Dockerfile line a finding points at (:meth:`Report.finding_line`: its layer's
    instruction, or for a finding with no layer the final stage's line). None without a
    Dockerfile. SARIF's locations and the JSON report's ``dockerfile_line`` both read it."""
    if not report.dockerfile:
        return None
    return report.finding_line(f)


def action(report: Report, finding: Finding) -> str | None:
    """``fail`` when the finding fails the gate, ``warn`` when it only shows; None
    without a policy."""
    verdict = report.verdict
    return None if verdict is None else str(verdict.action(finding))


def gate(report: Report) -> Gate | None:
    verdict = report.verdict
    if verdict is None:
        return None
    return Gate(str(verdict.policy), bool(verdict.passed), int(verdict.score),
                str(verdict.grade), tuple(verdict.reasons))


def image(report: Report) -> ImageFacts:
    result = report.result
    img, tree = result.image, result.tree
    layers = tuple(
        LayerFacts(scan.index, scan.digest, stats.added_bytes, stats.wasted_bytes, stats.files,
                   hist.created_by if hist is not None and hist.created_by else None)
        for scan, stats, hist in zip(img.layers, tree.layers, result.history, strict=True))
    return ImageFacts(img.reference, img.id, tree.size_bytes, tree.wasted_bytes,
                      img.config.os, img.config.architecture, layers)


def packages(report: Report) -> list[Package]:
    return list(report.result.inventory.packages)


def file_layer(report: Report, path: str) -> int | None:
    """The layer the squashed tree's ``path`` comes from, or None when it is not there."""
    node = report.result.tree.get(path)
    return None if node is None or node.layer < 0 else int(node.layer)


def files(report: Report) -> list[tuple[str, int, int]]:
    """(path, size, layer) of every file of the squashed tree with content, in path order;
    a hard-linked file once, as the image's size counts it."""
    return [(n.path, n.size, n.layer) for n in report.result.tree
            if n.kind == FILE and n.size]


def suggestions(report: Report) -> list[Suggestion]:
    return list(report.suggestions)


def suggestion_facts(s: Suggestion) -> list[str]:
    """What a suggestion says besides its text: bytes saved, its layer, its Dockerfile line."""
    facts = [f"saves {human_bytes(s.saves_bytes)}"] if s.saves_bytes else []
    if s.layer is not None:
        facts.append(f"layer {s.layer}")
    if s.dockerfile_line is not None:
        facts.append(f"Dockerfile line {s.dockerfile_line}")
    return facts


# A line of a suggestion that is Dockerfile text: an instruction, or our own comment in it.
_DOCKERFILE_LINE = re.compile(
    r"^(# auditor:|(FROM|RUN|COPY|ADD|ENV|ARG|USER|CMD|ENTRYPOINT|WORKDIR|EXPOSE|LABEL|"
    r"VOLUME|HEALTHCHECK|SHELL|STOPSIGNAL|ONBUILD)\s)")
PROSE, DOCKERFILE = "prose", "dockerfile"


def suggestion_blocks(text: str) -> list[tuple[str, list[str]]]:
    """A suggestion's plain text cut into blocks of prose and of Dockerfile lines, each
    ``(PROSE or DOCKERFILE, lines)``; a blank line ends a Dockerfile block."""
    blocks: list[tuple[str, list[str]]] = []
    # "\n" only: the suggestion's own line breaks; other separators are image text
    for line in text.strip().split("\n"):
        in_code = bool(blocks) and blocks[-1][0] == DOCKERFILE
        continued = in_code and blocks[-1][1][-1].endswith("\\") and line[:1].isspace()
        # a sentence that starts with a keyword ("USER is not set.") ends like one
        code = continued or (bool(_DOCKERFILE_LINE.match(line))
                             and not line.rstrip().endswith((".", ":")))
        kind = DOCKERFILE if code else PROSE
        if blocks and blocks[-1][0] == kind:
            blocks[-1][1].append(line)
        else:
            blocks.append((kind, [line]))
    return blocks


def skipped(report: Report) -> list[Skipped]:
    return list(report.result.skipped)


def closure(report: Report) -> Any:
    """The runtime closure (auditor.closure.compute.Closure), or None when not computed."""
    return report.closure


def owner(report: Report, path: str) -> Package | None:
    """The package that installed ``path``, when a package database says so."""
    return report.result.inventory.owner(path)

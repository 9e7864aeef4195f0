"""Judge an image's findings under a policy: the Verdict (score, grade, passed, reasons).

Each finding goes through the same steps, in this order: its rule or category may be
disabled (it is dropped); the policy may change its severity; an allow-list or a waiver
may suppress it; what remains counts for the score, and its action (fail, warn, ignore)
says whether it fails the image. With a baseline, only findings the baseline does not
have can fail the image; the score still describes the whole image.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date

from auditor.errors import UsageError
from auditor.inventory import Package
from auditor.model.evidence import Evidence
from auditor.model.findings import SEVERITIES, SEVERITY_RANK, Finding
from auditor.model.verdict import Verdict, Waiver
from auditor.policy.baseline import Baseline
from auditor.policy.model import (
    WAIVER_EXPIRED,
    Override,
    PackageRule,
    Policy,
    Settings,
)
from auditor.policy.packages import package_findings
from auditor.policy.scoring import finding_cost, grade, score_from_costs
from auditor.read.globs import compile_globs, name_match

EXAMPLES = 3  # findings named in one reason


@dataclass(frozen=True, slots=True)
class _Judged:
    finding: Finding
    action: str
    weight: float
    origin: str  # the policy entry that set the action, for the reason sentence


def evaluate(policy: Policy, findings: Sequence[Finding], *, image_size: int,
             wasted_bytes: int, packages: Iterable[Package], today: date | None = None,
             baseline: Baseline | None = None, fail_under: int | None = None,
             fail_on: str | None = None, ignore: Iterable[str] = ()) -> Verdict:
    """The verdict of ``policy`` on an image. ``image_size`` is the squashed tree's file
    bytes and ``wasted_bytes`` what its layers hold that the tree no longer shows
    (``FileTree.size_bytes`` and ``FileTree.wasted_bytes``); ``fail_under`` and
    ``fail_on`` override the policy's thresholds (the command line's flags); the rules in
    ``ignore`` (``--ignore``) neither count nor fail, and are recorded as suppressed."""
    today = today or date.today()
    fail_under = _check_fail_under(fail_under, policy)
    fail_on = _check_fail_on(fail_on, policy)
    active = [w for w in policy.waivers if w.expires >= today]
    expired = [w for w in policy.waivers if w.expires < today]
    extra = [_expired_finding(w, today) for w in expired]
    forbidden = [(f, rule) for rule in policy.packages for f in package_findings(rule, packages)]
    globs = _GlobCache()
    ignored = frozenset(ignore)

    judged: list[_Judged] = []
    suppressed: list[tuple[Finding, str]] = []
    candidates = [(f, None) for f in [*findings, *extra]] + forbidden
    for finding, package_rule in candidates:
        enabled, override, origin = _settings_for(policy, finding, package_rule)
        if not enabled:
            continue
        if override.severity is not None and override.severity != finding.severity:
            finding = replace(finding, severity=override.severity)
        why = ("--ignore: rule ignored on the command line" if finding.rule_id in ignored
               else _allowed(policy, finding, globs) or _waived(active, finding, globs))
        if why is not None:
            suppressed.append((finding, why))
            continue
        judged.append(_Judged(finding, override.action or "warn",
                              1.0 if override.weight is None else override.weight, origin))

    new: list[_Judged] | None = None
    if baseline is not None:
        new = [j for j in judged if not baseline.contains(j.finding)]
        suppressed += [(j.finding, f"baseline: already in {baseline.source}")
                       for j in judged if baseline.contains(j.finding)]
    score = _score(policy, judged)
    gated = judged if new is None else new
    reasons = _action_reasons(gated) + _fail_on_reasons(gated, fail_on)
    gate_score = score if new is None else _score(policy, new)
    if fail_under and gate_score < fail_under:
        reasons.append(f"score {gate_score} is under fail_under {fail_under}" if new is None
                       else f"the findings new since the baseline alone score {gate_score}, "
                            f"under fail_under {fail_under}")
    reasons += _size_reasons(policy, image_size, wasted_bytes)
    return Verdict(
        policy=policy.name, policy_source=policy.source, score=score, grade=grade(score),
        passed=not reasons, reasons=reasons, findings=[j.finding for j in judged],
        suppressed=suppressed, expired_waivers=expired,
        new_findings=None if new is None else [j.finding for j in new],
        actions={j.finding.fingerprint: j.action for j in judged},
    )


def _check_fail_under(value: int | None, policy: Policy) -> int:
    if value is None:
        return policy.thresholds.fail_under or 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise UsageError(f"--fail-under wants a whole number from 0 to 100, not {value!r}")
    return value


def _check_fail_on(value: str | None, policy: Policy) -> str | None:
    if value is None:
        value = policy.thresholds.fail_on
    elif value not in (*SEVERITIES, "none"):
        raise UsageError(f"--fail-on wants one of {', '.join(SEVERITIES)} or none, "
                         f"not {value!r}")
    return None if value == "none" else value


def is_packaged(finding: Finding) -> bool:
    """Whether the finding is about something an installed package owns. A detector may
    say so in evidence (``package_owned``); otherwise a named
    package tells."""
    owned = finding.evidence.package_owned
    return owned if owned is not None else finding.package is not None


def _settings_for(policy: Policy, f: Finding, package_rule: PackageRule | None
                  ) -> tuple[bool, Override, str]:
    """(enabled, the effective action/severity/weight, which entry set the action).
    The most specific entry wins: rule over category, packaged over plain."""
    category = policy.category(f.category)
    rule = policy.rules.get(f.rule_id)
    packaged = is_packaged(f)
    layers: list[tuple[str, Override]] = [(f"category {f.category}", category.override())]
    if packaged:
        layers.append((f"category {f.category} (files a package owns)", category.packaged))
    if rule is not None:
        layers.append((f"rule {f.rule_id}", rule.override()))
        if packaged:
            layers.append((f"rule {f.rule_id} (files a package owns)", rule.packaged))
    if package_rule is not None:
        layers.append((f"package rule {package_rule.label}",
                       Override(package_rule.action, package_rule.severity)))
    effective, origin = Override(), "the default action"
    for name, layer in layers:
        effective = layer.merged_over(effective)
        if layer.action is not None:
            origin = name
    enabled = _enabled(rule) if rule is not None and rule.enabled is not None \
        else _enabled(category)
    return enabled, effective, origin


def _enabled(s: Settings) -> bool:
    return s.enabled is not False


class _GlobCache:
    def __init__(self) -> None:
        self._compiled: dict[tuple[str, ...], re.Pattern[str]] = {}

    def match(self, patterns: tuple[str, ...], f: Finding) -> str | None:
        """The first pattern matching one of the finding's paths (its other names count:
        a finding names one thing by all its paths)."""
        paths = tuple(dict.fromkeys(p for p in (f.path, *f.paths) if p))
        if not patterns or not paths:
            return None
        key = patterns
        if key not in self._compiled:
            self._compiled[key] = compile_globs(patterns)
        if not any(self._compiled[key].match(p) for p in paths):
            return None
        for pattern in patterns:
            one = (pattern,)
            if one not in self._compiled:
                self._compiled[one] = compile_globs(one)
            for p in paths:
                if self._compiled[one].match(p):
                    return f"path {p} matches {pattern!r}"
        return None


def _allowed(policy: Policy, f: Finding, globs: _GlobCache) -> str | None:
    places: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = []
    rule = policy.rules.get(f.rule_id)
    if rule is not None:
        places.append((f"rules.{f.rule_id}", rule.allow_paths, rule.allow_packages))
    category = policy.category(f.category)
    places.append((f"categories.{f.category}", category.allow_paths, category.allow_packages))
    places.append(("allow", policy.allow_paths, policy.allow_packages))
    for where, paths, pkgs in places:
        hit = globs.match(paths, f)
        if hit is not None:
            return f"allow-list {where}: {hit}"
        if f.package is not None:
            name = f.package.name
            for pattern in pkgs:
                if name_match(pattern, name):
                    return f"allow-list {where}: package {name} matches {pattern!r}"
    return None


def _waived(waivers: list[Waiver], f: Finding, globs: _GlobCache) -> str | None:
    for w in waivers:
        if w.fingerprint is not None:
            hit = w.fingerprint == f.fingerprint
        else:
            hit = w.rule == f.rule_id and (w.path is None or globs.match((w.path,), f) is not None)
        if hit:
            return f"waiver for {w.subject} until {w.expires.isoformat()}: {w.reason}"
    return None


def _expired_finding(w: Waiver, today: date) -> Finding:
    days = (today - w.expires).days
    return Finding(
        rule_id=WAIVER_EXPIRED.id, category=WAIVER_EXPIRED.category,
        severity=WAIVER_EXPIRED.severity, title=WAIVER_EXPIRED.title,
        message=f"The waiver for {w.subject} expired on {w.expires.isoformat()} "
                f"({days} day{'s' if days != 1 else ''} ago) and no longer applies; "
                f"it said: {w.reason}",
        fix=WAIVER_EXPIRED.fix,
        evidence=Evidence.of(subject=f"waiver {w.subject}", expires=w.expires.isoformat(),
                             reason=w.reason),
    )


def _score(policy: Policy, judged: Iterable[_Judged]) -> int:
    return score_from_costs((finding_cost(j.finding.severity, j.weight, j.finding.bytes,
                                          policy.score)
                             for j in judged if j.action != "ignore"), policy.score)


def _examples(items: Sequence[Finding]) -> str:
    named = [f"{f.rule_id} {f.path or f.package_label or f.evidence.subject or ''}".rstrip()
             for f in items[:EXAMPLES]]
    more = ", ..." if len(items) > EXAMPLES else ""
    return ", ".join(named) + more


def _count(n: int) -> str:
    return f"{n} finding{'s' if n != 1 else ''}"


def _action_reasons(gated: list[_Judged]) -> list[str]:
    by_origin: dict[str, list[Finding]] = {}
    for j in gated:
        if j.action == "fail":
            by_origin.setdefault(j.origin, []).append(j.finding)
    return [f"{origin} is set to fail: {_count(len(items))} ({_examples(items)})"
            for origin, items in by_origin.items()]


def _fail_on_reasons(gated: list[_Judged], fail_on: str | None) -> list[str]:
    if fail_on is None:
        return []
    floor = SEVERITY_RANK[fail_on]
    hits = [j.finding for j in gated
            if j.action != "ignore" and SEVERITY_RANK[j.finding.severity] >= floor]
    if not hits:
        return []
    at = fail_on if fail_on == "critical" else f"{fail_on} or above"
    return [f"fail_on is {fail_on}: {_count(len(hits))} at {at} ({_examples(hits)})"]


def _size_reasons(policy: Policy, image_size: int, wasted_bytes: int) -> list[str]:
    out = []
    limit = policy.thresholds.max_image_bytes
    if limit and image_size > limit:
        out.append(f"the image holds {_human(image_size)} ({image_size} bytes), over "
                   f"max_image_bytes {_human(limit)} ({limit} bytes)")
    most = policy.thresholds.max_wasted_percent
    layered = image_size + wasted_bytes
    if most is not None and layered > 0:
        percent = 100.0 * wasted_bytes / layered
        if percent > most:
            out.append(f"{_human(wasted_bytes)} of the layers' {_human(layered)} is wasted "
                       f"({percent:.1f}%), over max_wasted_percent {most:g}")
    return out


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"

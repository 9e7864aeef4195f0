"""Package version rules (``[[packages]]``): which installed packages a rule forbids.

Distributions version their packages in their own dialects (Debian's epochs and
revisions, Alpine's -rN); a rule is written in PEP 440 terms, so a version is read as
PEP 440 when it is one and by its leading upstream release otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from auditor.inventory import Package
from auditor.model.evidence import Evidence
from auditor.model.findings import Finding
from auditor.policy.model import PACKAGE_FORBIDDEN, PackageRule
from auditor.read.globs import name_match

if TYPE_CHECKING:  # packaging is imported where used: only version rules need it
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

_UPSTREAM = re.compile(r"(?:\d+:)?v?(\d+(?:\.\d+)*)")  # v: Go pseudo-versions


def comparable_version(text: str) -> Version | None:
    """A PEP 440 reading of a distribution's version: as is when it parses; else its
    leading upstream release (Debian 1:3.0.11-1~deb12u2 -> 3.0.11), epoch and
    distribution revision dropped, so ``<3.0.7`` means what a person means by it."""
    from packaging.version import InvalidVersion, Version

    try:
        return Version(text)
    except InvalidVersion:
        m = _UPSTREAM.match(text)
        return Version(m[1]) if m else None


def _within(spec: SpecifierSet, version: Version) -> bool:
    """Whether ``version`` is in ``spec``, with < and > as plain version order: PEP 440
    keeps 3.0.7rc1 out of <3.0.7 and Debian's 3.0.7-1 (a post-release to it) out of
    >3.0.7, but a rule forbidding old versions means them too."""
    from packaging.version import Version

    for one in spec:
        if one.operator in ("<", ">"):
            bound = Version(one.version)
            inside = version < bound if one.operator == "<" else version > bound
        else:
            inside = one.contains(version, prereleases=True)
        if not inside:
            return False
    return True


def package_findings(rule: PackageRule, packages: Iterable[Package]) -> list[Finding]:
    spec = None
    if rule.versions:
        from packaging.specifiers import SpecifierSet

        spec = SpecifierSet(rule.versions)
    out = []
    for pkg in packages:
        if not name_match(rule.name, pkg.name):
            continue
        if rule.ecosystem is not None and pkg.ecosystem != rule.ecosystem:
            continue
        if spec is not None:
            version = comparable_version(pkg.version)
            if version is None or not _within(spec, version):
                continue
        what = f"{pkg.name} {pkg.version}".strip()
        out.append(Finding(
            rule_id=PACKAGE_FORBIDDEN.id, category=PACKAGE_FORBIDDEN.category,
            severity=rule.severity, title=PACKAGE_FORBIDDEN.title,
            message=f"{what} ({pkg.ecosystem}) is forbidden by the policy's package rule "
                    f"{rule.label}" + (f": {rule.reason}" if rule.reason else ""),
            package=pkg.ref,
            bytes=pkg.installed_size, fix=PACKAGE_FORBIDDEN.fix,
            evidence=Evidence.of(package=pkg.name, version=pkg.version, ecosystem=pkg.ecosystem,
                                 rule=rule.label, database=pkg.location),
        ))
    return out

"""What a fix suggestion claims to remove, and whether the rebuilt image bears it out.

The claim is read as a user reads it: the suggestion's ``rule_ids`` (the findings it
answers) and, in a stage fix's text, the categories after ``removes:``, less what the text
says the rewrite keeps (``It keeps what the program itself needs: ...``). Each claimed
finding's paths must be gone from the rebuilt image's tree (a directory may stay, as the
parent of what the program needs, while the files the finding named go) and named by no
finding of the rescan; each claimed category of which nothing is kept must have no finding
at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_REMOVES = re.compile(r"removes: (.*?) \[[A-Z0-9, -]+\]")
_KEEPS = re.compile(r"It keeps what the program itself needs: (.*?) \[[A-Z0-9, -]+\]")
_PART = re.compile(r"([a-z-]+) \((.*)\)$")


def _parts(clause: str) -> dict[str, list[str]]:
    """``cat (a, b and 2 more); cat2 (c)`` -> {cat: [a, b, "and 2 more"], cat2: [c]}."""
    out: dict[str, list[str]] = {}
    for part in clause.split("; "):
        m = _PART.match(part.strip())
        if m:
            names = m.group(2).replace(" and ", ", and ").split(", ")
            out[m.group(1)] = [n.strip() for n in names if n.strip()]
    return out


@dataclass(frozen=True)
class Claims:
    categories: frozenset[str]  # categories the text says are removed, nothing of them kept
    findings: tuple[Any, ...]  # findings of the original scan the suggestion says are gone

    def paths(self) -> set[str]:
        return {p for f in self.findings for p in (f.path, *f.paths) if p}


def claims_of(suggestion: Any, original: Any) -> Claims:
    """What ``suggestion`` claims to remove from the image whose scan is ``original``."""
    removes = _REMOVES.search(suggestion.text)
    keeps = _KEEPS.search(suggestion.text)
    removed = _parts(removes.group(1)) if removes else {}
    kept = _parts(keeps.group(1)) if keeps else {}

    def is_kept(finding: Any) -> bool:
        names = kept.get(finding.category)
        if names is None:
            return False
        if any(n.startswith("and ") for n in names):  # a shortened list: maybe this one
            return True
        name = (finding.package.name if finding.package is not None else "") or finding.path
        return name in names or finding.title in names

    answered = set(suggestion.rule_ids)
    findings = tuple(f for f in original.findings if f.rule_id in answered and not is_kept(f))
    return Claims(frozenset(c for c in removed if c not in kept), findings)


def broken_claims(claims: Claims, rebuilt: Any) -> list[str]:
    """Each way the rescan of the rebuilt image contradicts the claims."""
    broken = []
    for path in sorted(claims.paths()):
        node = rebuilt.tree.get(path)
        # a directory may stay as the parent of what the program needs (/src holding the
        # binary); the files the finding named are checked one by one
        if node is not None and getattr(node, "kind", "file") != "dir":
            broken.append(f"{path} is still in the image")
    gone = claims.paths()
    for f in rebuilt.findings:
        named = [p for p in (f.path, *f.paths) if p in gone]
        if named:
            broken.append(f"{f.rule_id} still names {named[0]}")
        elif f.category in claims.categories:
            broken.append(f"{f.category} was claimed removed: {f.rule_id} {f.path}")
    return broken

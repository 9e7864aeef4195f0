"""Defects the fuzz targets meet that other work owns (issue 11, wave 2): each one named,
with its owner and the narrowest signature that tells it from anything else.

A run that breaks the contract in one of these ways is recorded, not failed, and the
target ends as xfail naming the defects it met; any other breach fails the target. When
the owner's fix lands, delete the entry: the target then fails if the defect is still there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tests.fuzz.harness import Outcome


@dataclass(frozen=True)
class Defect:
    id: str
    owner: str  # the helper whose part of issue 11 fixes it
    targets: frozenset[str]
    matches: Callable[[str, Outcome], bool]  # (the contract problem, the run)


def _traceback_with(*needles: str) -> Callable[[str, Outcome], bool]:
    def matches(problem: str, out: Outcome) -> bool:
        return problem == "a traceback" and all(n in out.err for n in needles)
    return matches


IMAGES = frozenset({"archive", "stream", "oci"})
# Every defect the fuzz suite met in issue 11 is fixed: a new one fails its target. A
# defect that must wait for other work is listed here with its owner until it is fixed.
KNOWN: list[Defect] = []


def match(target: str, problem: str, out: Outcome) -> Defect | None:
    for defect in KNOWN:
        if target in defect.targets and defect.matches(problem, out):
            return defect
    return None

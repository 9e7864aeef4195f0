"""The score: 0 to 100 from what the findings cost, and the grade that goes with it.

Each counted finding costs ``points[severity] * weight * (1 + bytes_factor(bytes))``;
the score is ``round(100 * exp(-total / scale))``. An exponential, not a subtraction,
so that the score never goes below zero and a bad image still scores lower than a
worse one; every term only ever adds cost, so more, more severe, heavier or bigger
findings never raise the score. docs/policy.md works an example through.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from auditor.policy.model import ScoreParams

MIB = 1 << 20
# (lowest score, grade), best first
GRADES = ((90, "A"), (75, "B"), (60, "C"), (40, "D"), (0, "F"))


def bytes_factor(size: int) -> float:
    """0 for nothing, 0.1 at 1 MiB, 0.5 at 31 MiB, 1.0 (the cap) from 1 GiB: every
    doubling of the bytes a finding costs adds the same."""
    if size <= 0:
        return 0.0
    return min(1.0, math.log2(1 + size / MIB) / 10)


def finding_cost(severity: str, weight: float, size: int, params: ScoreParams) -> float:
    points = params.resolved().points
    return points[severity] * weight * (1.0 + bytes_factor(size))


def score_from_costs(costs: Iterable[float], params: ScoreParams) -> int:
    scale = params.resolved().scale
    assert scale is not None
    total = math.fsum(costs)
    return math.floor(100.0 * math.exp(-total / scale) + 0.5)


def grade(score: int) -> str:
    for lowest, letter in GRADES:
        if score >= lowest:
            return letter
    return "F"

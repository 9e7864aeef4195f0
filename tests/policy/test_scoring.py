from __future__ import annotations

import math
from datetime import date

import pytest

from auditor.model.findings import SEVERITIES, Finding
from auditor.policy import Policy, bytes_factor, evaluate, finding_cost, grade, load_policy
from auditor.policy.model import ScoreParams
from tests.policy.helpers import finding

MIB = 1 << 20


def score(policy: Policy, findings: list[Finding]) -> int:
    return evaluate(policy, findings, image_size=0, wasted_bytes=0, packages=[],
                    today=date(2025, 1, 1)).score


def test_the_documented_worked_example() -> None:
    # docs/policy.md: a high compiler finding of 127 MiB and two medium shells of 1 MiB
    params = ScoreParams().resolved()
    assert bytes_factor(127 * MIB) == pytest.approx(0.7)
    assert finding_cost("high", 1.0, 127 * MIB, params) == pytest.approx(25.5)
    assert finding_cost("medium", 1.0, MIB, params) == pytest.approx(5.5)
    found = [finding("compiler", "high", "/usr/bin/gcc", size=127 * MIB),
             finding("shell", "medium", "/bin/bash", size=MIB),
             finding("shell", "medium", "/bin/dash", size=MIB)]
    assert score(load_policy("dev"), found) == round(100 * math.exp(-36.5 / 100)) == 69
    assert grade(69) == "C"


@pytest.mark.parametrize(("size", "factor"), [(0, 0.0), (MIB, 0.1), (31 * MIB, 0.5),
                                              (1023 * MIB, 1.0), (100 << 30, 1.0)])
def test_bytes_factor_grows_by_doublings_and_is_capped(size: int, factor: float) -> None:
    assert bytes_factor(size) == pytest.approx(factor)


@pytest.mark.parametrize(("value", "letter"), [(100, "A"), (90, "A"), (89, "B"), (75, "B"),
                                               (74, "C"), (60, "C"), (59, "D"), (40, "D"),
                                               (39, "F"), (0, "F")])
def test_grade_boundaries(value: int, letter: str) -> None:
    assert grade(value) == letter


BASE = [finding("shell", "medium", "/bin/sh", size=MIB),
        finding("cache", "low", "/var/cache/apt", size=40 * MIB)]


@pytest.mark.parametrize("extra", [
    finding("config", "info", None), finding("config", "low", None),
    finding("compiler", "high", "/usr/bin/gcc", size=200 * MIB),
    finding("secret", "critical", "/app/.env"),
], ids=["info", "low", "high-and-big", "critical"])
def test_adding_a_finding_never_raises_the_score(extra: Finding) -> None:
    policy = load_policy("default")
    assert score(policy, [*BASE, extra]) <= score(policy, BASE)


def test_a_more_severe_finding_never_scores_higher() -> None:
    policy = load_policy("default")
    scores = [score(policy, [*BASE, finding("shell", s, "/bin/ash")]) for s in SEVERITIES]
    assert scores == sorted(scores)  # critical first: lowest


def test_more_bytes_never_score_higher() -> None:
    policy = load_policy("default")
    scores = [score(policy, [finding("cache", "medium", "/c", size=n)])
              for n in (0, MIB, 10 * MIB, 100 * MIB, 1 << 30, 10 << 30)]
    assert scores == sorted(scores, reverse=True)
    assert scores[0] > scores[-1]


def test_a_heavier_weight_never_scores_higher(tmp_path: object) -> None:
    from pathlib import Path

    from tests.policy.helpers import policy_of
    assert isinstance(tmp_path, Path)
    found = [finding("shell", "high", "/bin/sh")]
    scores = []
    for w in (0, 0.5, 1, 2, 5):
        (tmp_path / str(w)).mkdir()
        scores.append(score(policy_of(tmp_path / str(w), f"[categories.shell]\nweight = {w}\n"),
                            found))
    assert scores == sorted(scores, reverse=True)
    assert scores[0] == 100


def test_the_score_stays_within_0_and_100() -> None:
    many = [finding("secret", "critical", f"/k{i}", size=1 << 30) for i in range(50)]
    assert score(load_policy("default"), many) == 0
    assert score(load_policy("default"), []) == 100


def test_the_score_is_deterministic_whatever_the_order() -> None:
    found = [finding("shell", "medium", f"/bin/s{i}", size=i * 12345) for i in range(20)]
    policy = load_policy("default")
    assert score(policy, found) == score(policy, list(reversed(found)))

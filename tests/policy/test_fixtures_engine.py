"""The built-in policies on the real fixture images (fixtures/build.sh), and a baseline
matched by a rebuilt image. Needs the engine: ``pytest -m engine``."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

from auditor.audit import AuditRequest, audit, judge
from auditor.errors import SourceError
from auditor.model.result import Report
from auditor.policy import Baseline, Verdict, load_policy

pytestmark = pytest.mark.engine
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"

# fixture -> passes (default, strict, dev)
MATRIX = {
    "c-multi-scratch": (True, True, True),
    "go-multi-scratch": (True, True, True),
    "busybox-app": (True, False, True),  # a shell, with warnings
    "c-multi-slim": (True, False, True),  # shell, apt, the base's setuid su
    "trouble": (False, False, False),  # secrets fail even dev
    "c-single": (False, False, True),
    "go-single": (False, False, True),
    "python-single": (False, False, True),
    "node-single": (False, False, True),
}


@cache
def audited(reference: str, policy: str = "default") -> Report:
    """The whole pipeline, as `auditor scan` runs it, under ``policy``."""
    try:
        return audit(AuditRequest(f"docker:{reference}", policy=load_policy(policy)))
    except SourceError as exc:
        pytest.skip(f"{reference} is not available: {exc}")


def verdict_of(report: Report, policy: str, baseline: Baseline | None = None) -> Verdict:
    """The pipeline's policy step again, under another policy (an engine read saved)."""
    if policy == report.policy_name and baseline is None:
        assert report.verdict is not None
        return report.verdict
    return judge(report.result, load_policy(policy), baseline=baseline)


@pytest.mark.parametrize(("fixture", "expected"), MATRIX.items(), ids=list(MATRIX))
def test_the_policy_matrix_over_the_fixture_images(fixture: str,
                                                   expected: tuple[bool, bool, bool]) -> None:
    report = audited(f"auditor-fixture/{fixture}:latest")
    verdicts = [verdict_of(report, p) for p in ("default", "strict", "dev")]
    assert tuple(v.passed for v in verdicts) == expected, [v.reasons for v in verdicts]
    assert all(bool(v.reasons) != v.passed for v in verdicts)
    score = verdicts[0].score
    if fixture.endswith("-scratch"):
        assert score >= 90 and verdicts[0].grade == "A"
    if fixture.endswith("-single"):
        assert verdicts[0].grade in ("D", "F")


def test_dev_fails_trouble_for_its_secrets_alone() -> None:
    verdict = audited("auditor-fixture/trouble:latest", "dev").verdict
    assert verdict is not None
    assert len(verdict.reasons) == 1 and verdict.reasons[0].startswith("category secret")


@pytest.fixture
def rebuilt() -> Iterator[str]:
    tag = "auditor-test/c-multi-slim-rebuilt:latest"
    audited("auditor-fixture/c-multi-slim:latest")  # skips without the engine
    try:
        subprocess.run(["docker", "build", "-q", "--no-cache", "-t", tag,
                        str(FIXTURES / "c-multi-slim")], check=True, capture_output=True,
                       timeout=600)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot rebuild c-multi-slim: {exc}")
    yield tag
    subprocess.run(["docker", "image", "rm", "-f", tag], capture_output=True, check=False)


def test_a_baseline_from_the_json_report_matches_a_rebuilt_image(tmp_path: Path,
                                                                 rebuilt: str) -> None:
    first = audited("auditor-fixture/c-multi-slim:latest").result
    saved = tmp_path / "last.json"
    saved.write_text(json.dumps({"findings": [f.to_json() for f in first.findings]}))
    second = audit(AuditRequest(f"docker:{rebuilt}", policy=load_policy("strict"),
                                baseline=Baseline.load(saved)))
    assert second.result.image.id != first.image.id  # a real rebuild, new layers
    verdict = second.verdict
    assert verdict is not None and verdict.new_findings == []
    assert len(verdict.findings) == len(first.findings) > 0
    # strict fails the image for its size alone: not a finding, so no baseline covers it
    assert [r for r in verdict.reasons if "max_image_bytes" not in r] == []

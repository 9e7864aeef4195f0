"""Every kind of SARIF file we write passes Microsoft's validator with GitHub's rules.

Runs when sarif-multitool is installed (see docs/sarif.md: AUDITOR_SARIF_MULTITOOL, the
npm package on PATH, or /opt/sarif-multitool); skips otherwise, except where
AUDITOR_REQUIRE_SARIF_MULTITOOL=1 (CI sets it), where a missing validator fails the run.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from auditor.model.result import Report
from auditor.reports import WriteOptions
from auditor.reports import sarif as sarif_report
from tests.reports import samples
from tests.reports.schema_check import find_multitool, multitool_problems

pytestmark = pytest.mark.usefixtures("fixed_rules")


@pytest.fixture(scope="module")
def multitool() -> Path:
    tool = find_multitool()
    if tool is None or not tool.exists():
        message = "sarif-multitool is not installed (see docs/sarif.md)"
        if os.environ.get("AUDITOR_REQUIRE_SARIF_MULTITOOL") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return tool


def _with_dockerfile() -> Report:
    report = samples.sample_report()
    report = replace(report, dockerfile="build/Dockerfile", dockerfile_lines={0: 1, 1: 4, 2: 9})
    return report


VARIANTS: dict[str, Callable[[], Report]] = {
    "full": samples.sample_report,
    "dockerfile": _with_dockerfile,
    "bare": samples.bare_report,
    "empty": lambda: samples.sample_report(findings=[], verdict=False),
    "odd-reference": lambda: samples.sample_report(reference="localhost:5000/a b:c@sha256:"
                                                   + "d" * 64),
    "many": lambda: samples.sample_report(findings=samples.many_findings(300)),
}


def _write(report: Report, path: Path) -> Path:
    out = io.StringIO()
    sarif_report.write(report, out, WriteOptions())
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def test_every_variant_passes(multitool: Path, tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sarif_report, "RESULT_LIMIT", 120)  # the cut and its notification
    files = [_write(make(), tmp_path / f"{name}.sarif") for name, make in VARIANTS.items()]
    assert multitool_problems(multitool, files, tmp_path) == []


@pytest.mark.parametrize("damage", [
    lambda run: run["results"][0].pop("locations"),
    lambda run: run["results"][0].update(ruleIndex=len(run["tool"]["driver"]["rules"])),
], ids=["result-without-location", "rule-index-out-of-range"])
def test_the_check_fails_on_a_broken_file(multitool: Path, tmp_path: Path,
                                          damage: Callable[[dict[str, Any]], None]) -> None:
    path = _write(samples.sample_report(), tmp_path / "broken.sarif")
    doc = json.loads(path.read_text(encoding="utf-8"))
    damage(doc["runs"][0])
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert multitool_problems(multitool, [path], tmp_path)

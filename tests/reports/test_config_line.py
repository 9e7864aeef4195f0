"""Findings with no layer point at the final stage's line (its last USER, else its FROM),
never at line 1, the builder's FROM of a multi-stage file: the SARIF region and
``Report.config_line`` agree. Read from ``docker save`` of the fixture images (or the
archives in AUDITOR_SNAPSHOTS)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from auditor.cli import main
from tests.conftest import ROOT

SNAPSHOTS = Path(os.environ.get("AUDITOR_SNAPSHOTS") or "/nonexistent")


def _sarif_lines(request: pytest.FixtureRequest, name: str,
                 capsys: pytest.CaptureFixture[str]) -> dict[str, set[int]]:
    saved = SNAPSHOTS / f"{name}.tar"
    if not saved.is_file():  # docker save of the fixture image (skips without an engine)
        saved = request.getfixturevalue("saved_images")(f"auditor-fixture/{name}:latest")
    main(["scan", f"docker-archive:{saved}", "--dockerfile",
          str(ROOT / "fixtures" / name / "Dockerfile"), "--format", "sarif"])
    lines: dict[str, set[int]] = {}
    for result in json.loads(capsys.readouterr().out)["runs"][0]["results"]:
        region = result["locations"][0]["physicalLocation"]["region"]
        lines.setdefault(result["ruleId"], set()).add(region["startLine"])
    return lines


@pytest.mark.engine
def test_go_multi_scratch_no_healthcheck_points_at_final_user(
        request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]) -> None:
    lines = _sarif_lines(request, "go-multi-scratch", capsys)
    assert lines["AUD-NO-HEALTHCHECK"] == {9}  # `USER 65532:65532`, not line 2's FROM


@pytest.mark.engine
def test_no_finding_points_at_the_builder_stage(request: pytest.FixtureRequest,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    lines = _sarif_lines(request, "c-multi-slim", capsys)
    assert lines and all(min(found) >= 8 for found in lines.values()), lines

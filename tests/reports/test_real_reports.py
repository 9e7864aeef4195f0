"""Reports of real fixture images, written by the CLI as a user would: the JSON matches its
schema, the SARIF is valid for code scanning (and passes sarif-multitool when it is
installed), the Markdown fits a pull-request comment."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from auditor.cli import main
from auditor.reports import markdown as markdown_report
from tests.conftest import ROOT
from tests.reports.schema_check import (
    assert_valid_report,
    assert_valid_sarif,
    find_multitool,
    multitool_problems,
)

pytestmark = pytest.mark.engine
IMAGES = ["trouble", "busybox-app", "c-multi-slim", "go-multi-scratch"]


@pytest.fixture(scope="module")
def written(engine: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """name -> folder holding report.json, report.sarif, report.md for that fixture."""
    out = {}
    here = os.getcwd()
    os.chdir(ROOT)  # --dockerfile takes a path relative to the repository root
    try:
        for name in IMAGES:
            folder = tmp_path_factory.mktemp(name)
            code = main(["scan", f"docker:auditor-fixture/{name}", "--no-progress", "-q",
                         "--dockerfile", f"fixtures/{name}/Dockerfile",
                         "-o", f"json={folder / 'report.json'}",
                         "-o", f"sarif={folder / 'report.sarif'}",
                         "-o", f"markdown={folder / 'report.md'}"])
            assert code in (0, 1), f"{name}: exit code {code}"
            out[name] = folder
    finally:
        os.chdir(here)
    return out


@pytest.mark.parametrize("name", IMAGES)
def test_json_matches_its_schema(written: dict[str, Path], name: str) -> None:
    doc = json.loads((written[name] / "report.json").read_text(encoding="utf-8"))
    assert_valid_report(doc)


@pytest.mark.parametrize("name", IMAGES)
def test_sarif_is_valid_for_code_scanning(written: dict[str, Path], name: str) -> None:
    doc = json.loads((written[name] / "report.sarif").read_text(encoding="utf-8"))
    assert_valid_sarif(doc)
    report = json.loads((written[name] / "report.json").read_text(encoding="utf-8"))
    run = doc["runs"][0]
    assert run["automationDetails"]["id"] == f"auditor/auditor-fixture/{name}/"
    assert len(run["results"]) == len(report["findings"]) + sum(
        1 for s in report.get("suppressed", [])
        if s["finding"]["fingerprint"] not in {f["fingerprint"] for f in report["findings"]})
    prints = {r["partialFingerprints"]["auditorFingerprint/v1"] for r in run["results"]}
    assert {f["fingerprint"] for f in report["findings"]} <= prints
    for result in run["results"]:
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert uri == f"fixtures/{name}/Dockerfile"


@pytest.mark.parametrize("name", IMAGES)
def test_markdown_fits_a_comment(written: dict[str, Path], name: str) -> None:
    text = (written[name] / "report.md").read_text(encoding="utf-8")
    assert len(text) <= markdown_report.MAX_CHARS and f"auditor-fixture/{name}" in text


def test_sarif_passes_sarif_multitool(written: dict[str, Path], tmp_path: Path) -> None:
    tool = find_multitool()
    if tool is None or not tool.exists():
        pytest.skip("sarif-multitool is not installed (see docs/sarif.md)")
    files = [written[name] / "report.sarif" for name in IMAGES]
    assert multitool_problems(tool, files, tmp_path) == []

"""The CI, SBOM and HTML formats of every fixture image, written by the CLI as a pipeline
would: each valid under its schema (Code Quality: GitLab's documented fields; JUnit: a
JUnit XSD; CycloneDX: the library's validator) and consistent with the JSON report of the
same scan; the HTML renders in a real browser without a console error.

The images are read from saved archives: those in AUDITOR_SNAPSHOTS when set
when they are there, else ``docker save`` of the fixture images from the engine (which
skips without an engine, and fails under AUDITOR_REQUIRE_ENGINE=1)."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from auditor.cli import main
from auditor.reports import junit
from tests.conftest import ROOT, fixture_names
from tests.reports.browser import render
from tests.reports.schema_check import (
    assert_valid_code_quality,
    assert_valid_cyclonedx,
    assert_valid_junit,
)

SNAPSHOTS = Path(os.environ.get("AUDITOR_SNAPSHOTS") or "/nonexistent")
IMAGES = fixture_names()
FORMATS = {"json": "report.json", "codequality": "gl-code-quality.json",
           "junit": "junit.xml", "cyclonedx": "sbom.cdx.json", "html": "report.html"}


def archive(request: pytest.FixtureRequest, name: str) -> Path:
    saved = SNAPSHOTS / f"{name}.tar"
    if saved.is_file():
        return saved
    path: Path = request.getfixturevalue("saved_images")(f"auditor-fixture/{name}:latest")
    return path


@pytest.fixture(scope="module")
def scanned(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
            ) -> dict[str, Path]:
    """name -> folder with every report of one scan of that fixture's archive."""
    out = {}
    here = os.getcwd()
    os.chdir(ROOT)  # --dockerfile is relative to the repository root
    try:
        for name in IMAGES:
            folder = tmp_path_factory.mktemp(name)
            outputs = [a for fmt, file in FORMATS.items()
                       for a in ("-o", f"{fmt}={folder / file}")]
            code = main(["scan", str(archive(request, name)), "--no-progress", "-q",
                         "--dockerfile", f"fixtures/{name}/Dockerfile", *outputs])
            assert code in (0, 1), f"{name}: exit code {code}"
            out[name] = folder
    finally:
        os.chdir(here)
    return out


def report_of(folder: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((folder / FORMATS["json"]).read_text(encoding="utf-8"))
    return doc


@pytest.mark.parametrize("name", IMAGES)
def test_code_quality(scanned: dict[str, Path], name: str) -> None:
    issues = json.loads((scanned[name] / FORMATS["codequality"]).read_text(encoding="utf-8"))
    assert_valid_code_quality(issues)
    report = report_of(scanned[name])
    assert sorted(i["fingerprint"] for i in issues) == sorted(
        f["fingerprint"] for f in report["findings"])
    assert {i["location"]["path"] for i in issues} <= {f"fixtures/{name}/Dockerfile"}


@pytest.mark.parametrize("name", IMAGES)
def test_junit(scanned: dict[str, Path], name: str) -> None:
    path = scanned[name] / FORMATS["junit"]
    text = path.read_text(encoding="utf-8")
    assert_valid_junit(text)
    assert path.stat().st_size < junit.MAX_BYTES
    root = ET.fromstring(text)
    report = report_of(scanned[name])
    failing = [c for c in root.iter("testcase") if c.find("failure") is not None]
    assert bool(failing) == (report["passed"] is False)  # the test tab shows the gate
    assert root.get("failures") == str(len(failing))
    rules = {c.get("name", "").split(":", 1)[0] for c in root.iter("testcase")}
    assert {f["rule_id"] for f in report["findings"]} <= rules


@pytest.mark.parametrize("name", IMAGES)
def test_cyclonedx(scanned: dict[str, Path], name: str) -> None:
    text = (scanned[name] / FORMATS["cyclonedx"]).read_text(encoding="utf-8")
    assert_valid_cyclonedx(text)
    bom = json.loads(text)
    report = report_of(scanned[name])
    assert len(bom.get("components", [])) == report["packages"]["count"]
    subject = bom["metadata"]["component"]
    assert subject["type"] == "container" and subject["version"] == report["image"]["id"]
    layers = {str(layer["index"]) for layer in report["image"]["layers"]}
    for component in bom.get("components", []):
        assert component["purl"].startswith("pkg:")
        props = {p["name"]: p["value"] for p in component["properties"]}
        assert int(props["auditor:path:count"]) == 0 or props["auditor:layer"] in layers


@pytest.mark.parametrize("name", IMAGES)
def test_html_renders_without_a_console_error(scanned: dict[str, Path], name: str,
                                              tmp_path: Path) -> None:
    page = scanned[name] / FORMATS["html"]
    shown = render(page, tmp_path)
    assert shown.console == [], f"{name}: {shown.console[:5]}"
    assert 'data-ready="1"' in shown.dom
    for finding in report_of(scanned[name])["findings"][:50]:
        assert finding["rule_id"] in shown.dom

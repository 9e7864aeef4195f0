"""Validators other tests import: our JSON report against docs/report.schema.json, and a
SARIF log against the SARIF 2.1.0 schema plus what GitHub code scanning requires."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
from jsonschema.protocols import Validator

ROOT = Path(__file__).resolve().parents[2]
REPORT_SCHEMA = ROOT / "auditor" / "schemas" / "report.schema.json"
SARIF_SCHEMA = Path(__file__).resolve().parent / "schemas" / "sarif-schema-2.1.0.json"


@cache
def _validator(path: Path) -> Validator:
    schema = json.loads(path.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    validator: Validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    return validator


def _problems(path: Path, doc: Any) -> list[str]:
    errors = sorted(_validator(path).iter_errors(doc), key=lambda e: list(e.absolute_path))
    return [f"{e.json_path}: {e.message[:300]}" for e in errors]


def report_problems(doc: Any) -> list[str]:
    return _problems(REPORT_SCHEMA, doc)


def assert_valid_report(doc: Any) -> None:
    """``doc`` (a parsed ``--format json`` report) is valid under docs/report.schema.json."""
    problems = report_problems(doc)
    assert not problems, "report does not match its schema:\n" + "\n".join(problems[:20])


def sarif_problems(doc: Any) -> list[str]:
    """Schema errors, and the reasons code scanning rejects a file or loses an alert."""
    problems = _problems(SARIF_SCHEMA, doc)
    for r, run in enumerate(doc.get("runs", [])):
        rules = run["tool"]["driver"].get("rules", [])
        if not str(run.get("automationDetails", {}).get("id", "")).endswith("/"):
            problems.append(f"runs[{r}]: automationDetails.id is not a category ending in /")
        for i, result in enumerate(run.get("results", [])):
            where = f"runs[{r}].results[{i}]"
            index = result.get("ruleIndex")
            if index is None or not 0 <= index < len(rules) \
                    or rules[index]["id"] != result.get("ruleId"):
                problems.append(f"{where}: ruleIndex does not point at rule {result.get('ruleId')}")
            if not result.get("locations"):
                problems.append(f"{where}: no location (code scanning rejects the file)")
            for location in result.get("locations", []):
                uri = location.get("physicalLocation", {}).get("artifactLocation", {}).get("uri")
                problems += [f"{where}: {p}" for p in uri_problems(uri)]
            if not result.get("partialFingerprints", {}).get("auditorFingerprint/v1"):
                problems.append(f"{where}: no auditorFingerprint/v1")
    return problems


def uri_problems(uri: Any) -> list[str]:
    """A location URI code scanning maps onto the checkout: relative, no scheme."""
    if not isinstance(uri, str) or not uri:
        return ["no physicalLocation.artifactLocation.uri"]
    parts = urlsplit(uri)
    problems = []
    if parts.scheme or parts.netloc:
        problems.append(f"uri {uri!r} has a scheme or authority")
    if uri.startswith("/") or "\\" in uri:
        problems.append(f"uri {uri!r} is not a relative path with forward slashes")
    if any(seg in ("", ".", "..") for seg in uri.split("/")):
        problems.append(f"uri {uri!r} has an empty, . or .. segment")
    if any(c.isspace() or ord(c) > 126 for c in uri):
        problems.append(f"uri {uri!r} is not percent-encoded")
    return problems


def assert_valid_sarif(doc: Any) -> None:
    problems = sarif_problems(doc)
    assert not problems, "SARIF is not valid for code scanning:\n" + "\n".join(problems[:20])


# Microsoft's SARIF validator (npm @microsoft/sarif-multitool) with GitHub's rules. The npm
# wrapper runs the tool through a shell, where the ';' of "Sarif;Ghas" ends the command,
# so we run the platform binary it ships.
MULTITOOL_DEFAULT = Path("/opt/sarif-multitool/node_modules/@microsoft/"
                         "sarif-multitool-linux/Sarif.Multitool")


def find_multitool() -> Path | None:
    import os
    import shutil

    named = os.environ.get("AUDITOR_SARIF_MULTITOOL")
    if named:
        return Path(named)
    wrapper = shutil.which("sarif-multitool")
    if wrapper:
        package = Path(wrapper).resolve().parent  # .../@microsoft/sarif-multitool
        native = package.parent / "sarif-multitool-linux" / "Sarif.Multitool"
        if native.exists():
            return native
    return MULTITOOL_DEFAULT if MULTITOOL_DEFAULT.exists() else None


def multitool_problems(tool: Path, files: list[Path], workdir: Path) -> list[str]:
    """Errors and warnings of ``sarif-multitool validate --rule-kind "Sarif;Ghas"``.

    The tool exits 0 even when it finds errors, and prints only some of them, so its own
    SARIF output is what we read."""
    import subprocess

    out = workdir / "multitool-output.sarif"
    out.unlink(missing_ok=True)
    proc = subprocess.run(
        [str(tool), "validate", "--rule-kind", "Sarif;Ghas", "--level", "Error;Warning",
         "--output", str(out), *map(str, files)],
        capture_output=True, text=True, timeout=300, check=False)
    if proc.returncode != 0 or not out.exists():
        return [f"sarif-multitool exited {proc.returncode}: {proc.stdout[-2000:]}"
                f"{proc.stderr[-2000:]}"]
    log = json.loads(out.read_text(encoding="utf-8-sig"))
    problems = []
    for run in log.get("runs", []):
        for inv in run.get("invocations", []):
            if not inv.get("executionSuccessful", False):
                problems.append("sarif-multitool did not run successfully")
            for note in inv.get("toolExecutionNotifications", []):
                if note.get("level", "warning") in ("error", "warning"):
                    problems.append(f"sarif-multitool: {note.get('message', {}).get('text')}")
        for result in run.get("results", []):
            if result.get("level", "warning") not in ("error", "warning"):
                continue
            message = result.get("message", {})
            text = message.get("text") or " ".join(map(str, message.get("arguments", [])))
            where = result.get("locations", [{}])[0].get("physicalLocation", {}) \
                .get("artifactLocation", {}).get("uri", "?")
            problems.append(f"{where}: {result.get('level', 'warning')} "
                            f"{result.get('ruleId')}: {text}")
    return problems


def check_every_json_report(monkeypatch: Any) -> None:
    """Make every ``--format json`` report written in a test validate itself against the
    schema (for an autouse fixture in tests/conftest.py)."""
    from auditor.reports import json as json_report

    original = json_report.report_json

    def validated(report: Any) -> dict[str, Any]:
        doc = original(report)
        assert_valid_report(json.loads(json.dumps(doc)))
        return doc

    monkeypatch.setattr(json_report, "report_json", validated)


# -- the CI, SBOM and HTML formats -------------------------------------------------------

JUNIT_XSD = Path(__file__).resolve().parent / "schemas" / "junit-10.xsd"
CODE_QUALITY_SCHEMA = Path(__file__).resolve().parent / "schemas" / \
    "gitlab-codequality.schema.json"


def code_quality_problems(doc: Any) -> list[str]:
    """Schema errors of a Code Quality report, and the duplicate fingerprints GitLab would
    collapse into one issue."""
    problems = _problems(CODE_QUALITY_SCHEMA, doc)
    prints = [issue.get("fingerprint") for issue in doc] if isinstance(doc, list) else []
    problems += [f"fingerprint {p} appears twice" for p in {p for p in prints
                                                            if prints.count(p) > 1}]
    return problems


def assert_valid_code_quality(doc: Any) -> None:
    problems = code_quality_problems(doc)
    assert not problems, "Code Quality report is not valid:\n" + "\n".join(problems[:20])


@cache
def _junit_schema() -> Any:
    import xmlschema

    return xmlschema.XMLSchema(str(JUNIT_XSD))


def assert_valid_junit(text: str) -> None:
    """``text`` is well-formed XML 1.0 and valid under Jenkins' junit-10.xsd."""
    problems = [str(e)[:500] for e in _junit_schema().iter_errors(text)]
    assert not problems, "JUnit report is not valid:\n" + "\n".join(problems[:10])


def assert_valid_cyclonedx(text: str) -> None:
    """``text`` is CycloneDX 1.6 JSON, by cyclonedx-python-lib's own strict validator."""
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    assert error is None, f"CycloneDX SBOM is not valid: {str(error)[:2000]}"

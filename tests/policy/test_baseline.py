from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from auditor.errors import PolicyError
from auditor.model.findings import Finding
from auditor.policy import SARIF_FINGERPRINT_KEY, Baseline
from tests.policy.helpers import finding

FOUND = [finding("shell", path="/usr/bin/bash"), finding("compiler", "high", "/usr/bin/gcc-12"),
         finding("config", path=None, subject="EXPOSE 22")]


def write(tmp_path: Path, data: Any, name: str = "report.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def json_report(findings: list[Finding]) -> dict[str, Any]:
    return {"schema": "auditor/report/v1", "findings": [f.to_json() for f in findings]}


def sarif_log(findings: list[Finding]) -> dict[str, Any]:
    return {"version": "2.1.0", "runs": [
        {"tool": {"driver": {"name": "other"}}, "results": [{"ruleId": "X"}]},
        {"tool": {"driver": {"name": "auditor"}}, "results": [
            {"ruleId": f.rule_id, "partialFingerprints": {SARIF_FINGERPRINT_KEY: f.fingerprint}}
            for f in findings]}]}


def rebuilt(f: Finding) -> Finding:
    """The same thing found in a rebuild: another layer, another instruction text."""
    return Finding(**{**{k: getattr(f, k) for k in f.__dataclass_fields__},
                      "layer": 7, "created_by": "RUN rebuilt", "bytes": f.bytes + 1})


@pytest.mark.parametrize("form", ["json", "sarif"])
def test_a_baseline_matches_the_same_findings_of_a_rebuilt_image(tmp_path: Path,
                                                                 form: str) -> None:
    data = json_report(FOUND) if form == "json" else sarif_log(FOUND)
    baseline = Baseline.load(write(tmp_path, data))
    assert baseline.format == form and len(baseline) == len(FOUND)
    assert all(baseline.contains(rebuilt(f)) for f in FOUND)
    assert not baseline.contains(finding("shell", path="/usr/bin/dash"))


def test_a_json_report_without_fingerprints_still_matches(tmp_path: Path) -> None:
    data = json_report(FOUND)
    for item in data["findings"]:
        del item["fingerprint"]
    baseline = Baseline.load(write(tmp_path, data))
    assert all(baseline.contains(f) for f in FOUND)


@pytest.mark.parametrize(("content", "fragment"), [
    (None, "does not exist"),
    ("{not json", "is not JSON (line 1)"),
    ("[1, 2]", "neither an auditor JSON report"),
    ('{"findings": [3]}', "findings[0] is not an object"),
    ('{"findings": [{"path": "/x"}]}', "has neither `fingerprint` nor `rule_id`"),
    ('{"runs": [{"results": 3}]}', "runs[0].results is not a list"),
    ('{"findings": ' + "[" * 100_000 + "]" * 100_000 + "}", "nests arrays or objects too deeply"),
    ('{"findings": [], "n": ' + "9" * 5000 + "}", "holds a number too long to read"),
    ('{"findings": [{"rule_id": "AUD-SHELL", "package": [1]}]}',
     "findings[0].package is not what a report holds"),
    ('{"findings": [{"rule_id": "AUD-SHELL", "path": "\\ud800"}]}',
     "findings[0].path is not what a report holds"),
    ('{"findings": [{"rule_id": "AUD-SHELL", "path": 7}]}',
     "findings[0].path is not what a report holds"),
    ('{"findings": [{"rule_id": "AUD-\\udfff"}]}', "findings[0].rule_id is not what a report"),
    ('{"findings": [{"rule_id": "AUD-X", "evidence": {"subject": {"a": [1]}}}]}',
     "findings[0].evidence.subject is not what a report holds"),
], ids=["missing", "not-json", "not-a-report", "finding-not-object", "finding-without-rule",
        "sarif-results-not-list", "nested-100000-deep", "integer-of-5000-digits",
        "package-a-list", "path-a-lone-surrogate", "path-a-number", "rule-a-lone-surrogate",
        "subject-an-object"])
def test_a_bad_baseline_is_one_sentence(tmp_path: Path, content: str | None,
                                        fragment: str) -> None:
    path = tmp_path / "base.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        Baseline.load(path)
    assert str(info.value).startswith(f"baseline {path}")
    assert fragment in str(info.value)


def test_a_name_that_is_not_utf8_in_the_image_still_matches_its_baseline(tmp_path: Path) -> None:
    # undecodable bytes of an image's names travel as U+DC80..U+DCFF in reports
    odd = finding("shell", path="/bin/odd\udcffname")
    data = json_report([odd])
    del data["findings"][0]["fingerprint"]
    baseline = Baseline.load(write(tmp_path, data))
    assert baseline.contains(odd)

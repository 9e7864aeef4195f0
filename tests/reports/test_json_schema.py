"""The JSON report's published schema (docs/report.schema.json) matches what json.py writes."""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Callable
from typing import Any

import pytest

from auditor.model.findings import CATEGORIES, SEVERITIES
from auditor.policy import GRADES
from auditor.reports import WriteOptions
from auditor.reports import json as json_report
from tests.reports import samples
from tests.reports.schema_check import REPORT_SCHEMA, ROOT, assert_valid_report, report_problems


def report_text(**kwargs: Any) -> str:
    out = io.StringIO()
    json_report.write(samples.sample_report(**kwargs), out, WriteOptions())
    return out.getvalue()


def report_doc(**kwargs: Any) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(report_text(**kwargs))
    return doc


def schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(REPORT_SCHEMA.read_text(encoding="utf-8"))
    return data


def test_docs_publishes_the_packaged_schema() -> None:
    published = ROOT / "docs" / "report.schema.json"
    assert published.read_bytes() == REPORT_SCHEMA.read_bytes()


def test_schema_words_are_the_code_words() -> None:
    defs = schema()["$defs"]
    assert defs["category"]["enum"] == list(CATEGORIES)
    assert defs["severity"]["enum"] == list(SEVERITIES)
    assert set(schema()["properties"]["grade"]["enum"]) == {g for _, g in GRADES} | {None}
    assert schema()["properties"]["schema"]["const"] == json_report.SCHEMA


@pytest.mark.parametrize("kwargs", [
    {}, {"verdict": False}, {"findings": [], "skipped": False, "suggestions": False},
], ids=["with-verdict", "bare-audit", "nothing-found"])
def test_written_reports_are_valid(kwargs: dict[str, Any]) -> None:
    assert_valid_report(report_doc(**kwargs))


def test_golden(golden: Callable[[str, str], None]) -> None:
    golden("sample.json", report_text())


def test_the_verdicts_own_fields_are_described_too() -> None:
    # Verdict.to_json() carries what a policy adds (actions, suppressed findings, expired
    # waivers, the baseline's new findings); the schema accepts it when json.py adds it.
    report = samples.sample_report()
    doc = report_doc()
    doc.update(json.loads(json.dumps(report.verdict.to_json())))
    assert_valid_report(doc)


def _broken(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    doc = copy.deepcopy(report_doc())
    change(doc)
    return doc


@pytest.mark.parametrize("change", [
    lambda d: d["findings"][0].update(category="bloat"),
    lambda d: d["findings"][0].update(severity="severe"),
    lambda d: d["findings"][0].pop("fingerprint"),
    lambda d: d["findings"][0].update(path="relative/path"),
    lambda d: d.update(score=101),
    lambda d: d.update(schema="auditor/report/v2"),
    lambda d: d["image"].update(extra=1),
    lambda d: d.pop("skipped"),
    lambda d: d["image"]["layers"][0].update(index=-1),
], ids=["unknown-category", "unknown-severity", "no-fingerprint", "relative-path",
        "score-over-100", "other-schema-version", "unknown-image-field", "no-skipped",
        "negative-layer"])
def test_the_schema_rejects_drift(change: Callable[[dict[str, Any]], None]) -> None:
    assert report_problems(_broken(change))


def test_packages_by_ecosystem_and_the_runtimes_in_full() -> None:
    from auditor.inventory import Package

    report = samples.sample_report()
    report.result.inventory.packages = [
        Package("bash", "5.2", "deb"), Package("stdlib", "1.21.5", "golang"),
        Package("temurin", "17.0.9", "runtime", location="/opt/java/openjdk",
                version_from="/opt/java/openjdk/release JAVA_VERSION")]
    out = io.StringIO()
    json_report.write(report, out, WriteOptions())
    doc = json.loads(out.getvalue())
    assert_valid_report(doc)
    assert doc["packages"] == {
        "count": 3, "by_ecosystem": {"deb": 1, "golang": 1, "runtime": 1},
        "runtimes": [{"name": "temurin", "version": "17.0.9", "path": "/opt/java/openjdk",
                      "version_from": "/opt/java/openjdk/release JAVA_VERSION",
                      "purl": "pkg:generic/temurin@17.0.9"}]}

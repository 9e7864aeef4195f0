"""A package is named by its typed identity, never by splitting ``name@version``: two npm
packages of the same base name in two scopes are two findings, two fingerprints."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path

import pytest

from auditor.inventory import Package
from auditor.model.findings import Finding
from auditor.model.package import PackageRef
from auditor.policy import PACKAGE_FORBIDDEN, Baseline, Verdict, evaluate
from tests.policy.helpers import finding, policy_of

SCOPED = [Package("@a/x", "1", "npm", installed_size=10), Package("@b/x", "1", "npm")]
RULE = '[[packages]]\nname = "@*/x"\necosystem = "npm"\nversions = "<2"\n'


def judge(tmp_path: Path, baseline: Baseline | None = None) -> Verdict:
    return evaluate(policy_of(tmp_path, RULE), [], image_size=0, wasted_bytes=0,
                    packages=SCOPED, today=date(2025, 6, 1), baseline=baseline)


def test_two_scoped_packages_are_two_findings_with_two_fingerprints(tmp_path: Path) -> None:
    found = judge(tmp_path).findings
    assert [(f.rule_id, f.package_label) for f in found] == [
        (PACKAGE_FORBIDDEN.id, "@a/x@1"), (PACKAGE_FORBIDDEN.id, "@b/x@1")]
    assert [f.package for f in found] == [PackageRef("@a/x", "1", "npm"),
                                          PackageRef("@b/x", "1", "npm")]
    assert found[0].fingerprint != found[1].fingerprint


def test_a_baseline_of_one_scoped_package_gates_the_other(tmp_path: Path) -> None:
    first, second = judge(tmp_path).findings
    verdict = judge(tmp_path, Baseline.of([first], "last.json"))
    assert verdict.new_findings == [second]
    assert not verdict.passed
    assert verdict.reasons == ["package rule @*/x<2 is set to fail: 1 finding "
                               "(AUD-POLICY-PACKAGE @b/x@1)"]
    assert [f for f, _ in verdict.suppressed] == [first]


def test_a_json_report_read_back_keeps_the_scopes_apart(tmp_path: Path) -> None:
    """A report written before fingerprints: the fingerprint is computed from the label."""
    first, second = judge(tmp_path).findings
    item = first.to_json()
    assert item["package"] == "@a/x@1"
    del item["fingerprint"]
    path = tmp_path / "old.json"
    path.write_text(json.dumps({"findings": [item]}), encoding="utf-8")
    baseline = Baseline.load(path)
    assert baseline.contains(first) and not baseline.contains(second)


@pytest.mark.parametrize(("found", "key"), [
    (Finding(PACKAGE_FORBIDDEN.id, "config", "high", "t", "m",
             package=PackageRef("openssl", "3.0.2", "deb")), "AUD-POLICY-PACKAGE\0openssl"),
    (Finding(PACKAGE_FORBIDDEN.id, "config", "high", "t", "m",
             package=PackageRef("telnet", "", "deb")), "AUD-POLICY-PACKAGE\0telnet"),
    (finding("shell", path="/bin/sh", package="dash@0.5"), "AUD-TEST-SHELL\0/bin/sh"),
    (finding("config", path=None, subject="EXPOSE 22"), "AUD-TEST-CONFIG\0\0EXPOSE 22"),
], ids=["unscoped-package", "package-without-version", "path-owned-by-a-package",
        "config-subject"])
def test_fingerprints_of_unscoped_and_path_findings_did_not_change(found: Finding,
                                                                   key: str) -> None:
    """Baselines written before the typed package still match: the key is the one
    Finding.fingerprint always hashed for these findings."""
    assert found.fingerprint == hashlib.sha256(key.encode()).hexdigest()[:32]


@pytest.mark.parametrize(("label", "ref"), [
    ("@babel/core@7.0.0", PackageRef("@babel/core", "7.0.0")),
    ("@types/node", PackageRef("@types/node")),
    ("login@1:4.13", PackageRef("login", "1:4.13")),
    ("bash", PackageRef("bash")),
], ids=["scoped", "scoped-without-version", "epoch-version", "name-only"])
def test_a_label_reads_back_into_name_and_version(label: str, ref: PackageRef) -> None:
    assert PackageRef.from_label(label) == ref and ref.label == label

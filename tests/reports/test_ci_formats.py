"""The CI and SBOM formats on small fixed reports: GitLab Code Quality, JUnit, CycloneDX.
Each against its schema, golden files, and the cases a real image rarely shows (a cut,
hostile names, a package seen twice)."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from auditor.inventory import Package
from auditor.model.result import Report
from auditor.reports import WriteOptions, codequality, cyclonedx, formats, junit
from tests.reports import samples
from tests.reports.schema_check import (
    assert_valid_code_quality,
    assert_valid_cyclonedx,
    assert_valid_junit,
    code_quality_problems,
)

pytestmark = pytest.mark.usefixtures("fixed_rules")
FIXED_TIME = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def written(name: str, report: Report) -> str:
    out = io.StringIO()
    formats()[name](report, out, WriteOptions())
    return out.getvalue()


def with_dockerfile(report: Report) -> Report:
    return replace(report, dockerfile="./build/Dockerfile",
                   dockerfile_lines={0: 1, 1: 4, 2: 9})


def with_packages(report: Report) -> Report:
    report.result.inventory.packages = [
        Package("dash", "0.5.12-2", "deb", files=("/usr/bin/dash", "/bin/sh"),
                location="/var/lib/dpkg/status", source="dash", arch="amd64"),
        Package("gcc-12", "12.2.0-14", "deb", files=("/usr/bin/gcc-12", "/gone"),
                location="/var/lib/dpkg/status", arch="amd64"),
        Package("@scope/left-pad", "1.3.0", "npm", files=(),
                location="/app/node_modules/@scope/left-pad/package.json"),
        Package("Flask_Cors", "4.0", "python", location="/app/a/site-packages/x.dist-info"),
        Package("Flask_Cors", "4.0", "python", location="/app/b/site-packages/x.dist-info"),
        Package("odd\udcff<b>", "1", "python", location="/app/odd\udcff"),
    ]
    return report


# -- Code Quality ------------------------------------------------------------------------

@pytest.mark.parametrize("name,report", [
    ("sample.codequality.json", samples.sample_report),
    ("sample-dockerfile.codequality.json", lambda: with_dockerfile(samples.sample_report())),
    ("sample-no-verdict.codequality.json", samples.bare_report),
], ids=["with-verdict", "with-dockerfile", "bare-audit"])
def test_code_quality_golden(golden: Callable[[str, str], None], name: str,
                             report: Callable[[], Report]) -> None:
    text = written("codequality", report())
    assert_valid_code_quality(json.loads(text))
    golden(name, text)


def test_code_quality_points_at_the_dockerfile_line_or_the_image() -> None:
    issues = codequality.issues(with_dockerfile(samples.sample_report()))
    assert len(issues) == len(samples.FINDINGS)  # the waived one is left out
    by_rule = {i["check_name"]: i for i in issues}
    assert by_rule["AUD-COMPILER"]["location"] == {"path": "build/Dockerfile",
                                                   "lines": {"begin": 4}}
    assert by_rule["AUD-COMPILER"]["severity"] == "critical"
    assert by_rule["AUD-SECRET-PRIVATE-KEY"]["severity"] == "blocker"
    assert "Fails the policy." in by_rule["AUD-SECRET-PRIVATE-KEY"]["description"]
    bare = {i["check_name"]: i for i in codequality.issues(samples.sample_report())}
    assert bare["AUD-SHELL"]["location"]["path"] == \
        ".auditor/images/registry.example-5000/team/app/rootfs/usr/bin/dash"
    assert bare["AUD-ROOT-USER"]["location"]["path"].endswith("/config")


def test_code_quality_schema_catches_what_gitlab_rejects() -> None:
    issue = codequality.issues(samples.sample_report())[0]
    assert code_quality_problems([{**issue, "severity": "high"}])
    assert code_quality_problems([{**issue, "location": {"path": "/abs", "lines": {"begin": 1}}}])
    assert code_quality_problems([issue, issue])  # one fingerprint twice


# -- JUnit -------------------------------------------------------------------------------

@pytest.mark.parametrize("name,report", [
    ("sample.junit.xml", samples.sample_report),
    ("sample-no-verdict.junit.xml", samples.bare_report),
], ids=["with-verdict", "bare-audit"])
def test_junit_golden(golden: Callable[[str, str], None], name: str,
                      report: Callable[[], Report]) -> None:
    text = written("junit", report())
    assert_valid_junit(text)
    golden(name, text)


def cases(text: str) -> dict[str, ET.Element]:
    return {c.get("name", "").split(":", 1)[0]: c for c in ET.fromstring(text).iter("testcase")}


def test_junit_one_case_per_rule_failing_what_fails_the_gate() -> None:
    text = junit.render(samples.sample_report())
    by_rule = cases(text)
    assert set(samples.CATALOGUE) <= set(by_rule)
    key = by_rule["AUD-SECRET-PRIVATE-KEY"]
    assert [f.get("type") for f in key.findall("failure")] == ["critical"]
    shell = by_rule["AUD-SHELL"]  # it only warns
    assert shell.find("failure") is None and "warn: medium /usr/bin/dash" in (
        shell.findtext("system-out") or "")
    setuid = by_rule["AUD-SETUID"]  # waived: passes, and says why
    assert setuid.find("failure") is None
    assert "suppressed (waiver until 2030-01-01" in (setuid.findtext("system-out") or "")
    policy = next(c for c in ET.fromstring(text).iter("testcase")
                  if c.get("classname") == "auditor.policy")
    assert [f.text for f in policy.findall("failure")] == [
        "category secret is set to fail: 1 finding"]
    assert by_rule["AUD-SKIPPED"].find("skipped") is not None
    suite = ET.fromstring(text).find("testsuite")
    assert suite is not None and suite.get("failures") == "2"  # the policy and the key


def test_junit_passes_when_the_image_passes() -> None:
    report = samples.sample_report(skipped=False)
    assert report.verdict is not None
    report = replace(report, verdict=replace(report.verdict, passed=True, reasons=[], actions={}))
    text = junit.render(report)
    assert_valid_junit(text)
    root = ET.fromstring(text)
    assert root.get("failures") == "0" and root.find(".//failure") is None
    assert root.find(".//skipped") is None


def test_junit_without_a_policy_every_finding_fails() -> None:
    root = ET.fromstring(junit.render(samples.bare_report()))
    assert len(root.findall(".//failure")) == len(samples.FINDINGS)


def test_junit_stays_under_its_budget_and_says_what_it_left_out() -> None:
    many = samples.many_findings(3_000)
    report = samples.sample_report(findings=many)
    assert report.verdict is not None
    report = replace(report, verdict=replace(report.verdict,
                                             actions={f.fingerprint: "fail" for f in many}))
    text = junit.render(report, max_bytes=200_000)
    assert_valid_junit(text)
    assert len(text.encode()) < 200_000 + 40_000  # the budget, plus the passing cases
    setuid = cases(text)["AUD-SETUID"]
    cut = setuid.findall("failure")[-1]
    assert cut.get("type") == "truncated" and "more findings of AUD-SETUID" in (cut.text or "")
    assert junit.MAX_BYTES < 30_000_000


def test_junit_holds_any_name_as_valid_xml() -> None:
    hostile = samples.finding("AUD-SECRET-ENV", "secret", "high", "Secret <in> ENV",
                              "bell \x07, nul \x00, esc \x1b]0;title\x07 & ]]> end",
                              path="/app/\udcff\x01<x>&\"'", layer=2)
    report = samples.sample_report(findings=[hostile])
    assert report.verdict is not None
    report = replace(report, verdict=replace(report.verdict, actions={hostile.fingerprint: "fail"}))
    text = junit.render(report)
    assert_valid_junit(text)
    failure = cases(text)["AUD-SECRET-ENV"].find("failure")
    assert failure is not None and "\\x07" in (failure.text or "")
    assert "/app/\\xff\\x01<x>&" in (failure.get("message") or "")


def test_junit_validator_rejects_what_the_xsd_does() -> None:
    with pytest.raises(AssertionError):
        assert_valid_junit('<testsuites><testsuite name="x"/></testsuites>')  # no counts


# -- CycloneDX ---------------------------------------------------------------------------

def test_cyclonedx_golden(golden: Callable[[str, str], None]) -> None:
    text = cyclonedx.render(with_packages(samples.sample_report()), FIXED_TIME)
    assert_valid_cyclonedx(text)
    golden("sample.cdx.json", text + "\n")


def test_cyclonedx_components_purls_layers_and_the_image() -> None:
    text = written("cyclonedx", with_packages(samples.sample_report()))
    assert_valid_cyclonedx(text)
    bom = json.loads(text)
    assert bom["specVersion"] == "1.6"
    subject = bom["metadata"]["component"]
    image_id = samples.sample_report().result.image.id
    assert subject["type"] == "container" and subject["version"] == image_id
    assert subject["hashes"] == [{"alg": "SHA-256", "content": image_id.split(":", 1)[1]}]
    assert subject["purl"] == (f"pkg:oci/app@{image_id}?repository_url=registry.example:5000"
                               "/team/app&tag=1.4")
    by_ref = {c["bom-ref"]: c for c in bom["components"]}
    dash = next(c for c in bom["components"] if c["name"] == "dash")
    assert dash["purl"] == "pkg:deb/dash@0.5.12-2?arch=amd64"  # no release file: no distro
    props = {(p["name"], p["value"]) for p in dash["properties"]}
    assert {("auditor:layer", "0"), ("auditor:path", "/usr/bin/dash"),
            ("auditor:path", "/bin/sh"), ("auditor:path:count", "2"),
            ("auditor:location", "/var/lib/dpkg/status")} <= props
    gcc = next(c for c in bom["components"] if c["name"] == "gcc-12")
    assert ("auditor:path:count", "1") in {(p["name"], p["value"]) for p in gcc["properties"]}
    assert "pkg:npm/%40scope/left-pad@1.3.0" in by_ref
    assert sum(1 for c in bom["components"] if c["name"] == "Flask_Cors") == 2  # both kept
    assert "pkg:pypi/flask-cors@4.0" in by_ref
    [dependency] = [d for d in bom["dependencies"] if d["ref"] == subject["bom-ref"]]
    assert len(dependency["dependsOn"]) == len(bom["components"])
    assert "\udcff" not in text


def test_cyclonedx_names_the_distro_from_its_release_file() -> None:
    from auditor.audit import audit_image
    from auditor.filetree import squash_layers
    from tests.layerkit import D, F, image_of

    image = image_of([D("/etc"), F("/etc/debian_version", "12.5\n")])
    report = Report(audit_image(image, squash_layers(list(image.layers)), detect=False))
    report.result.inventory.packages = [Package("bash", "5.2", "deb", arch="amd64")]
    bom = json.loads(cyclonedx.render(report))
    assert bom["components"][0]["purl"] == "pkg:deb/debian/bash@5.2?arch=amd64&distro=debian"


def test_same_image_same_serial_number() -> None:
    one = json.loads(cyclonedx.render(samples.sample_report()))
    two = json.loads(cyclonedx.render(samples.sample_report()))
    assert one["serialNumber"] == two["serialNumber"]


def test_cyclonedx_purls_of_go_modules_java_archives_and_runtimes() -> None:
    report = samples.sample_report()
    report.result.inventory.packages = [
        Package("golang.org/x/net", "v0.17.0", "golang", files=("/app/server",),
                location="/app/server", version_from="Go build info", arch="amd64"),
        Package("stdlib", "1.21.5", "golang", location="/app/server"),
        Package("org.apache.logging.log4j:log4j-core", "2.17.1", "maven",
                location="/app/lib/log4j-core.jar"),
        Package("temurin", "17.0.9", "runtime", location="/opt/java/openjdk",
                version_from="/opt/java/openjdk/release JAVA_VERSION")]
    text = cyclonedx.render(report)
    assert_valid_cyclonedx(text)
    bom = json.loads(text)
    purls = {c["purl"] for c in bom["components"]}
    assert purls == {"pkg:golang/golang.org/x/net@v0.17.0",
                     "pkg:golang/stdlib@1.21.5",
                     "pkg:maven/org.apache.logging.log4j/log4j-core@2.17.1",
                     "pkg:generic/temurin@17.0.9"}
    jdk = next(c for c in bom["components"] if c["name"] == "temurin")
    assert ("auditor:versionFrom", "/opt/java/openjdk/release JAVA_VERSION") in {
        (p["name"], p["value"]) for p in jdk["properties"]}

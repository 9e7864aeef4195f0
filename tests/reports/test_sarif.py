"""SARIF 2.1.0 for GitHub code scanning: valid, located, fingerprinted, and within limits."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from auditor.model.findings import SEVERITY_RANK
from auditor.model.result import Report
from auditor.policy import Baseline
from auditor.reports import WriteOptions, formats
from auditor.reports import sarif as sarif_report
from tests.reports import samples
from tests.reports.schema_check import assert_valid_sarif, uri_problems

pytestmark = pytest.mark.usefixtures("fixed_rules")


def sarif_of(report: Report) -> dict[str, Any]:
    out = io.StringIO()
    sarif_report.write(report, out, WriteOptions())
    text = out.getvalue()
    text.encode("utf-8")  # valid Unicode throughout: no lone surrogates
    doc: dict[str, Any] = json.loads(text)
    assert_valid_sarif(doc)
    return doc


def run_of(report: Report) -> dict[str, Any]:
    run: dict[str, Any] = sarif_of(report)["runs"][0]
    return run


def result_for(run: dict[str, Any], rule_id: str) -> dict[str, Any]:
    result: dict[str, Any] = next(r for r in run["results"] if r["ruleId"] == rule_id)
    return result


def uri_of(result: dict[str, Any]) -> str:
    uri: str = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    return uri


def test_registered_as_a_format() -> None:
    assert formats()["sarif"] is sarif_report.write


@pytest.mark.parametrize("name,report", [
    ("sample.sarif", samples.sample_report),
    ("sample-no-verdict.sarif", samples.bare_report),
], ids=["with-verdict-skipped-and-suggestions", "bare-audit"])
def test_golden(golden: Callable[[str, str], None], name: str,
                report: Callable[[], Report]) -> None:
    doc = sarif_of(report())
    golden(name, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


def test_golden_with_dockerfile(golden: Callable[[str, str], None]) -> None:
    report = samples.sample_report()
    report = replace(report, dockerfile="./build/app.Dockerfile",
                     dockerfile_lines={0: 1, 1: 4, 2: 9})
    golden("sample-dockerfile.sarif",
           json.dumps(sarif_of(report), indent=2, ensure_ascii=False) + "\n")


def test_empty_scan_still_has_a_results_array_so_old_alerts_close() -> None:
    run = run_of(samples.sample_report(findings=[], verdict=False, skipped=False))
    assert run["results"] == []
    assert run["tool"]["driver"]["rules"] == []


@pytest.mark.parametrize("reference,slug", [
    ("alpine:3.17", "alpine"),
    ("alpine", "alpine"),
    ("docker.io/library/alpine:3.18", "alpine"),
    ("ghcr.io/Org/App:pr-12", "ghcr.io/org/app"),
    ("localhost:5000/team/app:1.2@sha256:" + "a" * 64, "localhost-5000/team/app"),
    ("docker:auditor-fixture/trouble", "auditor-fixture/trouble"),
    ("/tmp/images/app.tar", "app"),
    ("docker-archive:/tmp/x.tar:app:1", "x"),
    ("oci-dir:./layout", "layout"),
    ("./saved.tar.gz", "saved"),
    ("sha256:" + "b" * 64, "image"),
    ("C:\\images\\app.tar", "app"),
    ("weird name!/..//x", "weird-name-/x"),
    ("..", "image"),
], ids=lambda v: v if len(v) < 40 else v[:37] + "...")
def test_image_slug(reference: str, slug: str) -> None:
    assert sarif_report.image_slug(reference) == slug


@pytest.mark.parametrize("reference", [
    "alpine:3.17", "docker://alpine:3.17", "localhost:5000/app", "C:\\images\\app.tar",
    "registry.example/a b:c", "oci-archive:/x/y.tar", "sha256:" + "c" * 64,
], ids=["tag-reads-as-scheme", "docker-scheme", "registry-port", "windows-path",
        "space", "oci-archive", "bare-digest"])
def test_no_image_reference_ever_becomes_a_uri_scheme(reference: str) -> None:
    run = run_of(samples.sample_report(reference=reference, verdict=False))
    for result in run["results"]:
        uri = uri_of(result)
        assert uri_problems(uri) == []
        assert uri.startswith(sarif_report.IMAGE_ROOT + "/")
        assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == 1
    assert sarif_report.image_slug(reference) in run["automationDetails"]["id"]


def test_without_dockerfile_each_alert_names_its_path_in_the_image() -> None:
    run = run_of(samples.sample_report(reference="alpine:3.17"))
    shell = result_for(run, "AUD-SHELL")
    assert uri_of(shell) == ".auditor/images/alpine/rootfs/usr/bin/dash"
    logical = shell["locations"][0]["logicalLocations"][0]
    assert logical["name"] == "/usr/bin/dash"
    assert uri_of(result_for(run, "AUD-ROOT-USER")) == ".auditor/images/alpine/config"
    odd = uri_of(result_for(run, "AUD-BUILD-FILE"))
    assert "%FF" in odd and "%60x%60" in odd and "%7Cy%7C" in odd
    assert unquote(odd, errors="surrogateescape").endswith("/app/odd\udcffname `x` <b>|y|</b>")


@pytest.mark.parametrize("given,uri", [
    ("Dockerfile", "Dockerfile"),
    ("./build/app.Dockerfile", "build/app.Dockerfile"),
    ("build\\Dockerfile", "build/Dockerfile"),
    ("docker files/Dockerfile", "docker%20files/Dockerfile"),
])
def test_with_dockerfile_the_uri_is_repository_relative(given: str, uri: str) -> None:
    report = samples.sample_report()
    report = replace(report, dockerfile=given)
    run = run_of(report)
    assert {uri_of(r) for r in run["results"]} == {uri}


def test_with_dockerfile_the_line_is_the_instruction_that_made_the_layer() -> None:
    report = samples.sample_report()
    report = replace(report, dockerfile="Dockerfile", dockerfile_lines={0: 1, 1: 4, 2: 9})
    run = run_of(report)

    def line(rule_id: str) -> int:
        region = result_for(run, rule_id)["locations"][0]["physicalLocation"]["region"]
        return int(region["startLine"])

    assert line("AUD-COMPILER") == 4  # layer 1
    assert line("AUD-SECRET-PRIVATE-KEY") == 9  # layer 2
    assert line("AUD-ROOT-USER") == 1  # no layer: the config; line 1
    report = replace(report, dockerfile_lines={})
    assert {r["locations"][0]["physicalLocation"]["region"]["startLine"]
            for r in run_of(report)["results"]} == {1}
    # the message still names the path in the image, which the Dockerfile line does not
    assert "/usr/bin/gcc-12" in result_for(run, "AUD-COMPILER")["message"]["text"]


def test_run_id_is_per_image_not_per_tag() -> None:
    def run_id(reference: str, category: str | None = None) -> str:
        report = samples.sample_report(reference=reference, verdict=False)
        report = replace(report, sarif_category=category)
        return str(run_of(report)["automationDetails"]["id"])

    assert run_id("app:pr-12") == run_id("app:main") == "auditor/app/"
    assert run_id("app:1") != run_id("worker:1")
    assert run_id("app:1", "images/app") == run_id("x", "images/app/") == "images/app/"


def test_fingerprints_survive_a_rebuild_and_feed_the_baseline(tmp_path: Path) -> None:
    first = samples.sample_report(verdict=False)
    rebuilt = samples.sample_report(verdict=False, findings=[
        replace(f, layer=None if f.layer is None else f.layer + 3, created_by="RUN other",
                bytes=f.bytes + 10, message=f.message + " (rebuilt)")
        for f in samples.FINDINGS])

    def prints(report: Report) -> dict[str, str]:
        return {r["ruleId"] + (r["properties"].get("path") or ""):
                r["partialFingerprints"]["auditorFingerprint/v1"]
                for r in run_of(report)["results"]}

    assert prints(first) == prints(rebuilt)
    assert set(prints(first).values()) == {f.fingerprint for f in samples.FINDINGS}
    path = tmp_path / "previous.sarif"
    path.write_text(json.dumps(sarif_of(first)), encoding="utf-8")
    baseline = Baseline.load(path)
    assert baseline.format == "sarif"
    assert all(baseline.contains(f) for f in samples.FINDINGS)


@pytest.mark.parametrize("severity,level,band", [
    ("critical", "error", (9.0, 10.0)),
    ("high", "error", (7.0, 8.9)),
    ("medium", "warning", (4.0, 6.9)),
    ("low", "note", (0.1, 3.9)),
    ("info", "note", None),
])
def test_levels_and_github_security_severity(severity: str, level: str,
                                             band: tuple[float, float] | None) -> None:
    f = samples.finding("AUD-SHELL", "shell", severity, "Shell present", "sh", path="/bin/sh")
    run = run_of(samples.sample_report(findings=[f], verdict=False))
    result, rule = run["results"][0], run["tool"]["driver"]["rules"][0]
    assert result["level"] == level
    assert "security" in rule["properties"]["tags"]
    if band is None:
        assert "security-severity" not in rule["properties"]
    else:
        value = float(rule["properties"]["security-severity"])
        assert band[0] <= value <= band[1] and (severity != "critical" or value > 9.0)


@pytest.mark.parametrize("rule_id,category,severity,security", [
    ("AUD-SECRET-ENV", "secret", "high", True),
    ("AUD-SETUID", "setuid", "low", True),
    ("AUD-SSH-PORT", "config", "medium", True),
    ("AUD-GIT-DIR", "leftover-source", "medium", True),
    ("AUD-MAINTAINER", "config", "info", False),
    ("AUD-OBJECT-FILES", "leftover-source", "low", False),
    ("AUD-CACHE", "cache", "medium", False),
    ("AUD-WASTE", "wasted-space", "high", False),
])
def test_security_tag_only_on_security_rules(rule_id: str, category: str, severity: str,
                                             security: bool) -> None:
    f = samples.finding(rule_id, category, severity, "t", "m", path="/x")
    rule = run_of(samples.sample_report(findings=[f], verdict=False))["tool"]["driver"]["rules"][0]
    tags = rule["properties"]["tags"]
    assert category in tags and ("security" in tags) is security
    assert ("security-severity" in rule["properties"]) is security
    assert len(tags) <= sarif_report.MAX_TAGS_PER_RULE
    assert rule["properties"]["precision"] in ("medium", "high", "very-high")


def test_rules_are_the_ones_results_use_each_once() -> None:
    run = run_of(samples.sample_report())
    ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert len(ids) == len(set(ids)) and set(ids) == {r["ruleId"] for r in run["results"]}
    for result in run["results"]:
        assert ids[result["ruleIndex"]] == result["ruleId"]


def test_rule_help_has_the_fix_and_the_stage_fix() -> None:
    run = run_of(samples.sample_report())
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    compiler = rules["AUD-COMPILER"]  # layer 1, where the stage-fix suggestion points
    assert "Build in a separate stage." in compiler["help"]["text"]
    assert "Build in a separate stage" in compiler["help"]["markdown"]
    assert "COPY --from=build" in compiler["help"]["markdown"]
    assert compiler["fullDescription"]["text"] == "**Compiler present.** Documentation of " \
                                                 "AUD-COMPILER."
    assert compiler["shortDescription"]["text"] == "Compiler present"
    bare = run_of(samples.sample_report(suggestions=False))
    assert all("Stage fix" not in r["help"]["text"] for r in bare["tool"]["driver"]["rules"])


def test_message_stands_on_its_own() -> None:
    run = run_of(samples.sample_report(reference="shop/api:7"))
    text = result_for(run, "AUD-SHELL")["message"]["text"]
    assert "shop/api:7" in text and "/usr/bin/dash" in text and "dash@0.5.12-2" in text
    assert "layer 0" in text
    odd = result_for(run, "AUD-BUILD-FILE")["message"]["text"]
    assert "\\xff" in odd  # an undecodable byte shows as an escape, not as a broken string


def test_result_properties() -> None:
    props = result_for(run_of(samples.sample_report()), "AUD-SHELL")["properties"]
    assert props == {"image": "registry.example:5000/team/app:1.4", "path": "/usr/bin/dash",
                     "paths": ["/usr/bin/dash", "/bin/sh"], "pathCount": 2,
                     "package": "dash@0.5.12-2", "layer": 0,
                     "createdBy": samples.HISTORY[0], "bytes": 195584, "category": "shell",
                     "severity": "medium", "action": "warn"}


def test_waived_findings_are_suppressed_baseline_ones_are_not() -> None:
    report = samples.sample_report()
    in_baseline = report.result.findings[1]
    assert report.verdict is not None
    report = replace(report, verdict=replace(report.verdict, suppressed=[
        *report.verdict.suppressed, (in_baseline, "baseline: already in old.sarif")]))
    run = run_of(report)
    waived = result_for(run, "AUD-SETUID")
    assert waived["suppressions"] == [{"kind": "external", "status": "accepted",
                                       "justification": samples.sample_verdict([])
                                       .suppressed[0][1]}]
    assert "suppressions" not in result_for(run, in_baseline.rule_id)
    assert len(run["results"]) == len(samples.FINDINGS) + 1


def test_skipped_inputs_are_configuration_notifications() -> None:
    invocation = run_of(samples.sample_report())["invocations"][0]
    assert invocation["executionSuccessful"] is True
    [note] = invocation["toolConfigurationNotifications"]
    assert note["level"] == "warning" and "layer 2: app/huge.bin" in note["message"]["text"]
    clean = run_of(samples.sample_report(skipped=False))["invocations"][0]
    assert clean == {"executionSuccessful": True}


def test_over_the_result_limit_the_most_severe_are_kept_and_it_says_so() -> None:
    findings = samples.many_findings(sarif_report.RESULT_LIMIT + 7)
    run = run_of(samples.sample_report(findings=findings, verdict=False, skipped=False))
    assert len(run["results"]) == sarif_report.RESULT_LIMIT <= sarif_report.MAX_RESULTS_PER_RUN
    kept = [r["properties"]["severity"] for r in run["results"]]
    assert kept.count("info") == sum(f.severity == "info" for f in findings) - 7
    assert kept.count("critical") == sum(f.severity == "critical" for f in findings)
    [note] = run["invocations"][0]["toolExecutionNotifications"]
    assert str(len(findings)) in note["message"]["text"] and note["level"] == "warning"


def test_over_the_file_size_limit_results_are_cut_until_it_fits(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sarif_report, "MAX_GZIP_BYTES", 9_000)
    findings = samples.many_findings(400)
    run = run_of(samples.sample_report(findings=findings, verdict=False, skipped=False))
    assert 0 < len(run["results"]) < 400
    assert "most severe" in run["invocations"][0]["toolExecutionNotifications"][0][
        "message"]["text"]
    kept = {r["properties"]["path"] for r in run["results"]}
    least_kept = min(SEVERITY_RANK[r["properties"]["severity"]] for r in run["results"])
    assert all(SEVERITY_RANK[f.severity] <= least_kept for f in findings if f.path not in kept)


def test_converter_drops_none_and_defaults_keeps_level_and_spells_status() -> None:
    import sarif_om

    assert sarif_report.to_json(sarif_om.Result(message=sarif_om.Message(text="m"))) == {
        "message": {"text": "m"}, "level": "warning"}
    assert sarif_report.to_json(sarif_om.Suppression(kind="external", state="accepted")) == {
        "kind": "external", "status": "accepted"}
    assert sarif_report.to_json({"a": None, "b": [1, {"c": None}]}) == {"b": [1, {}]}


def test_real_rule_catalogue_documents_every_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.undo()  # the real detectors' documentation, not the fixed one
    from auditor.detectors import iter_rules
    from auditor.policy import POLICY_RULES

    catalogue = sarif_report.rule_catalogue()
    for rule in [*iter_rules(), *POLICY_RULES.values()]:
        assert catalogue[rule.id].rule == rule
        assert catalogue[rule.id].doc.strip(), f"{rule.id} has no documentation"
        descriptor = sarif_report.to_json(sarif_report._descriptor(catalogue[rule.id], [], ()))
        assert descriptor["fullDescription"]["text"] and descriptor["help"]["markdown"]


@pytest.mark.parametrize("env,given,uri", [
    ({"GITHUB_WORKSPACE": "/home/runner/work/app/app"},
     "/home/runner/work/app/app/docker/Dockerfile", "docker/Dockerfile"),
    ({"CI_PROJECT_DIR": "/builds/group/app"}, "/builds/group/app/Dockerfile", "Dockerfile"),
    ({}, "/elsewhere/Dockerfile", "elsewhere/Dockerfile"),
], ids=["github-checkout", "gitlab-checkout", "outside-any-checkout"])
def test_an_absolute_dockerfile_path_is_made_relative_to_the_checkout(
        monkeypatch: pytest.MonkeyPatch, env: dict[str, str], given: str, uri: str) -> None:
    for name in ("GITHUB_WORKSPACE", "CI_PROJECT_DIR"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir("/")
    assert sarif_report.dockerfile_uri(given) == uri


def test_a_config_finding_points_at_the_line_its_suggestion_names() -> None:
    from auditor.model.suggestion import Suggestion

    report = samples.sample_report()
    report = replace(report, dockerfile="Dockerfile")
    user = Suggestion("Run as a non-root user", "No USER [AUD-ROOT-USER].", dockerfile_line=12,
                      rule_ids=("AUD-ROOT-USER",))
    report = replace(report, suggestions=(*samples.SUGGESTIONS, user))
    region = result_for(run_of(report), "AUD-ROOT-USER")["locations"][0]["physicalLocation"]
    assert region["region"]["startLine"] == 12
    # two suggestions at different lines for one rule: no guess, line 1
    other = Suggestion("Other", "[AUD-ROOT-USER]", dockerfile_line=3, rule_ids=("AUD-ROOT-USER",))
    report = replace(report, suggestions=(user, other))
    region = result_for(run_of(report), "AUD-ROOT-USER")["locations"][0]["physicalLocation"]
    assert region["region"]["startLine"] == 1

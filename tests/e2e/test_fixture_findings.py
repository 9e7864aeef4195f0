"""Ground truth: every fixture image's expected.json checked against a real audit.

expected.json (see fixtures/README.md): ``present`` category -> paths that some finding of
that category must name (the finding's path or one of its paths equals the listed path,
lies inside it, or contains it; an empty list means at least one finding); ``absent``:
categories with no high or critical finding; ``absent_paths``: paths that no finding names,
nor a path inside them (wasted-space excepted); ``config_findings``: path-less findings by
category and a word they mention; ``absent_mentions``: words no finding may mention (masked
secrets, benign names); ``packages`` / ``packages_absent``; ``tree``: path -> kind in the
squashed tree; ``runs_as_root``.

``pending``: the truth that needs a feature not built yet, one item per feature:
``{"needs", "why", "expect": {same keys as above, plus runtimes, finding_bytes}}``. Each
item is its own test, an expected failure with ``strict=True``: the day the feature makes
it pass, the test fails as XPASS, and the item moves out of ``pending`` into the main keys.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import expected_of, fixture_names

pytestmark = pytest.mark.engine

# The ecosystems of package databases; any other ecosystem in the inventory is a runtime
# or an embedded component found outside them (a JDK tree, a Go binary's modules, ...).
DATABASES = frozenset({"deb", "apk", "rpm", "python", "npm"})
ECOSYSTEM = {"dpkg": "deb"}


def _names(finding: Any) -> list[str]:
    return [p for p in (finding.path, *finding.paths) if p]


def _covers(listed: str, named: str) -> bool:
    return named == listed or named.startswith(listed.rstrip("/") + "/") or \
        listed.startswith(named.rstrip("/") + "/")


def _inside(named: str, listed: str) -> bool:
    return named == listed or named.startswith(listed.rstrip("/") + "/")


def _text(finding: Any) -> str:
    return json.dumps(finding.to_json(), ensure_ascii=False)


def missing_findings(expected: dict[str, Any], result: Any) -> list[str]:
    """What ``present``, ``config_findings`` and ``finding_bytes`` ask for and no finding
    gives."""
    missing = []
    for category, listed_paths in expected.get("present", {}).items():
        found = [f for f in result.findings if f.category == category]
        if not found:
            missing.append(f"{category}: no finding at all")
        for listed in listed_paths:
            if not any(_covers(listed, n) for f in found for n in _names(f)):
                missing.append(f"{category}: {listed}")
    for item in expected.get("config_findings", []):
        if not any(f.category == item["category"] and item["mentions"] in _text(f)
                   for f in result.findings):
            missing.append(f"{item['category']} mentioning {item['mentions']!r}")
    for category, sizes in expected.get("finding_bytes", {}).items():
        for listed, least in sizes.items():
            sized = [f.bytes for f in result.findings if f.category == category
                     and any(_covers(listed, n) for n in _names(f))]
            if not any(b >= least for b in sized):
                missing.append(f"{category}: {listed} counted as {sized}, at least {least}")
    return missing


def wrong_findings(expected: dict[str, Any], result: Any) -> list[str]:
    """What ``absent``, ``absent_paths`` and ``absent_mentions`` forbid and a finding says."""
    wrong = []
    for category in expected.get("absent", []):
        wrong += [f"{f.rule_id} {f.path}" for f in result.findings
                  if f.category == category and f.severity in ("high", "critical")]
    for path in expected.get("absent_paths", []):
        wrong += [f"{f.rule_id} names {path}" for f in result.findings
                  if f.category != "wasted-space" and any(_inside(n, path) for n in _names(f))]
    for word in expected.get("absent_mentions", []):
        wrong += [f"{f.rule_id} mentions {word}" for f in result.findings if word in _text(f)]
    return wrong


def _version_matches(version: str, wanted: str | None) -> bool:
    return wanted is None or version == wanted or any(
        version.startswith(wanted + sep) for sep in ".+-_")


def inventory_problems(expected: dict[str, Any], result: Any) -> list[str]:
    """``packages``, ``packages_absent`` and ``runtimes`` against the inventory."""
    problems = []
    for ecosystem, names in expected.get("packages", {}).items():
        eco = ECOSYSTEM.get(ecosystem, ecosystem)
        for name, version in names.items():
            pkgs = result.inventory.by_name(name, eco)
            if not pkgs:
                problems.append(f"{ecosystem} package {name} not found")
            elif version is not None and not any(p.version == version for p in pkgs):
                problems.append(f"{ecosystem} {name}: {[p.version for p in pkgs]}, not {version}")
    for ecosystem, names in expected.get("packages_absent", {}).items():
        eco = ECOSYSTEM.get(ecosystem, ecosystem)
        problems += [f"{ecosystem} {name} should not be there" for name in names
                     if result.inventory.by_name(name, eco)]
    runtimes = [p for p in result.inventory.packages if p.ecosystem not in DATABASES]
    for name, version in expected.get("runtimes", {}).items():
        if not any(p.name.lower() == name and _version_matches(p.version, version)
                   for p in runtimes):
            problems.append(f"runtime {name} {version or ''} not in "
                            f"{[(p.name, p.version) for p in runtimes]}")
    return problems


def tree_problems(expected: dict[str, Any], result: Any) -> list[str]:
    problems = []
    for path, spec in expected.get("tree", {}).items():
        node = result.tree.get(path)
        if spec is None:
            if node is not None:
                problems.append(f"{path} should be gone")
            continue
        if node is None:
            problems.append(f"{path} missing")
            continue
        kind, _, link = spec.partition(":")
        if node.kind != kind or (link and node.link != link):
            problems.append(f"{path}: {node.kind}:{node.link}, not {spec}")
    return problems


CHECKS = (missing_findings, wrong_findings, inventory_problems, tree_problems)


@pytest.fixture(params=fixture_names())
def case(request: Any, audited: Any) -> tuple[dict[str, Any], Any]:
    expected = expected_of(request.param)
    return expected, audited(expected["image"])


def test_every_expected_finding_is_reported(case: tuple[dict[str, Any], Any]) -> None:
    expected, result = case
    missing = missing_findings(expected, result)
    assert not missing, missing


def test_nothing_is_reported_that_must_not_be(case: tuple[dict[str, Any], Any]) -> None:
    expected, result = case
    wrong = wrong_findings(expected, result)
    assert not wrong, wrong


def test_user_and_packages_as_expected(case: tuple[dict[str, Any], Any]) -> None:
    expected, result = case
    root = [f for f in result.findings if f.category == "root-user"]
    assert bool(root) == expected["runs_as_root"]
    assert result.image.config.user == expected["user"]
    problems = inventory_problems(expected, result)
    assert not problems, problems


def test_squashed_tree_as_expected(case: tuple[dict[str, Any], Any]) -> None:
    expected, result = case
    problems = tree_problems(expected, result)
    assert not problems, problems


def _pending_cases() -> list[Any]:
    cases = []
    for name in fixture_names():
        for number, item in enumerate(expected_of(name).get("pending", [])):
            mark = pytest.mark.xfail(strict=True, raises=AssertionError,
                                     reason=f"needs {item['needs']}: {item['why']}")
            cases.append(pytest.param(name, item, marks=mark,
                                      id=f"{name}-{number}-{item['needs']}"))
    return cases


def _pending_truth_is_not_met_yet(name: str, item: dict[str, Any], audited: Any) -> None:
    """Fails (as expected) while the feature is missing; XPASS, and so a failure, the day
    it arrives: then move the item's keys out of ``pending`` into the main ones."""
    result = audited(expected_of(name)["image"])
    problems = [p for check in CHECKS for p in check(item["expect"], result)]
    assert not problems, problems


# Collected only while some fixture has pending truth: an empty parameter set would be a
# skip in every CI log, where a skip means something CI did not check.
if _pending_cases():
    test_pending_truth_is_not_met_yet = pytest.mark.parametrize(
        ("name", "item"), _pending_cases())(_pending_truth_is_not_met_yet)


def test_pending_items_are_well_formed() -> None:
    known = {"present", "absent", "absent_paths", "absent_mentions", "config_findings",
             "packages", "packages_absent", "tree", "runtimes", "finding_bytes"}
    for name in fixture_names():
        for item in expected_of(name).get("pending", []):
            assert set(item) == {"needs", "why", "expect"}, (name, item)
            assert item["expect"] and set(item["expect"]) <= known, (name, item)


SECURITY = ("secret", "setuid", "root-user", "compiler", "network-tool", "leftover-source")


@pytest.mark.parametrize("name", ["c-multi-scratch", "go-multi-scratch", "distroless-base"])
def test_clean_images_have_no_high_severity_findings(audited: Any, name: str) -> None:
    result = audited(f"auditor-fixture/{name}:latest")
    bad = [f"{f.rule_id} {f.path}" for f in result.findings
           if f.severity in ("high", "critical") or f.category in SECURITY]
    assert not bad, bad


# Real Debian programs that hold a tool's name, help text about one, or link its library
# (git-remote-http links libcurl), none of them the tool: recognising tools by content
# must not report them.
MERELY_MENTION = ("/usr/bin/git", "/usr/lib/git-core/git-remote-http", "/usr/bin/perl",
                  "/usr/bin/python3.11", "/usr/bin/node", "/usr/bin/gpgv", "/usr/bin/tar",
                  "/usr/bin/sed", "/usr/bin/find")
TOOL_CATEGORIES = ("shell", "network-tool", "package-manager")


def test_content_recognition_reports_no_program_that_merely_mentions_a_tool(audited):
    result = audited(expected_of("c-single")["image"])
    paths = {p for p in MERELY_MENTION if result.tree.get(p) is not None}
    assert len(paths) == len(MERELY_MENTION)  # they are there to be mistaken
    wrong = [f"{f.rule_id} names {p}" for f in result.findings
             if f.category in TOOL_CATEGORIES or f.rule_id == "AUD-COMPILER"
             for p in _names(f) if p in paths]
    assert not wrong, wrong
    by_content = sorted({f.evidence.recognised_by or "" for f in result.findings}
                        - {"", "path", "name"})
    assert by_content == []  # every tool there is on PATH, found there first

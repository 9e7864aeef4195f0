"""Ground truth: every fixture image's expected.json checked against a real audit.

expected.json (see fixtures/README.md): ``present`` category -> paths that some finding of
that category must name (the finding's path or one of its paths equals the listed path,
lies inside it, or contains it; an empty list means at least one finding); ``absent``:
categories with no high or critical finding; ``absent_paths``: paths no finding names
(wasted-space excepted); ``config_findings``: path-less findings by category and a word
they mention; ``absent_mentions``: words no finding may mention (masked secrets, benign
names); ``packages`` / ``packages_absent``; ``tree``: path -> kind in the squashed tree;
``runs_as_root``.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import expected_of, fixture_names

pytestmark = pytest.mark.engine


def _names(finding):
    return [p for p in (finding.path, *finding.paths) if p]


def _covers(listed, named):
    return named == listed or named.startswith(listed.rstrip("/") + "/") or \
        listed.startswith(named.rstrip("/") + "/")


def _text(finding):
    return json.dumps(finding.to_json(), ensure_ascii=False)


@pytest.fixture(params=fixture_names())
def case(request, audited):
    expected = expected_of(request.param)
    return expected, audited(expected["image"])


def test_every_expected_finding_is_reported(case):
    expected, result = case
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
    assert not missing, missing


def test_nothing_is_reported_that_must_not_be(case):
    expected, result = case
    wrong = []
    for category in expected.get("absent", []):
        wrong += [f"{f.rule_id} {f.path}" for f in result.findings
                  if f.category == category and f.severity in ("high", "critical")]
    for path in expected.get("absent_paths", []):
        wrong += [f"{f.rule_id} names {path}" for f in result.findings
                  if f.category != "wasted-space" and path in _names(f)]
    for word in expected.get("absent_mentions", []):
        wrong += [f"{f.rule_id} mentions {word}" for f in result.findings if word in _text(f)]
    assert not wrong, wrong


def test_user_and_packages_as_expected(case):
    expected, result = case
    root = [f for f in result.findings if f.category == "root-user"]
    assert bool(root) == expected["runs_as_root"]
    assert result.image.config.user == expected["user"]
    for ecosystem, names in expected.get("packages", {}).items():
        eco = {"dpkg": "deb"}.get(ecosystem, ecosystem)
        for name, version in names.items():
            pkgs = result.inventory.by_name(name, eco)
            assert pkgs, f"{ecosystem} package {name} not found"
            if version is not None:
                assert any(p.version == version for p in pkgs), (name, version)
    for ecosystem, names in expected.get("packages_absent", {}).items():
        eco = {"dpkg": "deb"}.get(ecosystem, ecosystem)
        for name in names:
            assert not result.inventory.by_name(name, eco), f"{name} should be gone"


def test_squashed_tree_as_expected(case):
    expected, result = case
    for path, spec in expected.get("tree", {}).items():
        node = result.tree.get(path)
        if spec is None:
            assert node is None, f"{path} should be gone"
            continue
        assert node is not None, f"{path} missing"
        kind, _, link = spec.partition(":")
        assert node.kind == kind, (path, node.kind, kind)
        if link:
            assert node.link == link, (path, node.link, link)


SECURITY = ("secret", "setuid", "root-user", "compiler", "network-tool", "leftover-source")


@pytest.mark.parametrize("name", ["c-multi-scratch", "go-multi-scratch"])
def test_clean_images_have_no_high_severity_findings(audited, name):
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

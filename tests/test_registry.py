"""The detector registry: every detector declares its rules, documents itself, is tested."""

from pathlib import Path

import pytest

from auditor.detectors import DETECTORS, RULES, iter_rules, load_detectors
from auditor.model.findings import CATEGORIES, MAX_TAGS, PRECISIONS, SEVERITIES, Rule
from auditor.policy import POLICY_RULES

TESTS = Path(__file__).parent / "detectors"
load_detectors()


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_detector_declares_rules_docs_and_has_its_own_test_file(name):
    det = DETECTORS[name]
    assert det.rules, f"{name} declares no rule"
    assert len(det.doc) > 80, f"{name} needs a docstring: it is its documentation page"
    module = name.split(".")[0]
    assert (TESTS / f"test_{module}.py").exists(), f"tests/detectors/test_{module}.py missing"


ALL_RULES = {r.id: r for r in iter_rules()}


@pytest.mark.parametrize("rule_id", sorted(ALL_RULES))
def test_rule_is_well_formed(rule_id):
    rule = ALL_RULES[rule_id]
    assert rule_id.startswith("AUD-") and rule_id.upper() == rule_id
    assert rule.category in CATEGORIES and rule.severity in SEVERITIES
    assert rule.title and rule.fix, f"{rule_id} needs a title and a fix"
    assert isinstance(rule.security, bool) and rule.precision in PRECISIONS
    assert 0 < len(rule.tags) <= MAX_TAGS and rule.category in rule.tags
    for severity in SEVERITIES:
        score = rule.security_severity_of(severity)
        if rule.security and severity != "info":
            assert score is not None and 0.0 < float(score) <= 10.0, (rule_id, severity)
        elif not rule.security:
            assert score is None


def test_every_rule_is_listed_policy_rules_too():
    listed = [r.id for r in iter_rules()]
    assert len(listed) == len(set(listed)), "a rule id listed twice"
    assert set(listed) == set(RULES) | set(POLICY_RULES)
    assert not set(RULES) & set(POLICY_RULES)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"precision": "certain"}, "unknown precision"),
    ({"security_severity": "11"}, "not a score"),
    ({"security_severity": "high"}, "not a score"),
    ({"tags": ("container", "")}, "tags"),
    ({"tags": tuple(f"t{i}" for i in range(MAX_TAGS + 1))}, "tags"),
    ({"category": "misc"}, "unknown category"),
    ({"severity": "severe"}, "unknown severity"),
], ids=["precision", "score-over-ten", "score-not-a-number", "empty-tag", "too-many-tags",
        "category", "severity"])
def test_bad_rule_metadata_is_refused(kwargs, message):
    fields = {"id": "AUD-X", "category": "shell", "severity": "low", "title": "x", **kwargs}
    with pytest.raises(ValueError, match=message):
        Rule(**fields)


@pytest.mark.parametrize(("category", "severity", "security", "precision"), [
    ("shell", "low", True, "very-high"), ("secret", "high", True, "high"),
    ("config", "medium", True, "very-high"), ("config", "low", False, "very-high"),
    ("leftover-source", "high", True, "high"), ("leftover-source", "low", False, "high"),
    ("cache", "high", False, "very-high"),
], ids=["security-category", "secret", "mixed-medium", "mixed-low", "leftover-high",
        "leftover-low", "hygiene"])
def test_rule_metadata_defaults_from_category_and_severity(category, severity, security,
                                                           precision):
    rule = Rule("AUD-X", category, severity, "x")
    assert (rule.security, rule.precision) == (security, precision)
    assert rule.tags == ("container", category, "security" if security else "maintainability")
    assert rule.security_severity_of("high") == ("8.0" if security else None)


def test_a_rule_states_its_exceptions():
    rule = Rule("AUD-X", "cache", "low", "x", security=True, precision="medium",
                security_severity="3.0", tags=("container", "cache", "supply-chain"))
    assert (rule.security, rule.precision, rule.tags) == (
        True, "medium", ("container", "cache", "supply-chain"))
    assert rule.security_severity_of("critical") == "3.0"


def test_every_category_has_a_detector():
    assert {r.category for r in RULES.values()} == set(CATEGORIES)


def test_a_duplicate_rule_id_is_refused():
    from auditor.detectors import detector
    from auditor.model.findings import Rule

    existing = next(iter(RULES.values()))
    with pytest.raises(ValueError, match="declared twice"):
        detector(Rule(existing.id, "shell", "low", "dup", fix="x"))(lambda ctx: iter(()))


def test_docs_rules_md_is_current():
    from auditor.detectors import rules_markdown

    doc = Path(__file__).parent.parent / "docs" / "rules.md"
    assert doc.read_text() == rules_markdown(), \
        "docs/rules.md is stale: run `auditor rules --markdown > docs/rules.md`"

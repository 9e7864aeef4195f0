"""The detector registry: every detector declares its rules, documents itself, is tested."""

from pathlib import Path

import pytest

from auditor.detectors import DETECTORS, RULES, load_detectors
from auditor.model.findings import CATEGORIES, SEVERITIES

TESTS = Path(__file__).parent / "detectors"
load_detectors()


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_detector_declares_rules_docs_and_has_its_own_test_file(name):
    det = DETECTORS[name]
    assert det.rules, f"{name} declares no rule"
    assert len(det.doc) > 80, f"{name} needs a docstring: it is its documentation page"
    module = name.split(".")[0]
    assert (TESTS / f"test_{module}.py").exists(), f"tests/detectors/test_{module}.py missing"


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_rule_is_well_formed(rule_id):
    rule = RULES[rule_id]
    assert rule_id.startswith("AUD-") and rule_id.upper() == rule_id
    assert rule.category in CATEGORIES and rule.severity in SEVERITIES
    assert rule.title and rule.fix, f"{rule_id} needs a title and a fix"


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

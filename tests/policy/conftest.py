from __future__ import annotations

from collections.abc import Iterator

import pytest

from auditor.detectors import RULES, load_detectors
from auditor.model.findings import CATEGORIES, Rule


@pytest.fixture(autouse=True)
def test_rules() -> Iterator[None]:
    """Rule ids AUD-TEST-<CATEGORY> known to the registry, so policies may name them."""
    load_detectors()
    added = []
    for category in CATEGORIES:
        rule = Rule(f"AUD-TEST-{category.upper()}", category, "medium", f"test {category}")
        if rule.id not in RULES:
            RULES[rule.id] = rule
            added.append(rule.id)
    yield
    for rule_id in added:
        del RULES[rule_id]

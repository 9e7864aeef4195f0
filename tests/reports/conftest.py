"""Golden files for the report formats: ``pytest tests/reports --update-golden`` rewrites
them from the writers' current output; review the diff before committing it.

Volatile fields (the tool's version, digests and image ids) are redacted before a
comparison, so a release or a rebuilt layer does not touch the goldens.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from auditor import __version__
from auditor.reports import sarif
from tests.reports import samples

GOLDEN = Path(__file__).resolve().parent / "golden"

_VOLATILE = [
    (re.compile(r"sha256:[0-9a-f]{64}"), "sha256:<digest>"),
    (re.compile(r'("(?:version|semanticVersion)": )"' + re.escape(__version__) + '"'),
     r'\1"<version>"'),
    (re.compile(r"auditor " + re.escape(__version__) + r"\b"), "auditor <version>"),
]


def redact(text: str) -> str:
    for pattern, replacement in _VOLATILE:
        text = pattern.sub(replacement, text)
    return text


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite tests/reports/golden/ from the writers' output")


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Callable[[str, str], None]:
    """``golden(name, text)``: compare ``text`` (redacted) with golden/NAME, or rewrite it."""
    update = bool(request.config.getoption("--update-golden", default=False))

    def check(name: str, text: str) -> None:
        path = GOLDEN / name
        text = redact(text)
        if update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            return
        assert path.exists(), f"{path} is missing: run pytest tests/reports --update-golden"
        expected = path.read_text(encoding="utf-8")
        assert text == expected, (f"{name} differs from its golden file; if the change is "
                                  "meant, run pytest tests/reports --update-golden")

    return check


@pytest.fixture
def fixed_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rule documentation that does not follow the detectors' docstrings."""
    monkeypatch.setattr(sarif, "rule_catalogue", lambda: dict(samples.CATALOGUE))

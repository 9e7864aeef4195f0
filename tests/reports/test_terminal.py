"""The terminal report: golden files at 80 and 120 columns, as people read it."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest

from auditor.reports import Report, WriteOptions, formats
from auditor.reports import terminal as terminal_report
from tests.reports import samples


def terminal_of(report: Report, width: int, quiet: bool = False) -> str:
    out = io.StringIO()
    terminal_report.write(report, out, WriteOptions(color=False, width=width, quiet=quiet))
    return out.getvalue()


def test_registered_as_a_format() -> None:
    assert formats()["terminal"] is terminal_report.write


@pytest.mark.parametrize("width", [80, 120])
@pytest.mark.parametrize("name,report", [
    ("sample", samples.sample_report),
    ("sample-no-verdict", samples.bare_report),
], ids=["with-verdict", "bare-audit"])
def test_golden(golden: Callable[[str, str], None], name: str,
                report: Callable[[], Report], width: int) -> None:
    text = terminal_of(report(), width)
    # The bytes a terminal gets (a name that is not UTF-8 goes out as it was), shown as text
    golden(f"{name}.term{width}",
           text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace"))


def test_quiet_is_the_verdict_line_alone() -> None:
    text = terminal_of(samples.sample_report(), 80, quiet=True)
    assert len(text.splitlines()) == 1 and text.startswith("FAILED ")

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


PAYLOADS = ["[/x]", "[link=https://evil.example]x[/link]", "\x1b]0;pwned\x07\x1b[2J",
            "a\rPASSED fake\x08", "\x9b31m", "\u202etxt.exe", "bad\udcffbyte"]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_image_text_is_inert(payload: str) -> None:
    from dataclasses import replace

    from auditor.model.image import ImageConfig
    report = samples.sample_report(reference=payload)
    image = replace(report.result.image, config=ImageConfig(
        user=payload, entrypoint=(payload,), cmd=(payload,)))
    report = replace(report, result=replace(report.result, image=image))
    for width in (80, 120):
        out = terminal_of(report, width)
        raw = out.encode("utf-8", "surrogateescape")
        assert not any(b < 0x20 and b != 0x0a for b in raw) and b"\x7f" not in raw
        assert not any(0x80 <= ord(c) < 0xA0 or 0x202A <= ord(c) <= 0x202E for c in out)
        if payload.startswith("[/x]"):
            assert "[/x]" in out


def test_category_totals_count_overlapping_bytes_once() -> None:
    from auditor.model.findings import Finding, Overlap

    cache = Finding("AUD-CACHE", "cache", "low", "Package or build cache left in the image",
                    "apt lists", path="/var/lib/apt/lists", bytes=50_000_000)
    kept = Finding("AUD-APT-LISTS-KEPT", "config", "low", "apt package lists left in a layer",
                   "RUN kept the lists", bytes=50_000_000,
                   overlaps=(Overlap(cache.fingerprint, "AUD-CACHE", "/var/lib/apt/lists",
                                     50_000_000),))
    text = terminal_of(samples.sample_report(findings=[cache, kept], verdict=False), 160)
    assert "cache (1, 50.0 MB)" in text
    assert "config (1, 0 B; 50.0 MB more counted under other findings)" in text
    assert "50.0 MB of it counted under AUD-CACHE /var/lib/apt/lists" in text

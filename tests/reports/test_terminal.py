"""The terminal report: golden files at 80 and 120 columns, as people read it."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import replace

import pytest

from auditor.model.result import Report
from auditor.model.suggestion import Suggestion
from auditor.reports import WriteOptions, formats
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


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("columns", [80, 120])
def test_the_report_is_as_wide_as_the_terminal(monkeypatch: pytest.MonkeyPatch,
                                                columns: int) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    for stream in (io.StringIO(), _Tty()):  # a pipe reads COLUMNS; rich asks a terminal
        terminal_report.write(samples.sample_report(), stream, WriteOptions())
        rule = next(line for line in stream.getvalue().splitlines()
                    if line.startswith("Findings ("))
        assert len(rule) == columns


def test_without_a_terminal_or_columns_it_is_100_wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    stream = io.StringIO()
    terminal_report.write(samples.sample_report(), stream, WriteOptions())
    assert max(len(line) for line in stream.getvalue().splitlines()) == 100


PROSE = ("The program (/usr/bin/python3, python) needs 47.1 MB of the image's 1.3 GB. "
         "Building in a builder stage and copying only that into scratch removes: compiler "
         "(make, binutils-x86-64-linux-gnu, cpp-12, gcc-12, golang-1.19-go, libc6-dev and "
         "5 more); network-tool (curl) [AUD-BUILD-TOOL, AUD-CACHE, AUD-COMPILER].")


def _with(*suggestions: Suggestion) -> Report:
    return replace(samples.sample_report(), suggestions=suggestions)


@pytest.mark.parametrize("width", [80, 120])
def test_suggestion_prose_wraps_at_word_boundaries(width: int) -> None:
    out = terminal_of(_with(Suggestion("Use a multi-stage build", PROSE)), width)
    lines = out.split("• Use a multi-stage build")[1].split("Layers ─")[0].splitlines()[1:]
    assert len(lines) > 1 and all(len(line) <= width for line in lines)
    # the words come out whole and in order: no line ends or starts inside one
    assert " ".join(line.strip() for line in lines).split() == PROSE.split()


@pytest.mark.parametrize("width", [80, 120])
def test_a_long_stage_fix_points_at_auditor_fix(width: int) -> None:
    run = ["RUN mkdir -p /auditor-runtime \\", " && tar -C / -cf - --no-recursion \\",
           *[f"      usr/lib/x86_64-linux-gnu/lib{i}.so \\" for i in range(40)],
           "    | tar -C /auditor-runtime -xf -"]
    text = "Name the build stage `AS build`. At the end of the build stage:\n\n" + "\n".join(run)
    out = terminal_of(_with(Suggestion("Use a multi-stage build", PROSE + "\n" + text),
                            Suggestion("Run as a non-root user", "In the final stage:\n\n"
                                       "USER 65532:65532\n\nThen rebuild.")), width)
    assert "lib7.so" not in out and "RUN mkdir" not in out
    assert "(43 Dockerfile lines; `auditor fix IMAGE --dockerfile Dockerfile` writes them)" \
        in out
    assert "\nUSER 65532:65532\n" in out  # a short one is shown, whole, for copying


@pytest.mark.parametrize("width", [80, 120])
def test_the_verdict_agrees_with_the_findings_shown(width: int) -> None:
    info = [f for f in samples.FINDINGS if f.severity == "info"]
    out = terminal_of(samples.sample_report(findings=info, verdict=False), width)
    assert "Findings (1)" in out
    verdict = out.split("Verdict ─")[1]
    assert "1 info" in verdict and "no findings" not in verdict
    empty = terminal_of(samples.sample_report(findings=[], verdict=False), width)
    assert "Findings (0)" in empty and "no findings" in empty.split("Verdict ─")[1]


def test_a_huge_string_from_the_image_is_cut() -> None:
    from auditor.model.image import ImageConfig

    report = samples.sample_report()
    huge = "L" * 100_000
    image = replace(report.result.image, config=ImageConfig(user=huge, entrypoint=(huge,)))
    out = terminal_of(replace(report, result=replace(report.result, image=image)), 100)
    assert len(out) < 10_000 and "L…" in out


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

"""Hostile text in every field an image controls, through the real pipeline, into every
report format: nothing may reach a screen, a pull-request comment or a CI page as anything
but inert text (issue 11).

Every format in ``auditor.reports.FORMATS`` gets the generic check (no raw control
character at all but the line breaks, and the report's own colour when asked for) and
the check of its own kind in ``CHECKS``; a format added without one fails
``test_every_format_has_its_own_check``.
"""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from auditor.audit import AuditRequest, audit, read_tree
from auditor.cli import main
from auditor.model.result import Report
from auditor.policy import load_policy
from auditor.reports import FORMATS, WriteOptions, writer
from auditor.reports import markdown as markdown_report
from auditor.reports.ls import write_text
from tests.reports import gfm, hostile
from tests.reports.schema_check import (
    assert_valid_code_quality,
    assert_valid_cyclonedx,
    assert_valid_junit,
    assert_valid_report,
    assert_valid_sarif,
)

PAYLOADS = list(hostile.PAYLOADS)
# C0 but the line break (tab and CR included: a CR rewrites the line on screen), DEL, C1,
# and the bidi overrides that reorder what a reader sees.
_RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_SGR = re.compile("\x1b\\[[0-9;]*m")  # colour and weight: the terminal report's own styling


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Report]]:
    directory = tmp_path_factory.mktemp("hostile")
    policy = load_policy("default")
    out = {}
    for name in PAYLOADS:
        archive = hostile.archive(directory, name)
        out[name] = archive, audit(AuditRequest(
            f"docker-archive:{archive}", policy=policy, dockerfile_text=hostile.DOCKERFILE,
            dockerfile="Dockerfile", bases=lambda: []))
    return out


def rendered(report: Report, fmt: str, color: bool = False, width: int = 100) -> str:
    out = io.StringIO()
    writer(fmt)(report, out, WriteOptions(color=color, width=width))
    return out.getvalue()


def raw_controls(text: str) -> list[str]:
    return sorted({repr(m.group()) for m in _RAW_CONTROL.finditer(text)})


def test_the_image_carries_the_payload_into_every_kind_of_field(
        reports: dict[str, tuple[Path, Report]]) -> None:
    """The suite tests something: findings, packages, suggestions and skipped items that
    hold the payload, for the reports to show."""
    _archive, report = reports["markdown"]
    payload = hostile.PAYLOADS["markdown"]
    result = report.result
    config = result.image.config
    assert payload in config.user and payload in config.entrypoint[0]  # type: ignore[index]
    assert any(payload in (h.created_by or "") for h in result.history if h)
    rules = {f.rule_id for f in result.findings}
    assert {"AUD-SETUID", "AUD-SECRET-FILE", "AUD-SECRET-ENV", "AUD-LEFTOVER-SOURCE"} <= rules
    assert any(payload.replace("/", "_") in (f.path or "") for f in result.findings)
    assert any(payload in (p.version or "") for p in result.inventory.packages)
    assert any(payload in p.name for p in result.inventory.packages)
    assert any(payload[:30] in s.reason for s in result.skipped)
    assert report.verdict is not None and not report.verdict.passed


# -- each format's own check ---------------------------------------------------------------

def _check_terminal(report: Report, text: str, width: int) -> None:
    coloured = rendered(report, "terminal", color=True, width=width)
    assert "\x1b[" in coloured  # the colour run is coloured...
    assert raw_controls(_SGR.sub("", coloured)) == []  # ...and has nothing else
    assert _SGR.sub("", coloured) == text  # the same screen, the same bytes but colour
    if "[/x]" in report.result.image.config.user:
        assert "[/x]" in text and "[link=" in text  # rich markup shown, not read


def _check_markdown(report: Report, text: str, width: int) -> None:
    assert gfm.live(text) == []
    assert len(text) <= markdown_report.MAX_CHARS


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += [(k, v or "") for k, v in attrs]


# What auditor's own HTML page is made of.
_HTML_OURS = {"html", "head", "meta", "title", "style", "body", "main", "h1", "h2", "p",
              "span", "b", "code", "ul", "ol", "li", "div", "svg", "g", "rect", "text",
              "details", "summary", "table", "thead", "tbody", "tr", "th", "td", "br", "pre",
              "i", "label", "input", "script"}


def _check_html(report: Report, text: str, width: int) -> None:
    walk = _Elements()
    walk.feed(text)
    assert set(walk.tags) <= _HTML_OURS, set(walk.tags) - _HTML_OURS
    assert walk.tags.count("script") == 1 and walk.tags.count("img") == 0
    assert not [k for k, _ in walk.attrs if k.startswith("on") or k in ("href", "src")]
    assert not [v for _, v in walk.attrs if "evil" in v or "pwned" in v]
    # the payload's own markup never comes out as markup (its <b> is one of ours)
    assert not [tag for tag in ("<script>alert", "<b>x</b>", "<sub>PWN", "<img") if tag in text]


def _check_json(report: Report, text: str, width: int) -> None:
    assert_valid_report(json.loads(text))


def _check_sarif(report: Report, text: str, width: int) -> None:
    doc = json.loads(text)
    assert_valid_sarif(doc)
    for run in doc["runs"]:
        for rule in run["tool"]["driver"].get("rules", []):
            assert gfm.live(rule["help"]["markdown"]) == []  # GitHub renders it


def _check_codequality(report: Report, text: str, width: int) -> None:
    doc = json.loads(text)
    assert_valid_code_quality(doc)
    for issue in doc:  # GitLab shows these in the merge-request widget
        assert raw_controls(issue["description"] + issue["location"]["path"]) == []


def _check_junit(report: Report, text: str, width: int) -> None:
    assert_valid_junit(text)
    root = ET.fromstring(text.encode("utf-8"))
    for element in root.iter():
        for value in [element.text or "", *element.attrib.values()]:
            assert raw_controls(value) == [], element.tag


def _check_cyclonedx(report: Report, text: str, width: int) -> None:
    assert_valid_cyclonedx(text)
    assert json.loads(text)["components"]


CHECKS: dict[str, Callable[[Report, str, int], None]] = {
    "terminal": _check_terminal, "markdown": _check_markdown, "html": _check_html,
    "json": _check_json, "sarif": _check_sarif, "codequality": _check_codequality,
    "junit": _check_junit, "cyclonedx": _check_cyclonedx,
}


def test_every_format_has_its_own_check() -> None:
    assert set(CHECKS) == set(FORMATS)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("payload", PAYLOADS)
def test_every_format_keeps_image_text_inert(reports: dict[str, tuple[Path, Report]],
                                             payload: str, fmt: str) -> None:
    _archive, report = reports[payload]
    for width in (80, 120):
        text = rendered(report, fmt, width=width)
        text.encode("utf-8")  # valid UTF-8 whatever the image's bytes
        # JSON escapes controls as \u001b: valid, and inert until someone decodes it
        assert raw_controls(text) == [], f"{fmt} carries raw control characters"
        CHECKS[fmt](report, text, width)


def _json_strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for v in value for s in _json_strings(v)]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [k, *_json_strings(v)]]
    return []


@pytest.mark.parametrize("payload", ["csi", "newline", "rich"])
def test_machine_formats_keep_the_exact_value(reports: dict[str, tuple[Path, Report]],
                                              payload: str) -> None:
    """JSON is for programs: the value as the image has it, escaped only by JSON."""
    _archive, report = reports[payload]
    doc = json.loads(rendered(report, "json"))
    assert hostile.PAYLOADS[payload] in _json_strings(doc)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_ls_text_is_inert(reports: dict[str, tuple[Path, Report]], payload: str) -> None:
    archive, _report = reports[payload]
    _image, tree = read_tree(f"docker-archive:{archive}")
    out = io.StringIO()
    write_text(iter(tree), out)
    assert raw_controls(out.getvalue()) == []
    assert len(out.getvalue().splitlines()) == len(list(tree))  # one entry a line


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize("color", ["always", "never"])
def test_the_command_line_writes_nothing_live(reports: dict[str, tuple[Path, Report]],
                                              capsys: pytest.CaptureFixture[str],
                                              payload: str, color: str) -> None:
    archive, _report = reports[payload]
    code = main(["scan", f"docker-archive:{archive}", "--no-progress", "--color", color])
    out, err = capsys.readouterr()
    assert code == 1, err
    assert raw_controls(_SGR.sub("", out) + err) == []
    if color == "never":
        assert "\x1b" not in out


@pytest.mark.parametrize("payload", PAYLOADS)
def test_fix_notes_on_stderr_are_inert(reports: dict[str, tuple[Path, Report]],
                                       capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                       payload: str) -> None:
    """What `auditor fix` says about the rewrite (its expected size, its notes) quotes the
    image's history and paths."""
    from auditor.fixes import bases

    monkeypatch.setattr(bases, "engine_bases", lambda: [])  # no engine asked
    archive, _report = reports[payload]
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(hostile.DOCKERFILE)
    code = main(["fix", f"docker-archive:{archive}", "--dockerfile", str(dockerfile),
                 "--no-progress"])
    out, err = capsys.readouterr()
    assert code in (0, 2), err
    assert err.strip() and raw_controls(err) == []
    assert raw_controls(out) == []  # the Dockerfile (its quoting: tests/fixes/test_quoting)


def test_a_newline_in_image_text_starts_no_line_of_a_suggestion(
        reports: dict[str, tuple[Path, Report]]) -> None:
    """Suggestions quote paths, packages, USER and ENV names, and show Dockerfile lines
    with the image's values in them; a line break in one must not begin a line that
    reads as our advice or as an instruction."""
    _archive, report = reports["newline"]
    assert len(report.suggestions) > 1
    for s in report.suggestions:
        for line in [s.title, *s.text.split("\n")]:
            assert not line.lstrip().startswith(("two", "# three", "- four", "five", "| a")), s


@pytest.mark.parametrize("payload", PAYLOADS)
def test_suggestions_hold_no_raw_control_character(reports: dict[str, tuple[Path, Report]],
                                                   payload: str) -> None:
    _archive, report = reports[payload]
    for s in report.suggestions:
        assert raw_controls(s.title + s.text.replace("\n", " ")) == [], s.title

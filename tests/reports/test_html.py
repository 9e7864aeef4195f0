"""The HTML report: one file with nothing to fetch, every name from the image escaped, and
a page that a real browser renders without a console error."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest

from auditor.closure.compute import Closure
from auditor.closure.walk import MissingLibrary
from auditor.model.result import Report
from auditor.reports import WriteOptions, formats, treemap
from auditor.reports.treemap import Rect, squarify
from tests.reports import samples
from tests.reports.browser import render

HOSTILE = "</code><script>alert(1)</script><img src=x onerror=alert(2)>\udcff"


class Elements(HTMLParser):
    """Every start tag of a page, with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def elements(text: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Elements()
    parser.feed(text)
    return parser.tags


def with_closure(report: Report) -> Report:
    return replace(report, closure=Closure(
        entry="/app/run", kind="dynamic", files=("/app/run", "/bin/sh", "/usr/bin/dash"),
        bytes=150, share=0.5, missing=(MissingLibrary("libssl.so.3", "/app/run"),),
        notes=(f"a note naming {HOSTILE}",), base_candidate="distroless-cc",
        reason="needs only the C runtime", argv=("/app/run", "--port", "8080")))


def hostile_report() -> Report:
    report = with_closure(samples.sample_report(findings=[
        samples.finding("AUD-SECRET-ENV", "secret", "high", f"title {HOSTILE}",
                        f"message {HOSTILE}", path=f"/app/{HOSTILE}", layer=2,
                        package=f"pkg{HOSTILE}", size=10)]))
    return replace(report, suggestions=(
        samples.SUGGESTIONS[0].__class__(f"s {HOSTILE}", f"RUN {HOSTILE}"),))


def html_of(report: Report) -> str:
    out = io.StringIO()
    formats()["html"](report, out, WriteOptions())
    return out.getvalue()


def test_golden(golden: Callable[[str, str], None], fixed_rules: None) -> None:
    golden("sample.html", html_of(with_closure(samples.sample_report())))


def test_every_name_from_the_image_is_escaped() -> None:
    text = html_of(hostile_report())
    tags = elements(text)
    assert [t for t, _ in tags].count("script") == 1  # ours, at the end
    assert not [t for t, _ in tags if t == "img"]
    assert not [a for _, a in tags for name in a if name.startswith("on")]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and "\\xff" in text
    text.encode("utf-8")  # no lone surrogate


def test_nothing_to_fetch() -> None:
    text = html_of(hostile_report())
    for _tag, attrs in elements(text):
        assert "src" not in attrs and "href" not in attrs, attrs
    assert "url(" not in text and "@import" not in text
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', text)
    assert csp is not None and "default-src 'none'" in csp.group(1)
    assert "'unsafe-inline'" not in csp.group(1).split("script-src", 1)[1].split(";")[0]


def test_treemap_tiles_its_rectangle_in_proportion() -> None:
    values = [500.0, 250.0, 125.0, 100.0, 25.0]
    rects = squarify(values, Rect(0, 0, 100, 50))
    for value, r in zip(values, rects, strict=True):
        assert r.w * r.h == pytest.approx(value / sum(values) * 5000)
        assert r.x >= 0 and r.x + r.w <= 100.0001 and r.y >= 0 and r.y + r.h <= 50.0001
    frames, blocks = treemap.layout({0: {"runtime": 10, "shell": 30}, 1: {"wasted": 60}},
                                    1000, 400)
    assert [(layer, size) for layer, size, _ in frames] == [(1, 60), (0, 40)]
    assert {(b.layer, b.kind, b.bytes) for b in blocks} == {
        (0, "runtime", 10), (0, "shell", 30), (1, "wasted", 60)}


def test_bytes_by_layer_and_kind_add_up() -> None:
    report = with_closure(samples.sample_report())
    by_layer = treemap.bytes_by_layer(report)
    files = sum(v for kinds in by_layer.values() for k, v in kinds.items() if k != "wasted")
    assert files == report.result.tree.size_bytes
    assert by_layer[2]["secret"] == len("-----BEGIN RSA PRIVATE KEY-----\n")
    # the command needs the shell: needed at run time wins over the shell finding
    assert by_layer[0]["runtime"] == 64 and "shell" not in by_layer[0]
    assert by_layer[1]["compiler"] == 104  # /usr/bin/gcc-12


def test_a_browser_renders_it_without_a_console_error(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(html_of(hostile_report()), encoding="utf-8")
    shown = render(page, tmp_path, tmp_path / "shot.png")
    assert shown.console == []
    assert 'data-ready="1"' in shown.dom  # the script ran: the CSP hash matches it
    assert "alert(1)" in shown.dom and "<script>alert" not in shown.dom
    assert (tmp_path / "shot.png").stat().st_size > 10_000


def test_the_browser_check_sees_a_console_error(tmp_path: Path) -> None:
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><p>x</p><script>undefinedFunction()</script>",
                    encoding="utf-8")
    assert any("Uncaught" in line for line in render(page, tmp_path).console)

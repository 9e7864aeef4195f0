"""Markdown for a pull-request comment or a job summary: verdict, score, table, suggestions."""

from __future__ import annotations

import html
import io
import re
from collections.abc import Callable
from dataclasses import replace

import pytest

from auditor.model.image import Skipped
from auditor.model.result import Report
from auditor.model.suggestion import Suggestion
from auditor.reports import WriteOptions, formats, mdtext
from auditor.reports import markdown as markdown_report
from tests.reports import gfm, samples


def markdown_of(report: Report) -> str:
    out = io.StringIO()
    markdown_report.write(report, out, WriteOptions())
    text = out.getvalue()
    text.encode("utf-8")  # a comment body must be valid UTF-8
    assert len(text) <= markdown_report.MAX_CHARS
    return text


def table_rows(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("| ") and "---" not in line
            and not line.startswith("| Severity")]


def test_registered_as_a_format() -> None:
    assert formats()["markdown"] is markdown_report.write


@pytest.mark.parametrize("name,report", [
    ("sample.md", samples.sample_report),
    ("sample-no-verdict.md", samples.bare_report),
], ids=["with-verdict", "bare-audit"])
def test_golden(golden: Callable[[str, str], None], name: str,
                report: Callable[[], Report]) -> None:
    golden(name, markdown_of(report()))


def test_verdict_score_and_reasons_come_first() -> None:
    text = markdown_of(samples.sample_report())
    head = text.split("#### Findings")[0]
    assert "❌ failed" in head and "Score 38/100 (grade F)" in head
    assert "category secret is set to fail" in head
    passed = samples.sample_report()
    passed = replace(passed, verdict=replace(samples.sample_verdict([]), passed=True, reasons=[]))
    assert "✅ passed" in markdown_of(passed)


def test_without_a_verdict_there_is_no_score() -> None:
    text = markdown_of(samples.sample_report(verdict=False))
    assert "Score" not in text and "failed" not in text and "passed" not in text


def test_rows_most_severe_first_and_each_cell_stays_in_its_column() -> None:
    text = markdown_of(samples.sample_report())
    rows = table_rows(text)
    assert len(rows) == len(samples.FINDINGS)
    assert rows[0].startswith("| **critical** | secret |")
    for row in rows:
        # 7 columns: 8 unescaped pipes, whatever the path or message holds
        assert len(re.findall(r"(?<!\\)\|", row)) == 8, row
    odd = next(r for r in rows if "AUD-BUILD-FILE" in r)
    assert "``/app/odd\\xffname `x` <b>\\|y\\|</b>``" in odd  # a code span, pipes escaped
    assert gfm.live(text) == []


def test_suggestions_suppressed_expired_and_skipped_are_shown() -> None:
    text = markdown_of(samples.sample_report())
    suggestions = text.split("#### Suggestions")[1]
    assert "1. **Build in a separate stage** (saves 250.0 MB, layer 1, Dockerfile line 4)" \
        in suggestions
    assert "COPY --from=build /app /app" in suggestions
    assert "1 finding(s) suppressed" in text
    assert "Expired waiver: rule AUD-SHELL (expired 2020-01-01)" in text
    assert "1 item(s) could not be read" in text and "layer 2: app/huge.bin" in text


def test_no_findings() -> None:
    text = markdown_of(samples.sample_report(findings=[], verdict=False))
    assert "No findings." in text and "| Severity" not in text


def test_a_long_table_is_cut_under_githubs_comment_limit() -> None:
    findings = samples.many_findings(3000)
    text = markdown_of(samples.sample_report(findings=findings, verdict=False))
    rows = table_rows(text)
    assert 100 < len(rows) < 3000
    assert f"… and {3000 - len(rows)} more findings" in text
    assert text.rstrip().endswith("</sub>")  # the tail is still there
    assert rows[0].startswith("| **critical**") and "| info |" not in "".join(rows)
    smaller = markdown_report.render(samples.sample_report(findings=findings, verdict=False),
                                     max_chars=5_000)
    assert len(smaller) <= 5_000 and "more findings" in smaller


@pytest.mark.parametrize("text,expected", [
    ("Use a USER.\n\nUSER 65532:65532\n\nThen rebuild.",
     "Use a USER.\n\n```dockerfile\nUSER 65532:65532\n```\n\nThen rebuild."),
    ("Append:\nFROM scratch\nENV A=1 \\\n    B=2\n`auditor fix` writes it.",
     "Append:\n\n```dockerfile\nFROM scratch\nENV A=1 \\\n    B=2\n```\n\n"
     "`auditor fix` writes it."),
    ("Run `a <b>` then <c>.", "Run `a <b>` then \\<c\\>."),
    ("USER is not set.", "USER is not set."),  # a sentence, not an instruction
], ids=["instruction-between-paragraphs", "stage-with-continuation", "html-outside-code",
        "keyword-as-a-word"])
def test_suggestion_text_becomes_markdown(text: str, expected: str) -> None:
    assert markdown_report.suggestion_markdown(text) == expected


# Markdown, HTML and GitHub's own text features, each as an image could hold it.
MD_PAYLOADS = [
    "[x](https://evil.example/a)", "![](https://evil.example/i.png)", "[a]: https://evil.example",
    "<img src=x onerror=alert(1)>", "<script>alert(1)</script>", "<details><summary>PWN",
    "<sub>PWN</sub>", "</sub>PWN<sub>", "</summary></details>PWN<details><summary>PWN",
    "@octocat", "hi @octocat!", "@org/team", "www.evil.example", "http://evil.example/x",
    "<https://evil.example>", "mail@evil.example", "`x` ``y`` ```z", "`", "a|b\\|c\\\\|d",
    "#1 GH-2 :octocat: $x$ $$y$$", "line\nbreak\n# h\n- l\n\n    code", "*em* _em_ ~~s~~ **b**",
    "1. list", "> quote", "- item", "=== ", "   ", "&lt;b&gt; &#124; &amp;", "\\", "` a `",
    "ends with \\", "\x1b]8;;https://evil.example\x1b\\x\x1b]8;;\x1b\\", "bad\udcffbyte",
]


def _plain(html_text: str) -> str:
    cell = re.search(r"<td>(.*)</td>", html_text, re.S)
    html_text = cell.group(1) if cell else html_text
    return html.unescape(re.sub(r"<[^>]+>", "", html_text)).replace(mdtext.ZWJ, "").strip()


@pytest.mark.parametrize("payload", MD_PAYLOADS)
def test_image_text_as_prose_or_code_renders_as_itself(payload: str) -> None:
    shown = mdtext.one_line(payload, 500)
    for markdown in (mdtext.text(payload), mdtext.code(payload),
                     "| a |\n|---|\n| " + mdtext.text(payload) + " |\n",
                     "| a |\n|---|\n| " + mdtext.code(payload, table=True) + " |\n",
                     "- " + mdtext.text(payload)):
        assert gfm.live(markdown) == [], markdown
        assert _plain(gfm.render(markdown)) == shown.strip(), markdown


@pytest.mark.parametrize("payload", MD_PAYLOADS)
def test_image_text_in_every_field_is_inert(payload: str) -> None:
    f = samples.finding("AUD-SETUID", "setuid", "high", payload, payload, path=payload,
                        package=f"{payload}@{payload}", layer=0, size=1,
                        evidence={"subject": payload})
    report = samples.sample_report(reference=payload, findings=[f])
    verdict = replace(samples.sample_verdict([f]), policy=payload, reasons=[payload],
                      suppressed=[(replace(f, path=payload + "x"), payload)])
    report = replace(report, verdict=verdict, suggestions=(
        Suggestion(payload, f"{payload}\nRUN {payload}\n`{payload}` {payload}"),),
        result=replace(report.result, skipped=(Skipped(payload, payload),)))
    text = markdown_of(report)
    assert gfm.live(text) == [], text
    assert len(table_rows(text)) == 1
    assert len(re.findall(r"(?<!\\)\|", table_rows(text)[0])) == 8


def test_a_head_and_tail_over_the_limit_are_cut_at_a_line() -> None:
    text = markdown_report.render(samples.sample_report(), max_chars=900)
    assert len(text) <= 900 and text.endswith("(`--format json` has all).\n")
    assert gfm.live(text) == []


@pytest.mark.parametrize("lines,path", [(40, "/usr/lib/x"), (3, "/usr/lib/" + "x" * 3000)],
                         ids=["many-lines", "long-lines"])
def test_a_long_stage_fix_is_left_to_auditor_fix(lines: int, path: str) -> None:
    run = ["RUN tar -C / -cf - \\", *[f"      {path}{i} \\" for i in range(lines)], "    | tar x"]
    stage = Suggestion("Use a multi-stage build", "Append the final stage:\n\n" + "\n".join(run)
                       + "\n\nThen rebuild.", rule_ids=("AUD-COMPILER",))
    text = markdown_of(replace(samples.sample_report(), suggestions=(stage,)))
    part = text.split("#### Suggestions")[1]
    assert "x1 \\" not in part and "Append the final stage" in part and gfm.live(text) == []
    assert part.count("```") % 2 == 0  # no fence left open
    if lines > markdown_report.MAX_CODE_LINES:
        assert f"({lines + 2} Dockerfile lines; `auditor fix IMAGE --dockerfile Dockerfile` " \
            "writes them.)" in part and "Then rebuild." in part
    else:
        assert "`--format json` has the whole suggestion" in part

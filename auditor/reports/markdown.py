"""``--format markdown``: a pull-request comment or a ``$GITHUB_STEP_SUMMARY``.

The verdict and score first, then one table of findings, most severe first, then the
stage-fix suggestions. GitHub refuses a comment over 65,536 characters, so the table is
cut to fit and says how many rows it left out.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import TextIO

from auditor import __version__
from auditor.model.findings import SEVERITIES, SEVERITY_RANK, Finding
from auditor.model.result import Report
from auditor.model.suggestion import Suggestion
from auditor.model.text import inert
from auditor.reports import WriteOptions, human_bytes, mdtext, view
from auditor.reports.view import suggestion_facts

MAX_CHARS = 65_536  # GitHub's limit on an issue or pull-request comment body
MAX_REASONS = 20
MAX_SUGGESTIONS = 5
MAX_SUGGESTION_CHARS = 4_000  # of one suggestion's Markdown
MAX_CODE_LINES = 12  # a longer Dockerfile block is left to `auditor fix`
MAX_PATH_CHARS = 120
MAX_TEXT_CHARS = 300  # one reason, one skipped item, one suppressed finding's why
MAX_SKIPPED = 10

SEVERITY_LABEL = {"critical": "**critical**", "high": "**high**", "medium": "medium",
                  "low": "low", "info": "info"}
HEADER = ("| Severity | Category | Finding | Path | Package | Layer | Bytes |\n"
          "|---|---|---|---|---|---:|---:|\n")


def _prose(line: str) -> str:
    """A prose line of a suggestion: its `code spans` stay code spans, the rest prose;
    both inert, whatever the image put in them (an odd backtick is prose)."""
    parts = inert(line).split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick: the last part is prose
        parts[-2:] = ["`".join(parts[-2:])]
    out = []
    for i, part in enumerate(parts):
        part = re.sub(r"\s+", " ", part)
        out.append((mdtext.code(part, len(part) + 1) or "` `") if i % 2
                   else mdtext.escape(part))
    return "".join(out).strip()


def suggestion_markdown(text: str, max_code_lines: int | None = None) -> str:
    """A suggestion's plain text as Markdown: its Dockerfile lines fenced as code, its
    prose escaped, nothing in either live. A block of more than ``max_code_lines``
    Dockerfile lines is left to ``auditor fix``, which writes it."""
    out: list[str] = []
    for kind, lines in view.suggestion_blocks(text):
        if kind == view.DOCKERFILE and max_code_lines is not None \
                and len(lines) > max_code_lines:
            out += ["", f"*({len(lines)} Dockerfile lines; `auditor fix IMAGE --dockerfile "
                    "Dockerfile` writes them.)*", ""]
        elif kind == view.DOCKERFILE:
            body = [inert(line.expandtabs(4)) for line in lines]
            fence = mdtext.fence_for(body)
            out += ["", f"{fence}dockerfile", *body, fence, ""]
        else:
            out += [_prose(line) for line in lines]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip("\n")


def cell(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    """Image text as prose in one table cell: no markup, no pipe, no line break."""
    return mdtext.text(text, limit)


def code(text: str, limit: int = MAX_PATH_CHARS) -> str:
    """Image text as a code span in a table cell."""
    return mdtext.code(text, limit, table=True)


def _findings(report: Report) -> list[Finding]:
    verdict = report.verdict
    found = verdict.findings if verdict is not None else report.result.findings
    return sorted(found, key=lambda f: (-SEVERITY_RANK[f.severity], -f.bytes, f.rule_id,
                                        f.path or ""))


def _row(f: Finding) -> str:
    where = code(f.path or "") + (f" (+{len(f.paths) - 1} more)" if len(f.paths) > 1 else "")
    if not f.path and f.evidence.subject:
        where = code(f.evidence.subject)
    if (how := f.evidence.recognised_by) and how.startswith("content:"):
        where += f"<br><sub>recognised by content: {cell(how[8:])}</sub>"
    return "| " + " | ".join([
        SEVERITY_LABEL.get(f.severity, f.severity), cell(f.category),
        f"{cell(f.title)}<br><sub>{cell(f.rule_id)}</sub>", where,
        code(f.package_label or ""), "" if f.layer is None else str(f.layer),
        human_bytes(f.bytes) if f.bytes else "",
    ]) + " |\n"


def _headline(report: Report, findings: Sequence[Finding]) -> str:
    image = report.result.image
    tree = report.result.tree
    counts = Counter(f.severity for f in findings)
    summary = ", ".join(f"{counts[s]} {s}" for s in SEVERITIES if counts[s]) or "none"
    verdict = report.verdict
    if verdict is None:
        title = f"### auditor: {mdtext.code(image.reference)}\n\n"
        score = ""
    else:
        word = "✅ passed" if verdict.passed else "❌ failed"
        title = f"### auditor: {mdtext.code(image.reference)}: {word}\n\n"
        policy = f" under policy {mdtext.code(verdict.policy)}" if verdict.policy else ""
        score = f"**Score {verdict.score}/100 (grade {verdict.grade})**{policy}. "
    return (f"{title}{score}Image {human_bytes(tree.size_bytes)} in {len(image.layers)} "
            f"layers, {human_bytes(tree.wasted_bytes)} wasted. "
            f"Findings: {len(findings)} ({summary}).\n")


def _reasons(report: Report) -> str:
    verdict = report.verdict
    if verdict is None or not verdict.reasons:
        return ""
    lines = [f"- {cell(r)}" for r in verdict.reasons[:MAX_REASONS]]
    if len(verdict.reasons) > MAX_REASONS:
        lines.append(f"- … and {len(verdict.reasons) - MAX_REASONS} more")
    return "\n**Why it failed**\n\n" + "\n".join(lines) + "\n"


def _suppressed(report: Report) -> str:
    verdict = report.verdict
    if verdict is None:
        return ""
    hidden = view.suppressed(report)
    lines = []
    if hidden:
        items = [f"- {cell(f.rule_id)} {mdtext.code(f.path or f.package_label or '')}: "
                 f"{cell(why)}"
                 for f, why in hidden[:MAX_SKIPPED]]
        if len(hidden) > MAX_SKIPPED:
            items.append(f"- … and {len(hidden) - MAX_SKIPPED} more")
        lines.append(f"<details><summary>{len(hidden)} finding(s) suppressed by the policy's "
                     "allow-lists, waivers or --ignore</summary>\n\n" + "\n".join(items)
                     + "\n\n</details>")
    for waiver in verdict.expired_waivers:
        lines.append(f"Expired waiver: {cell(waiver.subject)} (expired "
                     f"{waiver.expires.isoformat()}).")
    if report.hidden_by_severity:
        lines.append(f"{report.hidden_by_severity} finding(s) not shown (--severity "
                     f"{cell(','.join(report.shown_severities or ()))}); the verdict counts "
                     "them.")
    return "".join(f"\n{line}\n" for line in lines)


def _suggestion(s: Suggestion, number: int) -> str:
    facts = suggestion_facts(s)
    tail = f" ({', '.join(facts)})" if facts else ""
    markdown = suggestion_markdown(s.text, MAX_CODE_LINES)
    if len(markdown) > MAX_SUGGESTION_CHARS:
        # at a paragraph: a blank line is never inside a code block, so no fence is cut
        cut = markdown.rfind("\n\n", 0, MAX_SUGGESTION_CHARS)
        markdown = (markdown[:cut] + "\n\n… " if cut > 0 else "(") + \
            "`--format json` has the whole suggestion" + ("" if cut > 0 else ")")
    body = "\n".join("   " + line if line else "" for line in markdown.splitlines())
    return f"{number}. **{cell(s.title)}**{tail}\n\n{body}\n"


def _suggestions(report: Report) -> str:
    items = list(report.suggestions)[:MAX_SUGGESTIONS]
    if not items:
        return ""
    more = len(report.suggestions) - len(items)
    tail = f"\n… and {more} more (`--format json` lists all).\n" if more > 0 else ""
    return ("\n#### Suggestions\n\n"
            + "\n".join(_suggestion(s, i) for i, s in enumerate(items, 1)) + tail)


def _skipped(report: Report) -> str:
    skipped = report.result.skipped
    if not skipped:
        return ""
    lines = [f"- {mdtext.code(s.where, MAX_PATH_CHARS)}: {cell(s.reason)}"
             for s in skipped[:MAX_SKIPPED]]
    if len(skipped) > MAX_SKIPPED:
        lines.append(f"- … and {len(skipped) - MAX_SKIPPED} more")
    return (f"\n<details><summary>{len(skipped)} item(s) could not be read; the scan went "
            "on without them</summary>\n\n" + "\n".join(lines) + "\n\n</details>\n")


def render(report: Report, max_chars: int = MAX_CHARS) -> str:
    findings = _findings(report)
    head = _headline(report, findings) + _reasons(report)
    tail = (_suppressed(report) + _suggestions(report) + _skipped(report)
            + f"\n<sub>auditor {__version__}</sub>\n")
    if not findings:
        return _fit(head + "\nNo findings.\n" + tail, max_chars)
    table_head = f"\n#### Findings\n\n{HEADER}"
    rows = [_row(f) for f in findings]
    budget = max_chars - len(head) - len(table_head) - len(tail) - 200  # 200: the cut note
    kept: list[str] = []
    for row in rows:
        if len(row) > budget:
            break
        kept.append(row)
        budget -= len(row)
    note = ""
    if len(kept) < len(rows):
        note = (f"\n… and {len(rows) - len(kept)} more findings, left out to stay under "
                "GitHub's comment size limit (`--format json` lists all).\n")
    return _fit(head + table_head + "".join(kept) + note + tail, max_chars)


def _fit(text: str, max_chars: int) -> str:
    """The comment cut at a line to ``max_chars``, when what the image put in the head
    and tail (every part of it already capped) still adds up past GitHub's limit. A
    code block cut open stays code to the end: nothing after it becomes live."""
    if len(text) <= max_chars:
        return text
    note = "\n\n… cut to stay under GitHub's comment size limit (`--format json` has all).\n"
    cut = text.rfind("\n", 0, max_chars - len(note))
    return text[: max(cut, 0)] + note


def write(report: Report, stream: TextIO, options: WriteOptions) -> None:
    stream.write(render(report))

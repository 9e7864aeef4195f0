"""``--format markdown``: a pull-request comment or a ``$GITHUB_STEP_SUMMARY``.

The verdict and score first, then one table of findings, most severe first, then the
stage-fix suggestions. GitHub refuses a comment over 65,536 characters, so the table is
cut to fit and says how many rows it left out.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Sequence
from typing import TextIO

from auditor import __version__
from auditor.model.findings import SEVERITIES, SEVERITY_RANK, Finding
from auditor.model.text import printable
from auditor.reports import Report, Suggestion, WriteOptions, human_bytes, shorten, view
from auditor.reports.view import suggestion_facts

MAX_CHARS = 65_536  # GitHub's limit on an issue or pull-request comment body
MAX_REASONS = 20
MAX_SUGGESTIONS = 5
MAX_SUGGESTION_CHARS = 2_000
MAX_PATH_CHARS = 120
MAX_SKIPPED = 10

SEVERITY_LABEL = {"critical": "**critical**", "high": "**high**", "medium": "medium",
                  "low": "low", "info": "info"}
HEADER = ("| Severity | Category | Finding | Path | Package | Layer | Bytes |\n"
          "|---|---|---|---|---|---:|---:|\n")


# A line of a suggestion that is Dockerfile text: an instruction, or our own comment in it.
_DOCKERFILE_LINE = re.compile(
    r"^(# auditor:|(FROM|RUN|COPY|ADD|ENV|ARG|USER|CMD|ENTRYPOINT|WORKDIR|EXPOSE|LABEL|"
    r"VOLUME|HEALTHCHECK|SHELL|STOPSIGNAL|ONBUILD)\s)")


def _prose(line: str) -> str:
    # GitHub drops what looks like an HTML tag (`<command>`); code spans keep theirs
    parts = line.split("`")
    return "`".join(p if i % 2 else html.escape(p, quote=False) for i, p in enumerate(parts))


def suggestion_markdown(text: str) -> str:
    """A suggestion's plain text as Markdown: its Dockerfile lines fenced as code."""
    out: list[str] = []
    in_code = False
    for line in printable(text).strip().splitlines():
        continued = in_code and out[-1].endswith("\\") and line[:1].isspace()
        # a sentence that starts with a keyword ("USER is not set.") ends like one
        code = continued or (bool(_DOCKERFILE_LINE.match(line))
                             and not line.rstrip().endswith((".", ":")))
        if code and not in_code:
            if out and out[-1]:
                out.append("")
            out.append("```dockerfile")
        elif not code and in_code:
            out.append("```")
            if line:
                out.append("")
        in_code = code
        out.append(line if code else _prose(line))
    if in_code:
        out.append("```")
    return "\n".join(out)


def cell(text: str) -> str:
    """Plain text made safe for one table cell: no markup, no pipe, no line break."""
    return html.escape(" ".join(printable(text).split()), quote=False).replace("|", "&#124;")


def code(text: str) -> str:
    return f"<code>{cell(text)}</code>" if text else ""


def _findings(report: Report) -> list[Finding]:
    verdict = report.verdict
    found = verdict.findings if verdict is not None else report.result.findings
    return sorted(found, key=lambda f: (-SEVERITY_RANK[f.severity], -f.bytes, f.rule_id,
                                        f.path or ""))


def _row(f: Finding) -> str:
    path = shorten(f.path or "", MAX_PATH_CHARS)
    where = code(path) + (f" (+{len(f.paths) - 1} more)" if len(f.paths) > 1 else "")
    if not f.path and f.evidence.subject:
        where = cell(f.evidence.subject)
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
        title = f"### auditor: {code(image.reference)}\n\n"
        score = ""
    else:
        word = "✅ passed" if verdict.passed else "❌ failed"
        title = f"### auditor: {code(image.reference)}: {word}\n\n"
        policy = f" under policy {code(verdict.policy)}" if verdict.policy else ""
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
        items = [f"- {cell(f.rule_id)} {code(f.path or f.package_label or '')}: {cell(why)}"
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
    text = s.text.strip()
    if len(text) > MAX_SUGGESTION_CHARS:
        text = text[:MAX_SUGGESTION_CHARS] + " …"
    body = "\n".join("   " + line if line else ""
                     for line in suggestion_markdown(text).splitlines())
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
    lines = [f"- {cell(s.where)}: {cell(s.reason)}" for s in skipped[:MAX_SKIPPED]]
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
        return head + "\nNo findings.\n" + tail
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
    return head + table_head + "".join(kept) + note + tail


def write(report: Report, stream: TextIO, options: WriteOptions) -> None:
    stream.write(render(report))

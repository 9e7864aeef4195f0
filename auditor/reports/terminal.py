"""The report people read in a terminal: header, findings by category, layers, verdict.

As wide as the terminal (``COLUMNS``, else 100 columns, when the output is not one);
colour only on a terminal and never with NO_COLOR (rich honours it). Every string from the
image goes through :func:`~auditor.model.text.inert` and into a ``rich.text.Text``, never
into markup. A suggestion's prose wraps at word boundaries; its Dockerfile lines stay
whole for copying, and a long block of them is left to ``auditor fix``, which writes it.
"""

from __future__ import annotations

import os
from collections import defaultdict
from typing import TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from auditor.history import created_by_text
from auditor.model.findings import CATEGORIES, SEVERITY_RANK, Finding
from auditor.model.result import Report
from auditor.model.text import inert
from auditor.reports import WriteOptions, human_bytes, shorten, view
from auditor.reports.json import image_json

SEVERITY_STYLE = {"critical": "bold white on red", "high": "bold red", "medium": "yellow",
                  "low": "cyan", "info": "dim"}
MAX_PER_CATEGORY = 8
MAX_SUGGESTIONS = 3
MAX_DOCKERFILE_LINES = 6  # more than this, and the scan report points at `auditor fix`
DEFAULT_WIDTH = 100  # when the output is not a terminal and COLUMNS says nothing
MIN_WIDTH = 40


MAX_TEXT = 500  # characters of one string from the image; the JSON report has it whole


def _shown(text: str, limit: int = MAX_TEXT) -> str:
    """Image text for the screen: :func:`inert`, and cut at ``limit`` with a marker."""
    text = inert(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def width_for(stream: TextIO, options: WriteOptions) -> int | None:
    """The columns to lay out in: the option's; None on a terminal (rich asks it); else
    ``COLUMNS`` when it is a sensible number, else :data:`DEFAULT_WIDTH`."""
    if options.width:
        return max(options.width, MIN_WIDTH)
    isatty = getattr(stream, "isatty", None)
    if isatty is not None and isatty():
        return None
    columns = os.environ.get("COLUMNS", "").strip()
    if columns.isascii() and columns.isdigit() and MIN_WIDTH <= int(columns) <= 1000:
        return int(columns)
    return DEFAULT_WIDTH


def _console(stream: TextIO, options: WriteOptions) -> Console:
    return Console(file=stream, width=width_for(stream, options), no_color=not options.color,
                   force_terminal=options.color, highlight=False, soft_wrap=False,
                   emoji=False)


def _summary(findings: list[Finding]) -> str:
    """The counts by severity, info included: it agrees with the "Findings (N)" above it."""
    counts: dict[str, int] = defaultdict(int)
    for f in findings:
        counts[f.severity] += 1
    return ", ".join(f"{counts[s]} {s}" for s in ("critical", "high", "medium", "low", "info")
                     if counts[s]) or "no findings"


def verdict_line(report: Report) -> Text:
    verdict = report.verdict
    summary = _summary(list(verdict.findings if verdict is not None
                            else report.result.findings))
    if verdict is None:
        return Text(f"{_shown(report.result.image.reference)}: {summary}")
    word, style = ("PASSED", "bold green") if verdict.passed else ("FAILED", "bold red")
    line = Text()
    line.append(word, style=style)
    line.append(f" {_shown(report.result.image.reference)}: score {verdict.score}/100 "
                f"(grade {verdict.grade}), {summary}")
    if report.policy_name:
        line.append(f", policy {_shown(report.policy_name)}")
    return line


def _header(console: Console, report: Report) -> None:
    img = image_json(report)
    config = report.result.image.config
    console.print(Text(f"auditor: {_shown(img['reference'])}", style="bold"))
    rows = [
        ("id", img["id"][:19]),
        ("size", f"{human_bytes(img['size_bytes'])} in {len(img['layers'])} layers, "
                 f"{human_bytes(img['wasted_bytes'])} wasted"
                 # dive also counts the surviving copy of a path written twice
                 + (f" (dive counts {human_bytes(img['dive_wasted_bytes'])})"
                    if img["dive_wasted_bytes"] != img["wasted_bytes"] else "")),
        ("user", _shown(config.user) if config.user else "(none: runs as root)"),
        ("entrypoint", _shown(" ".join(config.entrypoint)) if config.entrypoint else "-"),
        ("cmd", _shown(" ".join(config.cmd)) if config.cmd else "-"),
    ]
    table = Table.grid(padding=(0, 1))
    table.add_column(style="dim", no_wrap=True)
    table.add_column(overflow="fold")
    for key, value in rows:
        table.add_row(key, Text(value))  # Text: never rich markup
    console.print(table)


def _finding_row(f: Finding) -> Table:
    grid = Table.grid(padding=(0, 1), expand=True)
    grid.add_column(width=8, no_wrap=True)
    grid.add_column(ratio=1, overflow="fold")
    grid.add_column(width=9, justify="right", no_wrap=True)
    where = f.path or f.package_label or ""
    extra = f" (+{len(f.paths) - 1} more)" if len(f.paths) > 1 else ""
    text = Text(_shown(f.title), style="bold")
    text.append(f"  {_shown(where)}{extra}")
    if f.package and f.path:
        text.append(f"  [{_shown(f.package_label or '')}]", style="dim")
    if f.layer is not None:
        text.append(f"  layer {f.layer}", style="dim")
    if (how := f.evidence.recognised_by) and how.startswith("content:"):
        text.append(f"  recognised by content: {inert(how[8:])}", style="dim")
    for o in f.overlaps[:2]:
        text.append(f"  {human_bytes(o.bytes)} of it counted under {o.rule_id} "
                    f"{inert(o.path or '')}".rstrip(), style="dim")
    grid.add_row(Text(f.severity.upper(), style=SEVERITY_STYLE.get(f.severity, "")), text,
                 human_bytes(f.bytes) if f.bytes else "")
    return grid


def _findings(console: Console, findings: list[Finding]) -> None:
    by_cat: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        by_cat[f.category].append(f)
    console.rule(f"Findings ({len(findings)})", align="left")
    if not findings:
        console.print("nothing found")
    for cat in CATEGORIES:
        items = sorted(by_cat.get(cat, []), key=lambda f: (-SEVERITY_RANK[f.severity], -f.bytes))
        if not items:
            continue
        total = sum(f.own_bytes for f in items)  # each byte once: overlaps left out
        shared = sum(f.bytes for f in items) - total
        also = f"; {human_bytes(shared)} more counted under other findings" if shared else ""
        console.print(Text(f"{cat} ({len(items)}, {human_bytes(total)}{also})", style="bold"))
        for f in items[:MAX_PER_CATEGORY]:
            console.print(_finding_row(f))
        if len(items) > MAX_PER_CATEGORY:
            console.print(Text(f"         … and {len(items) - MAX_PER_CATEGORY} more "
                               "(--format json lists all)", style="dim"))


MAX_SUPPRESSED = 5


def _suppressed(console: Console, report: Report) -> None:
    """What the gate kept from counting, and why: short, so that nothing vanishes."""
    from auditor.reports.view import suppressed

    hidden = suppressed(report)
    if hidden:
        console.rule(f"Suppressed ({len(hidden)})", align="left")
    for f, why in hidden[:MAX_SUPPRESSED]:
        where = f.path or f.package_label or f.evidence.subject or ""
        console.print(Text(_shown(f"{f.rule_id} {where}: {why}")), soft_wrap=True)
    if len(hidden) > MAX_SUPPRESSED:
        console.print(Text(f"… and {len(hidden) - MAX_SUPPRESSED} more (--format json "
                           "lists all under 'suppressed')", style="dim"))
    if report.hidden_by_severity:
        console.print(Text(f"{report.hidden_by_severity} finding(s) not shown: --severity "
                           f"{','.join(report.shown_severities or ())}; the verdict counts "
                           "them", style="dim"))


def _suggestions(console: Console, report: Report) -> None:
    if not report.suggestions:
        return
    console.rule("Suggestions", align="left")
    for s in list(report.suggestions)[:MAX_SUGGESTIONS]:
        title = Text(f"• {_shown(s.title)}", style="bold")
        if s.saves_bytes:
            title.append(f"  saves {human_bytes(s.saves_bytes)}", style="")
        console.print(title)
        for kind, lines in view.suggestion_blocks(s.text):
            _suggestion_block(console, kind, lines)
    more = len(report.suggestions) - MAX_SUGGESTIONS
    if more > 0:
        console.print(Text(f"… and {more} more (--format json lists all)", style="dim"))


def _suggestion_block(console: Console, kind: str, lines: list[str]) -> None:
    if kind == view.PROSE:
        for line in lines:
            # wrapped at word boundaries; only a word wider than the screen is folded
            console.print(Text(_shown(line, 4_000), overflow="fold"))
    elif len(lines) > MAX_DOCKERFILE_LINES:
        console.print(Text(f"  ({len(lines)} Dockerfile lines; `auditor fix IMAGE "
                           "--dockerfile Dockerfile` writes them)", style="dim"))
    else:
        for line in lines:
            # soft wrap: a Dockerfile line must stay one line when copied
            console.print(Text(_shown(line.expandtabs(4), 1_000), style="cyan"), soft_wrap=True)


def _layers(console: Console, report: Report) -> None:
    table = Table(title=None, box=None, padding=(0, 1), show_edge=False, expand=True)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("size", justify="right", no_wrap=True)
    table.add_column("wasted", justify="right", no_wrap=True)
    table.add_column("created by", ratio=1, no_wrap=True, overflow="ellipsis")
    for layer in image_json(report)["layers"]:
        table.add_row(str(layer["index"]), human_bytes(layer["size_bytes"]),
                      human_bytes(layer["wasted_bytes"]) if layer["wasted_bytes"] else "",
                      Text(_shown(shorten(created_by_text(layer["created_by"]), 200))))
    console.rule("Layers", align="left")
    console.print(table)


def write(report: Report, stream: TextIO, options: WriteOptions) -> None:
    console = _console(stream, options)
    if options.quiet:
        console.print(verdict_line(report), soft_wrap=True)
        return
    _header(console, report)
    verdict = report.verdict
    findings = verdict.findings if verdict is not None else report.result.findings
    _findings(console, list(findings))
    _suppressed(console, report)
    _suggestions(console, report)
    _layers(console, report)
    wrong = report.attribution.mismatch if report.attribution is not None else None
    if wrong is not None:  # a --dockerfile of another image: no line above is its
        console.print(Text(inert(f"warning: {wrong}"), style="yellow"), soft_wrap=True)
    unread = [s for s in report.result.skipped if s.reason != wrong]
    if unread:
        console.print(Text(f"{len(unread)} item(s) could not be read; "
                           "--format json lists them under 'skipped'", style="dim"))
    console.rule("Verdict", align="left")
    console.print(verdict_line(report))
    if verdict is not None:
        for reason in verdict.reasons:
            console.print(Text(f"  - {_shown(reason)}"))

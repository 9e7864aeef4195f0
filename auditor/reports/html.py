"""``--format html``: one self-contained page to look at rather than read.

The verdict, the image's bytes as a treemap by layer and by what they are (needed at run
time, a finding's category, other package files, waste), what the runtime closure needs
against what the image carries, the findings, what the policy suppressed and why, the
suggestions and what could not be read.

One file with nothing to fetch: CSS, script and SVG are inline, and the page's Content
Security Policy forbids every request and every script but its own (by hash), so a name
from the image that slipped through escaping could still not run. Every string from the
image (paths, packages, instructions, messages) is HTML-escaped: images are hostile.
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections import Counter
from collections.abc import Iterable
from typing import TextIO

from auditor import __version__
from auditor.history import created_by_text
from auditor.model.findings import SEVERITIES, Finding
from auditor.model.result import Report
from auditor.model.text import human_bytes, inert, shorten
from auditor.reports import WriteOptions, treemap, view

MAX_ROWS = 5_000  # findings in the table; the JSON report lists all
MAX_SUPPRESSED = 1_000
MAX_CLOSURE_FILES = 500
MAX_SKIPPED = 200
WIDTH, HEIGHT = 1000.0, 420.0

COLOURS = {
    "runtime": "#2e7d32", "secret": "#b71c1c", "shell": "#e65100",
    "package-manager": "#ef6c00", "compiler": "#f9a825", "network-tool": "#ad1457",
    "setuid": "#6a1b9a", "leftover-source": "#8d6e63", "cache": "#0277bd",
    "wasted-space": "#546e7a", "config": "#78909c", "root-user": "#c62828",
    "package": "#90a4ae", "wasted": "#cfd8dc", "other": "#b0bec5",
}

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;
color:#1c2430;background:#f6f8fa}
main{max-width:1040px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.card{background:#fff;border:1px solid #d8dee4;border-radius:8px;padding:16px;margin:12px 0}
.verdict{display:inline-block;padding:2px 10px;border-radius:12px;font-weight:600;color:#fff}
.passed{background:#2e7d32}.failed{background:#c62828}.none{background:#607d8b}
.muted{color:#57606a}code,pre{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace}
pre{white-space:pre-wrap;word-break:break-word;background:#f6f8fa;padding:8px;
border-radius:6px;margin:6px 0}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border-bottom:1px solid #e5e9ee;padding:4px 6px;text-align:left;vertical-align:top}
td.num,th.num{text-align:right;white-space:nowrap}td{word-break:break-word}
.sev{font-weight:600;text-transform:uppercase;font-size:11px}
.s-critical{color:#b71c1c}.s-high{color:#d84315}.s-medium{color:#ef6c00}
.s-low{color:#1565c0}.s-info{color:#546e7a}
.legend span{display:inline-block;margin:2px 10px 2px 0;font-size:12px}
.legend i{display:inline-block;width:11px;height:11px;margin-right:4px;border-radius:2px;
vertical-align:-1px}
svg text{font:11px system-ui,sans-serif;pointer-events:none}
svg .frame{fill:#fff;stroke:#8c959f}svg .block{stroke:#fff;stroke-width:1}
svg .block:hover{stroke:#1c2430;stroke-width:2}
.bar{height:18px;background:#e5e9ee;border-radius:9px;overflow:hidden}
.bar div{height:100%;background:#2e7d32}
.filters label{margin-right:12px;font-size:13px}
"""

# Filters the findings table by severity and counts what is shown.
SCRIPT = """
(function () {
  var boxes = document.querySelectorAll('input[data-severity]');
  var rows = document.querySelectorAll('#findings tbody tr');
  var count = document.getElementById('shown-count');
  function apply() {
    var on = {};
    boxes.forEach(function (b) { on[b.getAttribute('data-severity')] = b.checked; });
    var shown = 0;
    rows.forEach(function (r) {
      var visible = on[r.getAttribute('data-severity')] !== false;
      r.hidden = !visible;
      if (visible) { shown += 1; }
    });
    if (count) { count.textContent = String(shown); }
  }
  boxes.forEach(function (b) { b.addEventListener('change', apply); });
  apply();
  document.documentElement.setAttribute('data-ready', '1');  // for the browser test
})();
"""


def e(text: object) -> str:
    """Any value as HTML text or attribute content: escaped, and through :func:`inert`
    (control characters and non-UTF-8 bytes shown as escapes)."""
    return html.escape(inert(str(text)), quote=True)


def e_lines(text: str) -> str:
    """A text of several lines (a suggestion) for a ``<pre>``: each line as :func:`e`."""
    return "\n".join(e(line) for line in text.split("\n"))


def _kind_label(kind: str) -> str:
    return treemap.KIND_LABEL.get(kind, kind)


def _header(report: Report) -> str:
    facts = view.image(report)
    gate = view.gate(report)
    if gate is None:
        verdict = '<span class="verdict none">no policy</span>'
        score = ""
    else:
        word = "passed" if gate.passed else "failed"
        verdict = f'<span class="verdict {word}">{word}</span>'
        score = (f" Score <b>{gate.score}</b>/100, grade <b>{e(gate.grade)}</b>, policy "
                 f"<code>{e(gate.policy)}</code>.")
    reasons = "".join(f"<li>{e(r)}</li>" for r in gate.reasons) if gate else ""
    return (f'<h1>auditor: <code>{e(facts.reference)}</code> {verdict}</h1>'
            f'<p class="muted">{score} {human_bytes(facts.size_bytes)} in '
            f'{len(facts.layers)} layers, {human_bytes(facts.wasted_bytes)} wasted. '
            f'Image <code>{e(shorten(facts.id, 80))}</code> {e(facts.os)}/'
            f'{e(facts.architecture)}.</p>'
            + (f"<ul>{reasons}</ul>" if reasons and gate and not gate.passed else ""))


def _svg(report: Report) -> str:
    by_layer = treemap.bytes_by_layer(report)
    frames, blocks = treemap.layout(by_layer, WIDTH, HEIGHT)
    created = {layer.index: created_by_text(layer.created_by)
               for layer in view.image(report).layers}
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH:.0f} '
             f'{HEIGHT:.0f}" width="100%" role="img" aria-label="bytes by layer and kind">']
    for layer, size, r in frames:
        title = f"layer {layer}: {human_bytes(size)}: {shorten(created.get(layer, ''), 200)}"
        parts.append(f'<g><title>{e(title)}</title><rect class="frame" x="{r.x:.1f}" '
                     f'y="{r.y:.1f}" width="{r.w:.1f}" height="{r.h:.1f}"/>')
        if r.h > 40 and r.w > 60:
            label = shorten(f"layer {layer} · {human_bytes(size)}", max(4, int(r.w / 6.5)))
            parts.append(f'<text x="{r.x + 4:.1f}" y="{r.y + 13:.1f}">{e(label)}</text>')
        parts.append("</g>")
    for b in blocks:
        r = b.rect
        title = f"layer {b.layer} · {_kind_label(b.kind)} · {human_bytes(b.bytes)}"
        parts.append(f'<g><title>{e(title)}</title><rect class="block" x="{r.x:.1f}" '
                     f'y="{r.y:.1f}" width="{r.w:.1f}" height="{r.h:.1f}" '
                     f'fill="{COLOURS.get(b.kind, "#b0bec5")}"/>')
        if r.w > 70 and r.h > 16:
            label = shorten(_kind_label(b.kind), int(r.w / 6.5))
            parts.append(f'<text x="{r.x + 3:.1f}" y="{r.y + 12:.1f}" fill="#fff">'
                         f'{e(label)}</text>')
        parts.append("</g>")
    parts.append("</svg>")
    totals: Counter[str] = Counter()
    for kinds in by_layer.values():
        totals.update(kinds)
    legend = "".join(
        f'<span><i style="background:{COLOURS.get(k, "#b0bec5")}"></i>{e(_kind_label(k))} '
        f'{human_bytes(v)}</span>' for k, v in totals.most_common())
    return "".join(parts) + f'<p class="legend">{legend}</p>'


def _layers_table(report: Report) -> str:
    rows = "".join(
        f'<tr><td class="num">{layer.index}</td><td class="num">'
        f'{human_bytes(layer.size_bytes)}</td><td class="num">'
        f'{human_bytes(layer.wasted_bytes)}</td><td class="num">{layer.files}</td>'
        f'<td><code>{e(shorten(created_by_text(layer.created_by), 300))}</code></td></tr>'
        for layer in view.image(report).layers)
    return ('<details><summary>Layers</summary><table><thead><tr><th class="num">#</th>'
            '<th class="num">Bytes</th><th class="num">Wasted</th><th class="num">Files</th>'
            f'<th>Created by</th></tr></thead><tbody>{rows}</tbody></table></details>')


def _closure(report: Report) -> str:
    closure = view.closure(report)
    carries = view.image(report).size_bytes
    if closure is None:
        return '<p class="muted">The runtime closure was not computed.</p>'
    share = closure.bytes / carries if carries else 0.0
    items = [f"<li>Missing: <code>{e(m.name)}</code>, needed by <code>{e(m.needed_by)}"
             f"</code>{' (optional)' if m.optional else ''}</li>" for m in closure.missing]
    items += [f"<li>{e(note)}</li>" for note in closure.notes]
    files = "".join(f"<li><code>{e(p)}</code></li>"
                    for p in closure.files[:MAX_CLOSURE_FILES])
    more = len(closure.files) - MAX_CLOSURE_FILES
    return (f'<p>The command (<code>{e(shorten(" ".join(closure.argv), 200))}</code>, a '
            f'{e(closure.kind)} program at <code>{e(closure.entry or "?")}</code>) needs '
            f'<b>{human_bytes(closure.bytes)}</b> in {len(closure.files)} files; the image '
            f'carries <b>{human_bytes(carries)}</b>: {share:.1%} of it is needed.</p>'
            f'<div class="bar" title="{share:.1%} needed"><div style="width:'
            f'{min(100.0, share * 100):.1f}%"></div></div>'
            f'<p>Smallest base it allows: <code>{e(closure.base_candidate)}</code>. '
            f'{e(closure.reason)}</p>' + (f"<ul>{''.join(items)}</ul>" if items else "")
            + f"<details><summary>Files the closure needs</summary><ul>{files}</ul>"
            + (f"<p class='muted'>… and {more} more</p>" if more > 0 else "")
            + "</details>")


def _finding_row(report: Report, f: Finding, why: str | None = None) -> str:
    where = f.path or f.evidence.subject or "image configuration"
    extra = f" (+{len(f.paths) - 1} more)" if len(f.paths) > 1 else ""
    last = e(why) if why is not None else e(view.action(report, f) or "")
    return (f'<tr data-severity="{e(f.severity)}"><td class="sev s-{e(f.severity)}">'
            f'{e(f.severity)}</td><td>{e(f.title)}<br><code class="muted">{e(f.rule_id)}'
            f'</code></td><td><code>{e(shorten(where, 200))}</code>{extra}<br>'
            f'<span class="muted">{e(shorten(f.message, 400))}</span></td>'
            f'<td><code>{e(f.package or "")}</code></td><td class="num">'
            f'{"" if f.layer is None else f.layer}</td><td class="num">'
            f'{human_bytes(f.bytes) if f.bytes else ""}</td><td>{last}</td></tr>')


def _table(rows: Iterable[str], last: str) -> str:
    return ('<table><thead><tr><th>Severity</th><th>Finding</th><th>Where</th>'
            '<th>Package</th><th class="num">Layer</th><th class="num">Bytes</th>'
            f'<th>{last}</th></tr></thead><tbody>{"".join(rows)}</tbody></table>')


def _findings(report: Report) -> str:
    found = view.findings(report)
    if not found:
        return "<p>No findings.</p>"
    counts = Counter(f.severity for f in found)
    boxes = "".join(f'<label><input type="checkbox" data-severity="{s}" checked> {s} '
                    f'({counts[s]})</label>' for s in SEVERITIES if counts[s])
    rows = [_finding_row(report, f) for f in found[:MAX_ROWS]]
    more = (f'<p class="muted">… and {len(found) - MAX_ROWS} more (the JSON report lists '
            'all).</p>' if len(found) > MAX_ROWS else "")
    return (f'<p class="filters">{boxes} <span class="muted">showing <span id="shown-count">'
            f'{len(rows)}</span></span></p>' + _table(rows, "Gate") + more)


def _suppressed(report: Report) -> str:
    hidden = view.suppressed(report)
    if not hidden:
        return ""
    rows = [_finding_row(report, f, why) for f, why in hidden[:MAX_SUPPRESSED]]
    return (f"<h2>Suppressed by the policy ({len(hidden)})</h2><div class='card'>"
            + _table(rows, "Why") + "</div>")


def _suggestions(report: Report) -> str:
    items = []
    for s in view.suggestions(report):
        facts = view.suggestion_facts(s)
        tail = f' <span class="muted">({e(", ".join(facts))})</span>' if facts else ""
        items.append(f"<li><b>{e(s.title)}</b>{tail}<pre>{e_lines(s.text.strip())}</pre></li>")
    if not items:
        return ""
    return f"<h2>Suggestions</h2><div class='card'><ol>{''.join(items)}</ol></div>"


def _skipped(report: Report) -> str:
    skipped = view.skipped(report)
    if not skipped:
        return ""
    rows = "".join(f"<li><code>{e(s.where)}</code>: {e(s.reason)}</li>"
                   for s in skipped[:MAX_SKIPPED])
    return (f"<h2>Could not be read ({len(skipped)})</h2><div class='card'><p>The scan went "
            f"on without these.</p><ul>{rows}</ul></div>")


def _csp() -> str:
    digest = base64.b64encode(hashlib.sha256(SCRIPT.encode("utf-8")).digest()).decode()
    return (f"default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{digest}'; "
            "img-src data:; base-uri 'none'; form-action 'none'")


def render(report: Report) -> str:
    facts = view.image(report)
    body = (_header(report)
            + "<h2>Where the bytes are</h2><div class='card'>" + _svg(report)
            + _layers_table(report) + "</div>"
            + "<h2>What the command needs, against what the image carries</h2>"
            + f"<div class='card'>{_closure(report)}</div>"
            + f"<h2>Findings ({len(view.findings(report))})</h2><div class='card' "
            + f"id='findings'>{_findings(report)}</div>"
            + _suppressed(report) + _suggestions(report) + _skipped(report)
            + f"<p class='muted'>auditor {e(__version__)}</p>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{_csp()}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>auditor: {e(facts.reference)}</title><style>{STYLE}</style></head>"
            f"<body><main>{body}</main><script>{SCRIPT}</script></body></html>\n")


def write(report: Report, stream: TextIO, options: WriteOptions) -> None:
    stream.write(render(report))

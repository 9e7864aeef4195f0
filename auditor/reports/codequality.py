"""``--format codequality``: GitLab's Code Quality report, which is also Code Climate JSON.

GitLab shows it in the merge request widget on every tier (``artifacts:reports:
codequality``); Jenkins' warnings-ng reads it as Code Climate. A JSON array of issues, each
with the fields GitLab requires (``description``, ``check_name``, ``fingerprint``,
``severity`` info|minor|major|critical|blocker, ``location.path``,
``location.lines.begin``) and the two more the Code Climate spec asks of an issue
(``type``, ``categories``).

Each issue points where the SARIF alert does: the Dockerfile line that brought the finding
in (``--dockerfile``), or a path that exists in no checkout, one folder per image
(``.auditor/images/IMAGE/rootfs/PATH``), so the widget still lists it. The fingerprint is
the finding's, stable across rebuilds, so GitLab's comparison with the target branch shows
what a merge request adds and fixes. Findings the policy suppressed are left out: the
format has no way to say "accepted", and the widget would count them as new.
"""

from __future__ import annotations

import json
from typing import Any, TextIO
from urllib.parse import unquote

from auditor.model.findings import SECURITY_CATEGORIES, Finding
from auditor.model.result import Report
from auditor.model.text import inert
from auditor.reports import WriteOptions, view
from auditor.reports.sarif import finding_location

SEVERITY = {"critical": "blocker", "high": "critical", "medium": "major", "low": "minor",
            "info": "info"}
# Code Climate's fixed categories.
CATEGORY = {"cache": "Performance", "wasted-space": "Performance", "config": "Bug Risk",
            "leftover-source": "Clarity"}
MAX_DESCRIPTION = 2_000  # GitLab shows one line per issue; the JSON report has the rest


def _description(report: Report, f: Finding) -> str:
    where = f" at {f.path}" if f.path else ""
    package = f" (package {f.package})" if f.package else ""
    action = view.action(report, f)
    gate = " Fails the policy." if action == "fail" else ""
    text = f"{f.rule_id} {f.title}{where}{package}: {f.message.rstrip('. ')}.{gate}"
    if f.fix:
        text += f" Fix: {f.fix}"
    text = inert(" ".join(text.split()))
    return text if len(text) <= MAX_DESCRIPTION else text[: MAX_DESCRIPTION - 1] + "…"


def issue(report: Report, f: Finding) -> dict[str, Any]:
    uri, line = finding_location(report, f)
    category = "Security" if f.category in SECURITY_CATEGORIES else CATEGORY.get(
        f.category, "Style")
    return {
        "type": "issue",
        "description": _description(report, f),
        "check_name": f.rule_id,
        "categories": [category],
        "fingerprint": f.fingerprint,
        "severity": SEVERITY[f.severity],
        # a repository path, as GitLab matches it against the diff: not percent-encoded
        "location": {"path": inert(unquote(uri)), "lines": {"begin": line}},
    }


def issues(report: Report) -> list[dict[str, Any]]:
    return [issue(report, f) for f in view.findings(report)]


def write(report: Report, stream: TextIO, options: WriteOptions) -> None:
    stream.write(json.dumps(issues(report), indent=2, ensure_ascii=False) + "\n")

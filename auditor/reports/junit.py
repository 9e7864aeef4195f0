"""``--format junit``: the gate as a test report, for a pipeline's test tab.

GitLab reads it on every tier (``artifacts:reports:junit``), Jenkins with its JUnit
plugin, Azure Pipelines, CircleCI and most others. One test suite for the image; in it
one test case per rule auditor knows, so a rule that found nothing shows as a passing test:

- a rule whose findings fail the gate fails, with one ``<failure>`` per such finding;
- the findings that only warn, and those the policy suppressed (with why), are listed in
  the test case's ``<system-out>``: they do not fail it;
- one test case for the policy itself fails with a ``<failure>`` per reason the image
  failed it (a score under the threshold fails no single rule);
- one test case says what could not be read; it is ``<skipped>`` when something was.

Without a policy (a bare audit) there is no gate and every finding is a failure. GitLab
refuses a report over 30 MB: the failures and outputs stop at a budget well under it and
say how many they left out. Every string from the image is cut to what XML 1.0 may hold.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TextIO

from auditor.history import created_by_text
from auditor.model.findings import SEVERITY_RANK, Finding, Rule
from auditor.model.result import Report
from auditor.model.text import human_bytes, inert, shorten
from auditor.reports import WriteOptions, sarif, view

MAX_BYTES = 25_000_000  # GitLab's limit is 30 MB; the margin covers markup and escaping
MAX_TEXT = 4_000  # characters of one failure's text
# Characters XML 1.0 cannot hold, even escaped, that inert() leaves (the noncharacters).
_NOT_XML = re.compile("[\ufffe\uffff]")


def xml_text(text: str, limit: int = MAX_TEXT) -> str:
    """Our text, image text in it, as XML 1.0 character data a CI shows people: each line
    through :func:`inert` (controls, C1 and non-UTF-8 bytes as escapes), the line breaks
    kept. Image text goes in through :func:`one_line`, so that its own line breaks
    cannot start a line of ours."""
    text = "\n".join(_NOT_XML.sub(lambda m: f"\\u{ord(m.group()):04x}", inert(line))
                     for line in text.split("\n"))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def one_line(text: str) -> str:
    """Image text on one line: every control character, line breaks too, as an escape."""
    return inert(text)


@dataclass
class _Budget:
    left: int
    dropped: int = 0

    def take(self, *texts: str) -> bool:
        cost = sum(len(t.encode("utf-8")) for t in texts) + 120  # the element's markup
        if cost > self.left:
            self.dropped += 1
            return False
        self.left -= cost
        return True


@dataclass
class _Case:
    rule: Rule
    failing: list[Finding] = field(default_factory=list)
    others: list[str] = field(default_factory=list)  # lines of system-out


def _finding_line(f: Finding) -> str:
    facts = [f"package {one_line(str(f.package))}"] if f.package else []
    if f.layer is not None:
        facts.append(f"layer {f.layer}: {one_line(shorten(created_by_text(f.created_by), 100))}")
    if f.bytes:
        facts.append(human_bytes(f.bytes))
    tail = f" ({'; '.join(facts)})" if facts else ""
    return (f"{f.severity} {one_line(f.path or 'image configuration')}: "
            f"{one_line(f.message.rstrip('. '))}{tail}")


def _cases(report: Report) -> list[_Case]:
    catalogue = sarif.rule_catalogue()
    cases = {rid: _Case(doc.rule) for rid, doc in catalogue.items()}
    gated = view.gate(report) is not None
    for f in view.findings(report):
        case = cases.setdefault(f.rule_id, _Case(Rule(f.rule_id, f.category, f.severity,
                                                      f.title, fix=f.fix)))
        if not gated or view.action(report, f) == "fail":
            case.failing.append(f)
        else:
            case.others.append(f"{view.action(report, f)}: {_finding_line(f)}")
    for f, why in view.suppressed(report):
        case = cases.setdefault(f.rule_id, _Case(Rule(f.rule_id, f.category, f.severity,
                                                      f.title, fix=f.fix)))
        case.others.append(f"suppressed ({one_line(why)}): {_finding_line(f)}")
    # failing rules first, then by category and id: what a reader looks for comes first
    return sorted(cases.values(), key=lambda c: (not c.failing, -SEVERITY_RANK[c.rule.severity]
                                                 if c.failing else 0, c.rule.category,
                                                 c.rule.id))


def _system_out(case: ET.Element, lines: Iterable[str], budget: _Budget) -> None:
    kept = []
    for line in lines:
        line = xml_text(line, 1_000)
        if not budget.take(line):
            continue
        kept.append(line)
    if kept:
        ET.SubElement(case, "system-out").text = "\n".join(kept) + "\n"


def _rule_case(suite: ET.Element, image: str, c: _Case, budget: _Budget) -> None:
    case = ET.SubElement(suite, "testcase", classname=f"auditor.{c.rule.category}",
                         name=xml_text(f"{c.rule.id}: {c.rule.title}", 200))
    left_out = 0
    for f in c.failing:
        message = xml_text(one_line(f"{f.title}: {f.path or 'image configuration'}"), 300)
        body = xml_text(f"{_finding_line(f)}\nImage {image}. Rule {f.rule_id}, category "
                        f"{f.category}, fingerprint {f.fingerprint}."
                        + (f"\nFix: {f.fix}" if f.fix else ""))
        if not budget.take(message, body):
            left_out += 1
            continue
        ET.SubElement(case, "failure", message=message, type=f.severity).text = body
    if left_out:
        ET.SubElement(case, "failure", message=f"{left_out} more failing findings",
                      type="truncated").text = (
            f"{left_out} more findings of {c.rule.id} fail the gate; left out to keep this "
            "report under GitLab's 30 MB limit (the JSON report lists all).")
    _system_out(case, c.others, budget)


def _policy_case(suite: ET.Element, report: Report) -> None:
    gate = view.gate(report)
    if gate is None:
        return
    verdict = "passed" if gate.passed else "failed"
    case = ET.SubElement(suite, "testcase", classname="auditor.policy",
                         name=xml_text(f"policy {one_line(gate.policy)}: score {gate.score}/100, "
                                       f"grade {gate.grade}", 200))
    for reason in gate.reasons if not gate.passed else ():
        ET.SubElement(case, "failure", message=xml_text(one_line(reason), 300),
                      type="policy").text = xml_text(one_line(reason))
    if not gate.passed and not gate.reasons:
        ET.SubElement(case, "failure", message="the policy failed the image", type="policy")
    ET.SubElement(case, "system-out").text = f"The image {verdict} policy {gate.policy}.\n"


def _skipped_case(suite: ET.Element, report: Report, budget: _Budget) -> None:
    skipped = view.skipped(report)
    case = ET.SubElement(suite, "testcase", classname="auditor.scan",
                         name="AUD-SKIPPED: every part of the image was read")
    if skipped:
        lines = [xml_text(one_line(f"{s.where}: {s.reason}"), 1_000) for s in skipped]
        kept = [line for line in lines if budget.take(line)]
        ET.SubElement(case, "skipped", message=f"{len(skipped)} item(s) could not be read; "
                      "the scan went on without them").text = "\n".join(kept)


def build(report: Report, max_bytes: int = MAX_BYTES) -> ET.Element:
    facts = view.image(report)
    image = xml_text(one_line(facts.reference), 500)
    budget = _Budget(max_bytes)
    root = ET.Element("testsuites", name="auditor")
    suite = ET.SubElement(root, "testsuite", name=f"auditor {image}", package="auditor")
    props = ET.SubElement(suite, "properties")
    gate = view.gate(report)
    for name, value in [("image", image), ("image.id", facts.id),
                        ("image.size_bytes", str(facts.size_bytes)),
                        *([("policy", gate.policy), ("score", str(gate.score)),
                           ("grade", gate.grade), ("passed", str(gate.passed).lower())]
                          if gate is not None else [])]:
        ET.SubElement(props, "property", name=name, value=xml_text(one_line(value), 500))
    _policy_case(suite, report)
    for case in _cases(report):
        _rule_case(suite, image, case, budget)
    _skipped_case(suite, report, budget)
    cases = suite.findall("testcase")
    counts = {"tests": str(len(cases)),
              "failures": str(sum(1 for c in cases if c.find("failure") is not None)),
              "errors": "0",
              "skipped": str(sum(1 for c in cases if c.find("skipped") is not None))}
    for element in (root, suite):
        for key, value in counts.items():
            if element is suite or key != "skipped":
                element.set(key, value)
    return root


def render(report: Report, max_bytes: int = MAX_BYTES) -> str:
    root = build(report, max_bytes)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def write(report: Report, stream: TextIO, options: WriteOptions) -> None:
    stream.write(render(report))

"""``--format sarif``: SARIF 2.1.0 for GitHub code scanning (docs/sarif.md).

Built with sarif-om's classes, written as plain JSON under SARIF's property names. What
code scanning needs, and what other image scanners get wrong: every result has a
location whose URI is relative and has no scheme (an image reference such as
``alpine:3.17`` reads as the URI scheme ``alpine``), a fingerprint that survives a
rebuild, and a run id per image so that two images in one repository keep their own
alerts.
"""

from __future__ import annotations

import gzip
import inspect
import json
import os
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO
from urllib.parse import quote

import attr
import sarif_om as sarif

from auditor import __version__
from auditor.history import created_by_text
from auditor.model.findings import MAX_TAGS, SEVERITY_RANK, Finding, Rule
from auditor.model.result import Report
from auditor.model.suggestion import Suggestion
from auditor.model.text import human_bytes, inert, printable, shorten
from auditor.policy.baseline import SARIF_FINGERPRINT_KEY as FINGERPRINT_KEY
from auditor.reports import WriteOptions, mdtext, view
from auditor.reports.markdown import suggestion_markdown

INFORMATION_URI = "https://github.com/auditor-dev/auditor"  # placeholder: the project's home
SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/" \
             "sarif-schema-2.1.0.json"

# GitHub code scanning's upload limits, from GitHub's "SARIF support for code scanning" and
# "SARIF results exceed limit" pages (2025). Over a hard limit the whole file is rejected.
MAX_RUNS_PER_FILE = 20  # we write one run
MAX_RESULTS_PER_RUN = 25_000  # hard limit
MAX_RESULTS_STORED = 5_000  # GitHub keeps only 5,000 of a run and does not reliably keep
# the most severe, so we cut there ourselves, most severe first.
MAX_RULES_PER_RUN = 25_000  # hard limit; we have far fewer rules
MAX_LOCATIONS_PER_RESULT = 1_000  # hard limit (100 shown); we write one
MAX_TAGS_PER_RULE = MAX_TAGS  # hard limit (10 shown); Rule refuses more
MAX_GZIP_BYTES = 10_000_000  # "10 MB" gzip-compressed; taken as decimal, the smaller reading
MAX_PATHS_IN_PROPERTIES = 100  # ours: bounds the file when one finding names many paths
RESULT_LIMIT = min(MAX_RESULTS_PER_RUN, MAX_RESULTS_STORED)

# Where alerts live when there is no Dockerfile: a path that exists in no checkout, one
# folder per image, so each alert names the file it is about (docs/sarif.md).
IMAGE_ROOT = ".auditor/images"

LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note",
         "info": "note"}


@dataclass(frozen=True, slots=True)
class RuleDoc:
    rule: Rule
    doc: str  # the documentation of the detector that reports it


def rule_catalogue() -> dict[str, RuleDoc]:
    """Every rule auditor knows, with its documentation: the detectors' and the policy's."""
    from auditor.detectors import load_detectors
    from auditor.policy.model import POLICY_RULES

    out = {rule.id: RuleDoc(rule, rule.help) for rule in POLICY_RULES.values()}
    for det in load_detectors().values():
        doc = det.doc
        module_doc = inspect.getdoc(sys.modules.get(det.run.__module__))
        if module_doc and "module documentation" in doc:
            doc = module_doc  # the detector's docstring points there
        for rule in det.rules:
            out[rule.id] = RuleDoc(rule, doc)
    return out


def image_slug(reference: str) -> str:
    """The image's name without tag or digest, fit for a URI path and a run id.

    A rebuild gets a new tag, so the tag stays out: alerts of ``app:pr-12`` and ``app:main``
    are the same alerts. A file source (``/tmp/app.tar``) is named by its file name.
    """
    ref = re.sub(r"^sha256:[0-9a-f]+$", "", reference.replace("\\", "/").split("@", 1)[0])
    for prefix in ("docker:", "docker-archive:", "oci-dir:", "oci-archive:"):
        ref = ref.removeprefix(prefix)
    if ref.startswith(("/", ".")) or ref.endswith((".tar", ".tar.gz", ".tgz")):
        ref = ref.rstrip("/").rsplit("/", 1)[-1]
        ref = re.sub(r"(\.tar(\.gz)?|\.tgz)$", "", ref.split(":", 1)[0])
    else:
        head, sep, last = ref.rpartition("/")
        ref = head + sep + last.split(":", 1)[0]
        ref = re.sub(r"^(index\.)?docker\.io/", "", ref).removeprefix("library/")
    ref = re.sub(r"[^a-z0-9._/-]+", "-", ref.lower())
    parts = [p for p in ref.split("/") if p.strip(".-")]
    return "/".join(parts) or "image"


def _uri_path(path: str) -> str:
    return quote(path.encode("utf-8", "surrogateescape"), safe="/-._~!$&'()*+,;=@")


def dockerfile_uri(path: str) -> str:
    """The Dockerfile as code scanning wants it: relative to the repository root. An
    absolute path is taken relative to the CI checkout (GITHUB_WORKSPACE, CI_PROJECT_DIR)
    or else the working directory, when it is inside one."""
    path = path.replace("\\", "/")
    if path.startswith("/"):
        for root in (os.environ.get("GITHUB_WORKSPACE"), os.environ.get("CI_PROJECT_DIR"),
                     os.getcwd()):
            if root and (path + "/").startswith(root.rstrip("/") + "/"):
                path = os.path.relpath(path, root)
                break
    uri = _uri_path(path)
    while uri.startswith("./"):
        uri = uri[2:]
    return uri.lstrip("/")


def image_uri(report: Report, finding: Finding) -> str:
    base = f"{IMAGE_ROOT}/{image_slug(report.result.image.reference)}"
    if finding.path is None:
        return f"{base}/config"  # the image configuration: USER, ENV, EXPOSE, history
    return f"{base}/rootfs{_uri_path(finding.path)}"


def finding_location(report: Report, f: Finding) -> tuple[str, int]:
    """Where an alert about ``f`` points: the Dockerfile line that brought it in, or the
    image's stable pseudo-path (line 1) without a Dockerfile. A relative URI, and a line."""
    if report.dockerfile:
        line = view.dockerfile_line(report, f) or 1
        return dockerfile_uri(report.dockerfile), max(1, line)
    return image_uri(report, f), 1


def _location(report: Report, f: Finding) -> sarif.Location:
    uri, line = finding_location(report, f)
    subject = f.path or f.evidence.subject or "image configuration"
    return sarif.Location(
        physical_location=sarif.PhysicalLocation(
            artifact_location=sarif.ArtifactLocation(uri=uri),
            region=sarif.Region(start_line=line)),
        logical_locations=[sarif.LogicalLocation(
            name=inert(subject), kind="resource" if f.path else "object")],
    )


def _message(report: Report, f: Finding) -> str:
    facts = [f"package {f.package_label}"] if f.package else []
    if f.layer is not None:
        facts.append(f"layer {f.layer}: {shorten(created_by_text(f.created_by), 80)}")
    if f.bytes:
        facts.append(human_bytes(f.bytes))
    where = f"path {f.path}" if f.path else "in its configuration"
    extra = f" ({'; '.join(facts)})" if facts else ""
    text = (f"{f.title}: {f.message.rstrip('. ')}. Image {report.result.image.reference}, "
            f"{where}{extra}.")
    return inert(" ".join(text.split()))


def _properties(report: Report, f: Finding, suppressed: bool) -> dict[str, Any]:
    props: dict[str, Any] = {
        "image": report.result.image.reference, "path": f.path, "package": f.package_label,
        "layer": f.layer, "createdBy": f.created_by, "bytes": f.bytes,
        "category": f.category, "severity": f.severity,
    }
    if len(f.paths) > 1:
        props["paths"] = list(f.paths[:MAX_PATHS_IN_PROPERTIES])
        props["pathCount"] = len(f.paths)
    if report.verdict is not None and not suppressed:
        props["action"] = report.verdict.action(f)
    return {k: printable(v) if isinstance(v, str) else v for k, v in props.items()
            if v is not None}


def _suggestion_text(suggestions: Sequence[Suggestion], markdown: bool) -> str:
    parts = []
    for s in suggestions:
        facts = [f"saves {human_bytes(s.saves_bytes)}"] if s.saves_bytes else []
        if s.dockerfile_line is not None:
            facts.append(f"Dockerfile line {s.dockerfile_line}")
        tail = f" ({', '.join(facts)})" if facts else ""
        parts.append(f"**{mdtext.text(s.title)}**{tail}\n\n{suggestion_markdown(s.text)}"
                     if markdown else f"{inert(s.title)}{tail}:\n"
                     + "\n".join(inert(line) for line in s.text.strip().split("\n")))
    return "\n\n".join(parts)


def _concerns(s: Suggestion, rule_id: str, layers: set[int | None], has_files: bool) -> bool:
    """Whether a stage-fix suggestion answers a rule's findings. Suggestions carry the rule
    ids they answer (``rule_ids``); one that has none belongs to the rules whose findings
    its layer brought in or, for the whole image (another base, another final stage), to
    the rules that found files."""
    if s.rule_ids:
        return rule_id in s.rule_ids
    return s.layer in layers if s.layer is not None else has_files


def _descriptor(doc: RuleDoc, findings: Sequence[Finding],
                suggestions: Sequence[Suggestion]) -> sarif.ReportingDescriptor:
    rule = doc.rule
    worst = max((f.severity for f in findings), key=SEVERITY_RANK.__getitem__,
                default=rule.severity)
    props: dict[str, Any] = {"tags": list(rule.tags[:MAX_TAGS_PER_RULE]),
                             "precision": rule.precision}
    score = rule.security_severity_of(worst)
    if score is not None:
        props["security-severity"] = score
    body = doc.doc.strip() or rule.help.strip() or rule.title
    text = [rule.title, body]
    markdown = [f"**{rule.title}** (`{rule.id}`, category `{rule.category}`)", body]
    if rule.fix:
        text.append(f"Fix: {rule.fix}")
        markdown.append(f"**Fix.** {rule.fix}")
    layers: set[int | None] = {f.layer for f in findings}
    has_files = any(f.path for f in findings)
    stage = [s for s in suggestions if _concerns(s, rule.id, layers, has_files)][:3]
    if stage:
        text.append("Stage fix for this image:\n\n" + _suggestion_text(stage, False))
        markdown.append("**Stage fix for this image.**\n\n" + _suggestion_text(stage, True))
    return sarif.ReportingDescriptor(
        id=rule.id,
        name="".join(w.capitalize() for w in re.split(r"[^A-Za-z0-9]+", rule.id) if w),
        short_description=sarif.MultiformatMessageString(text=rule.title),
        full_description=sarif.MultiformatMessageString(
            text=" ".join((rule.help or body).strip().split("\n\n", 1)[0].split())),
        help=sarif.MultiformatMessageString(text="\n\n".join(text),
                                            markdown="\n\n".join(markdown)),
        default_configuration=sarif.ReportingConfiguration(level=LEVEL[rule.severity]),
        properties=props,
    )


def _rule_of(catalogue: dict[str, RuleDoc], f: Finding) -> RuleDoc:
    known = catalogue.get(f.rule_id)
    if known is not None:
        return known
    # a rule nobody registered (a newer baseline's, a test's): describe it by its finding
    rule = Rule(f.rule_id, f.category, f.severity, f.title, fix=f.fix)
    return RuleDoc(rule, "")


def _ordered(findings: Iterable[tuple[Finding, str | None]]
             ) -> list[tuple[Finding, str | None]]:
    """Most severe first, so a cut keeps what matters; ties in a stable, readable order."""
    return sorted(findings, key=lambda item: (-SEVERITY_RANK[item[0].severity],
                                              -item[0].bytes, item[0].rule_id,
                                              item[0].path or "", item[0].fingerprint))


def _findings(report: Report) -> list[tuple[Finding, str | None]]:
    """(finding, why it is suppressed or None). A waived or allowed finding stays in the
    log as suppressed, so its alert is not closed as fixed; one that is only in the
    baseline is an ordinary result (it is still there)."""
    verdict = report.verdict
    if verdict is None:
        return [(f, None) for f in report.result.findings]
    shown = {f.fingerprint for f in verdict.findings}
    return [(f, None) for f in verdict.findings] + [
        (f, why) for f, why in verdict.suppressed if f.fingerprint not in shown]


def automation_id(report: Report) -> str:
    category = report.sarif_category
    if category:
        return category.strip("/") + "/"
    return f"auditor/{image_slug(report.result.image.reference)}/"


def _notification(text: str, rule_id: str, level: str = "warning") -> sarif.Notification:
    return sarif.Notification(message=sarif.Message(text=inert(text)), level=level,
                              descriptor=sarif.ReportingDescriptorReference(id=rule_id))


def build_log(report: Report, limit: int = RESULT_LIMIT) -> sarif.SarifLog:
    catalogue = rule_catalogue()
    everything = _ordered(_findings(report))
    kept = everything[:limit]
    by_rule: dict[str, list[Finding]] = {}
    for f, _why in kept:
        by_rule.setdefault(f.rule_id, []).append(f)
    rule_ids = sorted(by_rule)
    index = {rid: i for i, rid in enumerate(rule_ids)}
    descriptors = [_descriptor(_rule_of(catalogue, by_rule[rid][0]), by_rule[rid],
                               report.suggestions) for rid in rule_ids]
    results = [sarif.Result(
        rule_id=f.rule_id, rule_index=index[f.rule_id], level=LEVEL[f.severity],
        message=sarif.Message(text=_message(report, f)),
        locations=[_location(report, f)],
        partial_fingerprints={FINGERPRINT_KEY: f.fingerprint},
        properties=_properties(report, f, why is not None),
        suppressions=[sarif.Suppression(kind="external", state="accepted",
                                        justification=inert(why))] if why else None,
    ) for f, why in kept]
    configuration = [_notification(f"{s.where}: {s.reason}; the scan went on without it",
                                   "AUD-SKIPPED") for s in report.result.skipped]
    execution = []
    if len(kept) < len(everything):
        execution.append(_notification(
            f"{len(everything)} findings, more than the {len(kept)} results this file may "
            f"carry for code scanning; kept the {len(kept)} most severe (the JSON report "
            "lists all)", "AUD-TRUNCATED"))
    return sarif.SarifLog(version="2.1.0", schema_uri=SCHEMA_URI, runs=[sarif.Run(
        tool=sarif.Tool(driver=sarif.ToolComponent(
            name="auditor", version=__version__, semantic_version=__version__,
            information_uri=INFORMATION_URI, rules=descriptors)),
        automation_details=sarif.RunAutomationDetails(id=automation_id(report)),
        invocations=[sarif.Invocation(
            execution_successful=True,
            tool_configuration_notifications=configuration or None,
            tool_execution_notifications=execution or None)],
        results=results,
        properties=_run_properties(report),
    )])


def _run_properties(report: Report) -> dict[str, Any]:
    image = report.result.image
    props: dict[str, Any] = {"image": printable(image.reference), "imageId": image.id}
    verdict = report.verdict
    if verdict is not None:
        props.update(policy=verdict.policy, score=verdict.score, grade=verdict.grade,
                     passed=verdict.passed, reasons=[printable(r) for r in verdict.reasons])
    return props


# Fields written even at their default value, for readers that do not apply defaults.
_ALWAYS = frozenset({"level"})
# sarif-om 1.0.4 was generated before SARIF 2.1.0 renamed suppression.state to status.
_RENAMED = {(sarif.Suppression, "state"): "status"}


def to_json(value: Any) -> Any:
    """sarif-om objects as SARIF JSON: the schema's property names, None and defaults out."""
    if attr.has(type(value)):
        out: dict[str, Any] = {}
        for field in attr.fields(type(value)):
            item = getattr(value, field.name)
            if item is None:
                continue
            default = field.default
            if isinstance(default, attr.Factory):  # type: ignore[arg-type]
                default = default.factory()
            if field.name not in _ALWAYS and default is not attr.NOTHING and item == default:
                continue
            name = _RENAMED.get((type(value), field.name), field.metadata["schema_property_name"])
            out[name] = to_json(item)
        return out
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return value


def sarif_json(report: Report) -> dict[str, Any]:
    """The SARIF log as JSON data, cut to fit GitHub's file-size limit when it must be."""
    limit = RESULT_LIMIT
    while True:
        log: dict[str, Any] = to_json(build_log(report, limit))
        doc = {"$schema": log.pop("$schema"), "version": log.pop("version"), **log}
        if limit == 0 or not _too_big(doc):
            return doc
        limit = len(doc["runs"][0]["results"]) * 4 // 5


def _too_big(doc: dict[str, Any]) -> bool:
    raw = json.dumps(doc, separators=(",", ":")).encode()
    # gzip shrinks JSON at least tenfold in practice; compress only when it may matter
    return len(raw) > MAX_GZIP_BYTES and len(gzip.compress(raw, 6)) > MAX_GZIP_BYTES


# Characters JSON may carry raw that a terminal or a viewer would act on (C1 controls,
# bidi overrides): written as \u escapes, so the file stays text and the values exact.
_RAW = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _valid_text(value: Any) -> Any:
    """Every string of the log as valid Unicode (a name's non-UTF-8 bytes as ``\\xff``)."""
    if isinstance(value, str):
        return value if value.isascii() else printable(value)
    if isinstance(value, list):
        return [_valid_text(v) for v in value]
    if isinstance(value, dict):
        return {_valid_text(k): _valid_text(v) for k, v in value.items()}
    return value


def write(report: Report, stream: TextIO, options: WriteOptions) -> None:
    text = json.dumps(_valid_text(sarif_json(report)), indent=2, ensure_ascii=False)
    stream.write(_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", text) + "\n")

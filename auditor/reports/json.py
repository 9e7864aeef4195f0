"""``--format json``: the report contract of design.md, schema ``auditor/report/v1``.

The JSON Schema is published in docs/report.schema.json and shipped in the package.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any, TextIO

from packageurl import PackageURL

from auditor import __version__
from auditor.model.findings import Finding
from auditor.model.package import Package
from auditor.model.result import Report
from auditor.model.text import printable
from auditor.reports import WriteOptions, view

SCHEMA = "auditor/report/v1"


def image_json(report: Report) -> dict[str, Any]:
    result = report.result
    image, tree, config = result.image, result.tree, result.image.config
    return {
        "reference": image.reference,
        "id": image.id,
        "source": image.source,
        "size_bytes": tree.size_bytes,
        "wasted_bytes": tree.wasted_bytes,
        "dive_wasted_bytes": tree.dive_wasted_bytes,
        "user": config.user,
        "entrypoint": list(config.entrypoint) if config.entrypoint is not None else None,
        "cmd": list(config.cmd) if config.cmd is not None else None,
        "working_dir": config.working_dir,
        "env_names": sorted(config.env_map()),  # names only: values may be secrets
        "exposed_ports": list(config.exposed_ports),
        "healthcheck": list(config.healthcheck) if config.healthcheck is not None else None,
        "os": config.os,
        "architecture": config.architecture,
        "layers": [
            {
                "index": scan.index,
                "digest": scan.digest,
                "size_bytes": stats.added_bytes,
                "blob_bytes": scan.blob_size,
                "wasted_bytes": stats.wasted_bytes,
                "files": stats.files,
                "created_by": hist.created_by if hist is not None and hist.created_by else None,
            }
            for scan, stats, hist in zip(image.layers, tree.layers, result.history, strict=True)
        ],
    }


def finding_json(report: Report, f: Finding) -> dict[str, Any]:
    """A finding as the contract has it, with what the gate did to it: its ``action``
    (with a verdict), ``new`` (with a baseline) and its ``dockerfile_line``."""
    out = f.to_json()
    verdict = report.verdict
    if verdict is not None:
        out["action"] = verdict.action(f)
        if verdict.new_findings is not None:
            out["new"] = f.fingerprint in {n.fingerprint for n in verdict.new_findings}
    out["dockerfile_line"] = view.dockerfile_line(report, f)
    return out


def _gate_json(report: Report) -> dict[str, Any]:
    """What the gate did besides counting: what it suppressed and why, the waivers that
    expired, the findings new since the baseline, and whether --severity hid some."""
    verdict = report.verdict
    if verdict is None:
        out: dict[str, Any] = {"suppressed": [], "expired_waivers": [], "new_findings": None}
    else:
        out = {
            "suppressed": [{"finding": {**f.to_json(),
                                        "dockerfile_line": view.dockerfile_line(report, f)},
                            "why": why, "kind": view.suppression_kind(why)}
                           for f, why in view.suppressed(report)],
            "expired_waivers": [{**w.to_dict(), "expires": w.expires.isoformat()}
                                for w in verdict.expired_waivers],
            "new_findings": (None if verdict.new_findings is None
                             else [f.fingerprint for f in verdict.new_findings]),
        }
    out["filter"] = (None if report.shown_severities is None else
                     {"severities": list(report.shown_severities),
                      "hidden": report.hidden_by_severity})
    return out


def report_json(report: Report) -> dict[str, Any]:
    verdict = report.verdict
    result = report.result
    findings = verdict.findings if verdict is not None else result.findings
    out: dict[str, Any] = {
        "schema": SCHEMA,
        "tool": {"name": "auditor", "version": __version__},
        "image": image_json(report),
        "policy": ({"name": report.policy_name, "source": report.policy_source}
                   if report.policy_name else None),
        "score": verdict.score if verdict is not None else None,
        "grade": verdict.grade if verdict is not None else None,
        "passed": verdict.passed if verdict is not None else None,
        "reasons": list(verdict.reasons) if verdict is not None else [],
        "findings": [finding_json(report, f) for f in findings],
        **_gate_json(report),
        "suggestions": [s.to_json() for s in report.suggestions],
        "packages": _packages_json(result.inventory.packages),
        "skipped": [{"where": s.where, "reason": s.reason} for s in result.skipped],
    }
    return out


def _packages_json(packages: Sequence[Package]) -> dict[str, Any]:
    """How many packages of each ecosystem; the runtimes outside a package database in
    full (a few at most), each with where its version was read."""
    by_ecosystem: dict[str, int] = {}
    for p in packages:
        by_ecosystem[p.ecosystem] = by_ecosystem.get(p.ecosystem, 0) + 1
    runtimes = [{"name": p.name, "version": p.version, "path": printable(p.location),
                 "version_from": printable(p.version_from or ""),
                 "purl": PackageURL(type="generic", name=p.name, version=p.version).to_string()}
                for p in packages if p.ecosystem == "runtime"]
    return {"count": len(packages), "by_ecosystem": dict(sorted(by_ecosystem.items())),
            "runtimes": runtimes}


def _strict(value: Any) -> Any:
    """Strict JSON for any image: a name with bytes that are not UTF-8 (held as lone
    surrogates, which strict parsers reject) is written with ``\\xff`` escapes, and a
    finding's ``path`` also as ``path_b64``, its exact bytes."""
    if isinstance(value, str):
        return printable(value) if not value.isascii() else value
    if isinstance(value, list):
        return [_strict(v) for v in value]
    if isinstance(value, dict):
        out = {k: _strict(v) for k, v in value.items()}
        path = value.get("path")
        if isinstance(path, str) and "rule_id" in value and out["path"] != path:
            out["path_b64"] = base64.b64encode(path.encode("utf-8", "surrogateescape")
                                               ).decode("ascii")
        return out
    return value


def write(report: Report, stream: TextIO, options: WriteOptions) -> None:
    # one write: json.dump would hand the stream every token of the report separately
    stream.write(json.dumps(_strict(report_json(report)), indent=2) + "\n")

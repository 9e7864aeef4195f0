"""Synthetic findings and policy files for the policy tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from auditor.model.evidence import Evidence
from auditor.model.findings import Finding
from auditor.model.package import PackageRef
from auditor.policy import Policy, load_policy


def finding(category: str = "shell", severity: str = "medium", path: str | None = "/bin/sh",
            *, rule_id: str | None = None, package: str | None = None, size: int = 0,
            paths: tuple[str, ...] = (), **evidence: Any) -> Finding:
    return Finding(
        rule_id=rule_id or f"AUD-TEST-{category.upper()}", category=category, severity=severity,
        title=f"a {category} finding", message=f"found {path or package}", path=path,
        package=PackageRef.from_label(package) if package else None, bytes=size,
        paths=paths or ((path,) if path else ()),
        evidence=Evidence.of(**evidence),
    )


def policy_file(tmp_path: Path, text: str, name: str = "policy.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def policy_of(tmp_path: Path, text: str) -> Policy:
    return load_policy(str(policy_file(tmp_path, text)))

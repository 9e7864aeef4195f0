"""A --dockerfile of another image, through the pipeline and the command line: one line in
every report and on stderr, no finding tied to its lines, and ``fix`` refusing (exit 2).
On fixtures/default.tar (busybox-app saved) with the entrypoint-script fixture's Dockerfile."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from auditor.audit import AuditRequest, audit, fix
from auditor.cli import main
from auditor.errors import UsageError
from auditor.policy import load_policy

ROOT = Path(__file__).resolve().parents[2]
ARCHIVE = str(ROOT / "fixtures" / "default.tar")
OWN = ROOT / "fixtures" / "busybox-app" / "Dockerfile"
OTHER = ROOT / "fixtures" / "entrypoint-script" / "Dockerfile"


def request(dockerfile: Path) -> AuditRequest:
    return AuditRequest(ARCHIVE, policy=load_policy("default"), bases=lambda: (),
                        dockerfile_text=dockerfile.read_text(), dockerfile=str(dockerfile))


def test_its_own_dockerfile_matches() -> None:
    report = audit(request(OWN))
    assert report.attribution is not None and report.attribution.mismatch is None
    assert report.dockerfile_lines == {0: 2, 1: 3}
    assert not any(s.where.startswith("--dockerfile") for s in report.result.skipped)


def test_another_images_dockerfile_is_said_and_attributes_nothing() -> None:
    report = audit(request(OTHER))
    a = report.attribution
    assert a is not None and a.mismatch is not None
    assert report.dockerfile_lines == {}
    assert all(report.finding_line(f) is None for f in report.result.findings)
    assert all(s.dockerfile_line is None for s in report.suggestions)
    [said] = [s for s in report.result.skipped if s.where == f"--dockerfile {OTHER}"]
    assert said.reason == a.mismatch
    with pytest.raises(UsageError, match="does not match the Dockerfile's final stage"):
        fix(request(OTHER))


@pytest.mark.parametrize("fmt", ["terminal", "json", "sarif", "markdown", "html", "junit"])
def test_every_report_and_stderr_say_it_once(fmt: str, capsys: Any) -> None:
    code = main(["scan", ARCHIVE, "--dockerfile", str(OTHER), "--format", fmt,
                 "--no-progress"])
    out, err = capsys.readouterr()
    assert code == 0
    assert [line for line in err.splitlines() if line.startswith("warning: ")] == [
        line for line in err.splitlines() if line.strip()]
    assert err.count("warning: ") == 1 and "does not match the Dockerfile" in err
    assert "does not match the Dockerfile" in out.replace("\\u0027", "'").replace("&#x27;", "'")


def test_fix_refuses_with_one_error_line(capsys: Any, tmp_path: Path) -> None:
    code = main(["fix", ARCHIVE, "--dockerfile", str(OTHER), "--no-progress",
                 "-o", str(tmp_path / "Dockerfile.suggested")])
    _out, err = capsys.readouterr()
    assert code == 2 and err.count("\n") == 1 and err.startswith("error: ")
    assert "does not match" in err and not (tmp_path / "Dockerfile.suggested").exists()

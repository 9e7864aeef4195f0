"""docs/ci.md and its example pipelines: valid YAML, and every `auditor` command in them is
one our CLI accepts, and (with the engine) does what the pipeline expects of it."""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from auditor.cli import _parser, main
from auditor.model.findings import SEVERITIES
from auditor.policy import load_policy
from auditor.reports import WriteOptions, formats
from auditor.reports import sarif as sarif_report
from tests.reports import samples
from tests.reports.schema_check import ROOT

DOCS = ROOT / "docs"
GITHUB = DOCS / "examples" / "github-workflow.yml"
GITLAB = DOCS / "examples" / "gitlab-ci.yml"
SHELL_OPERATORS = {"||", "&&", ";", "|", ">", ">>", "2>&1"}


def load(path: Path) -> dict[Any, Any]:
    data: dict[Any, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


def shell_snippets(path: Path) -> list[str]:
    """Every shell script in a pipeline file: GitHub `run:` steps, GitLab script lines."""
    data = load(path)
    if path == GITHUB:
        return [step["run"] for job in data["jobs"].values() for step in job["steps"]
                if "run" in step]
    job = data["image-audit"]
    return [*job.get("before_script", []), *job["script"]]


def auditor_commands(script: str) -> list[list[str]]:
    """The `auditor ...` commands of a shell script, as argument lists, up to the first
    shell operator."""
    commands = []
    for line in script.replace("\\\n", " ").splitlines():
        if not line.strip().startswith("auditor "):
            continue
        words = shlex.split(line)
        cut = next((i for i, w in enumerate(words) if w in SHELL_OPERATORS), len(words))
        commands.append(words[1:cut])
    return commands


def doc_commands() -> list[list[str]]:
    text = (DOCS / "ci.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```sh\n(.*?)```", text, re.S)
    return [c for block in blocks for c in auditor_commands(block)]


def all_commands() -> list[tuple[str, list[str]]]:
    found = [(p.name, c) for p in (GITHUB, GITLAB) for s in shell_snippets(p)
             for c in auditor_commands(s)]
    return found + [("ci.md", c) for c in doc_commands()]


def test_ci_md_shows_the_example_files_as_they_are() -> None:
    text = (DOCS / "ci.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.S)
    assert blocks == [GITHUB.read_text(encoding="utf-8"), GITLAB.read_text(encoding="utf-8")]


def test_github_workflow_scans_uploads_and_gates() -> None:
    data = load(GITHUB)
    assert data[True] == {"push": {"branches": ["main"]}, "pull_request": None}  # YAML 1.1 on
    assert data["permissions"]["security-events"] == "write"
    steps = data["jobs"]["audit"]["steps"]
    upload = next(s for s in steps if str(s.get("uses", "")).startswith(
        "github/codeql-action/upload-sarif@"))
    assert upload["with"]["sarif_file"] == "auditor.sarif" and "category" not in upload["with"]
    assert upload["if"].startswith("always()")
    gate = steps[-1]
    assert gate["if"] == "steps.audit.outputs.exit-code != '0'" and "exit 1" in gate["run"]
    audit = next(s for s in steps if s.get("id") == "audit")
    assert 'echo "exit-code=$?" >> "$GITHUB_OUTPUT"' in audit["run"]


def test_gitlab_job_scans_keeps_reports_and_gates() -> None:
    job = load(GITLAB)["image-audit"]
    assert job["artifacts"]["when"] == "always"
    assert job["artifacts"]["reports"]["codequality"] == "gl-code-quality-report.json"
    assert {"auditor.json", "auditor.sarif", "auditor.md"} <= set(job["artifacts"]["paths"])
    assert job["script"][-1] == 'exit "$status"'


def test_every_auditor_command_is_one_the_cli_accepts() -> None:
    commands = all_commands()
    assert {name for name, _ in commands} == {GITHUB.name, GITLAB.name, "ci.md"}
    for name, argv in commands:
        args = _parser().parse_args(argv)
        assert args.command == "scan", name
        for output in args.output:
            fmt, _, path = output.partition("=")
            assert fmt in formats() and path, f"{name}: --output {output}"
        assert args.format in formats()
        load_policy(args.policy)
        assert args.fail_on in (None, *SEVERITIES), name


def gitlab_code_quality_script() -> str:
    snippet = next(s for s in shell_snippets(GITLAB) if "<<'EOF'" in s)
    body = snippet.split("<<'EOF'\n", 1)[1]
    return body[: body.rindex("EOF")]


def run_code_quality(folder: Path) -> list[dict[str, Any]]:
    subprocess.run([sys.executable, "-"], input=gitlab_code_quality_script(), text=True,
                   cwd=folder, check=True, timeout=60)
    issues: list[dict[str, Any]] = json.loads(
        (folder / "gl-code-quality-report.json").read_text(encoding="utf-8"))
    return issues


def test_gitlab_code_quality_conversion(tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sarif_report, "rule_catalogue", lambda: dict(samples.CATALOGUE))
    report = samples.sample_report()
    report = replace(report, dockerfile="Dockerfile", dockerfile_lines={0: 1, 1: 4, 2: 9})
    out = io.StringIO()
    sarif_report.write(report, out, WriteOptions())
    (tmp_path / "auditor.sarif").write_text(out.getvalue(), encoding="utf-8")
    issues = run_code_quality(tmp_path)
    assert len(issues) == len(samples.FINDINGS)  # the waived one is left out
    assert {i["fingerprint"] for i in issues} == {f.fingerprint for f in samples.FINDINGS}
    for issue in issues:
        assert set(issue) == {"description", "check_name", "fingerprint", "severity",
                              "location"}
        assert issue["severity"] in {"info", "minor", "major", "critical", "blocker"}
        assert issue["location"]["path"] == "Dockerfile"
        assert issue["location"]["lines"]["begin"] in {1, 4, 9}
    compiler = next(i for i in issues if i["check_name"] == "AUD-COMPILER")
    assert compiler["severity"] == "critical" and compiler["location"]["lines"]["begin"] == 4


@pytest.mark.engine
def test_the_pipeline_command_on_a_real_image(engine: Any, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The GitHub workflow's scan, as written, on the planted-trouble fixture: it writes
    the three reports and exits 1; the GitLab conversion then reads its SARIF."""
    [argv] = [c for s in shell_snippets(GITHUB) for c in auditor_commands(s)]
    shutil.copy(ROOT / "fixtures" / "trouble" / "Dockerfile", tmp_path / "Dockerfile")
    monkeypatch.chdir(tmp_path)
    image = "auditor-fixture/trouble"
    code = main([image if word == "$IMAGE" else word for word in argv])
    assert code == 1
    for name in ("auditor.sarif", "auditor.json", "auditor.md"):
        assert (tmp_path / name).stat().st_size > 0
    issues = run_code_quality(tmp_path)
    assert issues and {i["location"]["path"] for i in issues} == {"Dockerfile"}
    assert os.path.exists(tmp_path / "gl-code-quality-report.json")

"""docs/ci.md and its example pipelines: valid YAML, and every `auditor` command in them is
one our CLI accepts, and (with the engine) does what the pipeline expects of it."""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from auditor.cli import main
from auditor.cli_parser import build_parser
from auditor.model.findings import SEVERITIES
from auditor.policy import load_policy
from auditor.reports import formats
from tests.reports.schema_check import ROOT, assert_valid_code_quality, assert_valid_junit

DOCS = ROOT / "docs"
ACTION_EXAMPLE = DOCS / "examples" / "github-action.yml"
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
    assert blocks == [p.read_text(encoding="utf-8") for p in (ACTION_EXAMPLE, GITHUB, GITLAB)]


def test_github_workflow_scans_uploads_and_gates() -> None:
    data = load(GITHUB)
    assert data[True] == {"push": {"branches": ["main"]}, "pull_request": None}  # YAML 1.1 on
    assert data["permissions"]["security-events"] == "write"
    assert data["permissions"]["actions"] == "read"  # private repositories
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
    jobs = load(GITLAB)
    build, job = jobs["build-image"], jobs["image-audit"]
    assert "docker save --output image.tar \"app:$CI_COMMIT_SHORT_SHA\"" in build["script"]
    assert build["artifacts"]["paths"] == ["image.tar"] and job["needs"] == ["build-image"]
    assert job["artifacts"]["when"] == "always"
    assert job["artifacts"]["reports"] == {"codequality": "gl-code-quality-report.json",
                                           "junit": "auditor-junit.xml"}
    assert {"auditor.json", "auditor.sarif", "auditor.md"} <= set(job["artifacts"]["paths"])
    assert job["script"][-1] == 'exit "$status"'
    [argv] = [c for s in shell_snippets(GITLAB) for c in auditor_commands(s)]
    outputs = dict(o.split("=", 1) for o in build_parser().parse_args(argv).output)
    assert outputs["codequality"] == "gl-code-quality-report.json"
    assert outputs["junit"] == "auditor-junit.xml"


def test_gitlab_audit_job_installs_as_the_readme_does_on_debian() -> None:
    """The audit job runs on Debian 12 (where pip finds manylinux wheels; Alpine has no
    musllinux wheel of `dockerfile`) and installs as the README does, which
    tests/test_readme.py runs on Debian 12's own Python."""
    job = load(GITLAB)["image-audit"]
    assert job["image"] == "debian:bookworm-slim"
    before = job["before_script"]
    assert any("apt-get install" in line and "python3-venv" in line for line in before)
    assert "python3 -m venv /opt/auditor" in before
    assert 'export PATH="/opt/auditor/bin:$PATH"' in before
    assert before.index('export PATH="/opt/auditor/bin:$PATH"') < next(
        i for i, line in enumerate(before) if line.startswith("pip install"))
    assert not any("apk " in line for line in before)


def test_every_auditor_command_is_one_the_cli_accepts() -> None:
    commands = all_commands()
    assert {name for name, _ in commands} == {GITHUB.name, GITLAB.name, "ci.md"}
    for name, argv in commands:
        args = build_parser().parse_args(argv)
        assert args.command == "scan", name
        for output in args.output:
            fmt, _, path = output.partition("=")
            assert fmt in formats() and path, f"{name}: --output {output}"
        assert args.format in formats()
        load_policy(args.policy)
        assert args.fail_on in (None, *SEVERITIES), name


@pytest.mark.engine
def test_the_pipeline_command_on_a_real_image(engine: Any, saved_images: Any, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The GitHub workflow's scan, as written, on the planted-trouble fixture: it writes
    the three reports and exits 1; the GitLab job's scan of the saved image writes a valid
    Code Quality and JUnit report pointing at the Dockerfile."""
    [argv] = [c for s in shell_snippets(GITHUB) for c in auditor_commands(s)]
    shutil.copy(ROOT / "fixtures" / "trouble" / "Dockerfile", tmp_path / "Dockerfile")
    monkeypatch.chdir(tmp_path)
    image = "auditor-fixture/trouble"
    code = main([image if word == "$IMAGE" else word for word in argv])
    assert code == 1
    for name in ("auditor.sarif", "auditor.json", "auditor.md"):
        assert (tmp_path / name).stat().st_size > 0
    [gitlab] = [c for s in shell_snippets(GITLAB) for c in auditor_commands(s)]
    shutil.copy(saved_images(f"{image}:latest"), tmp_path / "image.tar")
    assert main(gitlab) == 1
    issues = json.loads((tmp_path / "gl-code-quality-report.json").read_text("utf-8"))
    assert_valid_code_quality(issues)
    assert issues and {i["location"]["path"] for i in issues} == {"Dockerfile"}
    assert_valid_junit((tmp_path / "auditor-junit.xml").read_text("utf-8"))

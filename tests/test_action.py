"""The GitHub Action (action.yml): valid YAML of a composite action, inputs that reach its
scripts only through the environment, an `auditor scan` command the CLI accepts for every
combination of inputs, and its scan and gate steps run for real with bash."""

from __future__ import annotations

import itertools
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from auditor.cli_parser import build_parser
from auditor.policy import load_policy
from auditor.reports import FORMATS
from tests.conftest import ROOT

ACTION = ROOT / "action.yml"
EXAMPLE = ROOT / "docs" / "examples" / "github-action.yml"


def action() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    return data


def step(name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in action()["runs"]["steps"] if s.get("name") == name)
    return found


def test_a_composite_action_with_the_inputs_that_matter() -> None:
    data = action()
    assert data["runs"]["using"] == "composite"
    inputs = data["inputs"]
    assert inputs["image"]["required"] is True
    assert {"policy", "format", "dockerfile", "outputs", "sarif-file", "upload-sarif",
            "category", "fail-on-policy", "install"} <= set(inputs)
    assert inputs["format"]["default"] in FORMATS
    load_policy(inputs["policy"]["default"])
    assert data["outputs"]["exit-code"]["value"] == "${{ steps.scan.outputs.exit-code }}"


def test_it_uploads_sarif_and_says_which_permissions_it_needs() -> None:
    upload = step("Upload to code scanning")
    assert upload["uses"] == "github/codeql-action/upload-sarif@v4"
    assert upload["with"] == {"sarif_file": "${{ inputs.sarif-file }}"}
    assert upload["if"].startswith("always()")
    header = ACTION.read_text(encoding="utf-8").split("name:", 1)[0]
    assert "security-events: write" in header and "actions: read" in header
    example = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    assert example["permissions"] == {"contents": "read", "security-events": "write",
                                      "actions": "read"}
    [uses] = [s for s in example["jobs"]["audit"]["steps"]
              if str(s.get("uses", "")).startswith("auditor-dev/auditor@")]
    assert set(uses["with"]) <= set(action()["inputs"])


def test_inputs_never_reach_a_script_as_text() -> None:
    """`${{ inputs.x }}` inside `run:` would paste an image name into bash."""
    for s in action()["runs"]["steps"]:
        if "run" in s:
            assert "${{" not in s["run"], s["name"]
            assert s["shell"] == "bash"
        for value in s.get("with", {}).values():
            assert not str(value).startswith("${{ steps.") or "outputs" in str(value)


def expand(word: str, env: dict[str, str]) -> str:
    return re.sub(r"\$(\w+)", lambda m: env.get(m.group(1), ""), word)


def scan_argv(env: dict[str, str]) -> list[str]:
    """The scan step's `auditor scan` command as bash would expand it with ``env``."""
    script = step("Audit the image")["run"]
    extra: list[str] = []
    for line in script.splitlines():
        m = re.search(r'if \[ -n "\$(\w+)" \]; then extra\+=\((.*)\); fi', line)
        if m and env.get(m.group(1)):
            extra += [expand(w, env) for w in shlex.split(m.group(2))]
        if line.startswith("for output in $INPUT_OUTPUTS"):
            extra += [a for o in env.get("INPUT_OUTPUTS", "").split() for a in ("--output", o)]
    [command] = [line for line in script.splitlines() if line.startswith("auditor scan ")]
    words = shlex.split(command.replace('"${extra[@]}"', ""))
    return [expand(w, env) for w in words[1:]] + extra


def defaults() -> dict[str, str]:
    inputs = action()["inputs"]
    env = {f"INPUT_{name.upper().replace('-', '_')}": str(spec.get("default", ""))
           for name, spec in inputs.items()}
    env.update(INPUT_IMAGE="app:1.0", RUNNER_TEMP="/tmp/runner")
    return env


@pytest.mark.parametrize("dockerfile,category,outputs", list(itertools.product(
    ["", "Dockerfile"], ["", "images/app"], ["", "json=a.json cyclonedx=sbom.cdx.json"])))
def test_the_scan_command_parses_with_the_cli(dockerfile: str, category: str,
                                              outputs: str) -> None:
    env = {**defaults(), "INPUT_DOCKERFILE": dockerfile, "INPUT_CATEGORY": category,
           "INPUT_OUTPUTS": outputs}
    args = build_parser().parse_args(scan_argv(env))
    assert args.command == "scan" and args.source == "app:1.0"
    assert args.format in FORMATS and args.policy == "default"
    written = dict(o.split("=", 1) for o in args.output)
    assert written["sarif"] == "auditor.sarif" and written["markdown"] == "/tmp/runner/auditor.md"
    assert set(written) <= set(FORMATS)
    assert args.dockerfile == (dockerfile or None)
    assert args.sarif_category == (category or None)


def run_step(name: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-eo", "pipefail", "-c", step(name)["run"]], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=300, check=False)


def test_the_scan_step_runs(tmp_path: Path) -> None:
    """The step's script, as the runner runs it, with `auditor` the package under test."""
    shim = tmp_path / "bin" / "auditor"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\nexec {sys.executable} -m auditor "$@"\n')
    shim.chmod(0o755)
    (tmp_path / "runner").mkdir()
    output = tmp_path / "github-output"
    env = {**defaults(), "PATH": f"{shim.parent}:/usr/bin:/bin", "PYTHONPATH": str(ROOT),
           "RUNNER_TEMP": str(tmp_path / "runner"), "GITHUB_OUTPUT": str(output),
           "INPUT_IMAGE": str(ROOT / "fixtures" / "default.tar"),
           "INPUT_OUTPUTS": "junit=junit.xml"}
    proc = run_step("Audit the image", env, tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert output.read_text().splitlines() == ["exit-code=0", "sarif=true"]
    assert (tmp_path / "auditor.sarif").stat().st_size > 0
    assert (tmp_path / "junit.xml").stat().st_size > 0
    assert (tmp_path / "runner" / "auditor.md").stat().st_size > 0
    env["INPUT_POLICY"] = "no-such-policy"
    output.unlink()
    assert run_step("Audit the image", env, tmp_path).returncode == 0  # the gate decides
    assert output.read_text().splitlines()[0] == "exit-code=2"


@pytest.mark.parametrize("code,fail_on_policy,expected", [
    ("1", "true", 1), ("1", "false", 0), ("2", "false", 2), ("2", "true", 2)])
def test_the_gate_step(tmp_path: Path, code: str, fail_on_policy: str, expected: int) -> None:
    env = {"PATH": "/usr/bin:/bin", "EXIT_CODE": code, "FAIL_ON_POLICY": fail_on_policy}
    assert run_step("Gate", env, tmp_path).returncode == expected

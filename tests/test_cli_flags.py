"""The flags people reach for first, through main(argv)."""

from __future__ import annotations

import argparse
import json
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from auditor import __version__
from auditor.cli import main
from auditor.cli_parser import build_parser
from tests.imagekit import config_for, docker_save
from tests.layerkit import D, F, L, layer


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    # root, a busybox shell: the default policy fails it
    return docker_save(tmp_path / "img.tar", [
        layer(D("/bin"), F("/bin/busybox", b"\x7fELF", mode=0o755), L("/bin/sh", "busybox")),
    ])


def run(capsys: Any, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_error(err: str, needle: str) -> None:
    assert err.count("\n") == 1 and err.startswith("error: ") and needle in err, err


def test_exit_code_0_makes_a_report_only_run(capsys: Any, archive: Path) -> None:
    assert run(capsys, "scan", str(archive), "-q")[0] == 1
    code, out, _ = run(capsys, "scan", str(archive), "-q", "--exit-code", "0")
    assert code == 0 and out.startswith("FAILED")
    assert run(capsys, "scan", str(archive), "-q", "--exit-code", "7")[0] == 7


def test_exit_code_out_of_range_is_refused(capsys: Any, archive: Path) -> None:
    code, _out, err = run(capsys, "scan", str(archive), "--exit-code", "256")
    assert code == 2
    one_error(err, "--exit-code")


def test_values_are_case_insensitive(capsys: Any, archive: Path) -> None:
    code, out, _ = run(capsys, "scan", str(archive), "--format", "JSON", "--fail-on", "HIGH",
                       "--severity", "High,CRITICAL", "--color", "NEVER")
    doc = json.loads(out)
    assert code == 1 and doc["filter"]["severities"] == ["high", "critical"]


def test_severity_filters_what_is_shown_not_the_gate(capsys: Any, archive: Path) -> None:
    _code, out, _ = run(capsys, "scan", str(archive), "-f", "json")
    full = json.loads(out)
    code, out, _ = run(capsys, "scan", str(archive), "-f", "json", "--severity", "critical")
    shown = json.loads(out)
    assert code == 1 and shown["passed"] is False and shown["reasons"] == full["reasons"]
    assert shown["score"] == full["score"]
    assert all(f["severity"] == "critical" for f in shown["findings"])
    assert shown["filter"]["hidden"] == len(full["findings"]) + len(full["suppressed"]) \
        - len(shown["findings"]) - len(shown["suppressed"]) > 0
    code, _out, err = run(capsys, "scan", str(archive), "--severity", "urgent")
    assert code == 2
    one_error(err, "--severity")


def test_ignore_suppresses_the_rule_with_its_reason(capsys: Any, archive: Path) -> None:
    _code, out, _ = run(capsys, "scan", str(archive), "-f", "json")
    rules = {f["rule_id"] for f in json.loads(out)["findings"]}
    assert "AUD-ROOT-USER" in rules
    _code, out, _ = run(capsys, "scan", str(archive), "-f", "json",
                        "--ignore", "aud-root-user", "--ignore", "AUD-NO-HEALTHCHECK")
    doc = json.loads(out)
    assert "AUD-ROOT-USER" not in {f["rule_id"] for f in doc["findings"]}
    hidden = [s for s in doc["suppressed"] if s["finding"]["rule_id"] == "AUD-ROOT-USER"]
    assert hidden and hidden[0]["kind"] == "--ignore" and hidden[0]["why"].startswith("--ignore")
    code, _out, err = run(capsys, "scan", str(archive), "--ignore", "AUD-NOPE")
    assert code == 2
    one_error(err, "AUD-NOPE")


def test_output_format_from_the_extension(capsys: Any, archive: Path, tmp_path: Path) -> None:
    code, _out, _ = run(capsys, "scan", str(archive), "-q", "-o", f"{tmp_path}/r.sarif",
                        "-o", f"{tmp_path}/r.json", "-o", f"{tmp_path}/r.cdx.json",
                        "-o", f"{tmp_path}/r.xml", "-o", f"{tmp_path}/r.md",
                        "-o", f"codequality={tmp_path}/cq.json")
    assert code == 1
    assert json.loads((tmp_path / "r.sarif").read_text())["version"] == "2.1.0"
    assert json.loads((tmp_path / "r.json").read_text())["schema"] == "auditor/report/v1"
    assert json.loads((tmp_path / "r.cdx.json").read_text())["bomFormat"] == "CycloneDX"
    assert (tmp_path / "r.xml").read_text().lstrip().startswith("<?xml")
    assert (tmp_path / "r.md").read_text().startswith("### auditor")
    assert isinstance(json.loads((tmp_path / "cq.json").read_text()), list)
    code, _out, err = run(capsys, "scan", str(archive), "-o", f"{tmp_path}/r.bin")
    assert code == 2
    one_error(err, "cannot tell the format")
    # A chosen --format is what a -o whose extension tells nothing writes, and -o - too.
    code, _out, _err = run(capsys, "scan", str(archive), "--format", "sarif", "-o",
                           f"{tmp_path}/r.bin")
    assert code == 1
    assert json.loads((tmp_path / "r.bin").read_text())["version"] == "2.1.0"
    code, out, _err = run(capsys, "scan", str(archive), "--format", "JSON", "-o", "-")
    assert code == 1 and json.loads(out)["schema"] == "auditor/report/v1"


def test_output_dash_is_stdout(capsys: Any, archive: Path, tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "scan", str(archive), "-o", "json=-")
    assert code == 1 and json.loads(out)["schema"] == "auditor/report/v1"
    assert not (tmp_path / "-").exists()
    code, _out, err = run(capsys, "scan", str(archive), "-o", "json=-", "-o", "sarif=-")
    assert code == 2
    one_error(err, "standard output")


def test_quiet_still_writes_the_json_report(capsys: Any, archive: Path) -> None:
    code, out, err = run(capsys, "scan", str(archive), "-q", "-f", "json")
    assert code == 1 and json.loads(out)["passed"] is False and err == ""


@pytest.mark.parametrize(("platform", "needle"), [
    ("bogus", "os/arch"), ("linux/bogus", "unknown architecture"),
    ("linux/arm64", "single-platform image for linux/amd64"),
], ids=["no-shape", "unknown-arch", "other-platform"])
def test_platform_is_checked(capsys: Any, archive: Path, platform: str, needle: str) -> None:
    code, _out, err = run(capsys, "scan", str(archive), "--platform", platform)
    assert code == 2
    one_error(err, needle)


def test_platform_alias_and_case_are_the_image_platform(capsys: Any, archive: Path) -> None:
    assert run(capsys, "scan", str(archive), "-q", "--platform", "Linux/X86_64")[0] == 1


def test_version_command_and_flag(capsys: Any) -> None:
    assert run(capsys, "version") == (0, f"auditor {__version__}\n", "")
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out == f"auditor {__version__}\n"


def _actions(parser: argparse.ArgumentParser, where: str) -> list[tuple[str, argparse.Action]]:
    out = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out += _actions(sub, f"{where} {name}")
        elif not isinstance(action, argparse._HelpAction):
            out.append((where, action))
    return out


def test_every_flag_has_help() -> None:
    missing = [f"{where} {'/'.join(a.option_strings) or a.dest}"
               for where, a in _actions(build_parser(), "auditor") if not a.help]
    assert missing == []


def test_format_help_lists_every_format() -> None:
    from auditor.reports import FORMATS

    scan = build_parser()._subparsers._group_actions[0].choices["scan"]  # type: ignore[union-attr]
    fmt = next(a for a in scan._actions if "--format" in a.option_strings)
    assert all(name in (fmt.help or "") for name in FORMATS)


def test_an_engine_that_accepts_and_never_answers_gives_up_in_time(
        capsys: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = str(tmp_path / "silent.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(8)
    held: list[socket.socket] = []
    done = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not done.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            held.append(conn)  # accepted, never answered

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    monkeypatch.setenv("DOCKER_HOST", f"unix://{path}")
    try:
        started = time.monotonic()
        code, _out, err = run(capsys, "scan", "silent/app:1", "--image-src", "engine",
                              "--timeout", "1")
        took = time.monotonic() - started
    finally:
        done.set()
        thread.join()
        for conn in held:
            conn.close()
        server.close()
    assert code == 2
    one_error(err, "sent nothing for 1 s")
    assert took < 3  # one timeout, not one per attempt


def test_timeout_must_be_positive(capsys: Any, archive: Path) -> None:
    code, _out, err = run(capsys, "scan", str(archive), "--timeout", "0")
    assert code == 2
    one_error(err, "--timeout")


def test_json_finding_has_action_and_suppressed_has_the_allow_list(
        capsys: Any, tmp_path: Path) -> None:
    layers = [layer(D("/bin"), F("/bin/busybox", b"\x7fELF", mode=0o755),
                    L("/bin/sh", "busybox"))]
    image = docker_save(tmp_path / "u.tar", layers, config=config_for(layers, user="1000"))
    policy = tmp_path / "p.toml"
    policy.write_text('extends = "default"\n[allow]\npaths = ["/bin/busybox"]\n')
    _code, out, _ = run(capsys, "scan", str(image), "-f", "json", "--policy", str(policy))
    doc = json.loads(out)
    assert all(f["action"] in ("fail", "warn", "ignore") for f in doc["findings"])
    allowed = [s for s in doc["suppressed"] if s["kind"] == "allow-list"]
    assert allowed and "/bin/busybox" in allowed[0]["why"]
    _code, out, _ = run(capsys, "scan", str(image), "--policy", str(policy), "--color", "never")
    assert "Suppressed (" in out


def test_env_vars_and_the_project_file_set_flags_below_the_command_line(
        capsys: Any, archive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".auditor.toml").write_text('format = "json"\nexit-code = 0\n'
                                            '[scan]\nignore = ["AUD-NO-HEALTHCHECK"]\n')
    code, out, _ = run(capsys, "scan", str(archive))
    doc = json.loads(out)
    assert code == 0 and doc["passed"] is False
    assert "AUD-NO-HEALTHCHECK" not in {f["rule_id"] for f in doc["findings"]}
    monkeypatch.setenv("AUDITOR_FORMAT", "MARKDOWN")
    monkeypatch.setenv("AUDITOR_EXIT_CODE", "5")
    code, out, _ = run(capsys, "scan", str(archive))
    assert code == 5 and out.startswith("### auditor")
    code, out, _ = run(capsys, "scan", str(archive), "-f", "json", "--exit-code", "3")
    assert code == 3 and json.loads(out)["schema"] == "auditor/report/v1"


@pytest.mark.parametrize(("text", "needle"), [
    ("format = [", "not valid TOML"), ("bogus = 1\n", "'bogus' is no flag"),
    ('color = "pink"\n', "wants one of"), ("exit-code = true\n", "single value"),
], ids=["not-toml", "unknown-key", "bad-choice", "bad-type"])
def test_a_bad_project_file_is_one_line_and_exit_2(capsys: Any, archive: Path,
                                                   tmp_path: Path, text: str,
                                                   needle: str) -> None:
    config = tmp_path / "a.toml"
    config.write_text(text)
    code, _out, err = run(capsys, "scan", str(archive), "--config", str(config))
    assert code == 2
    one_error(err, needle)


def test_every_flag_has_an_env_var_and_the_guide_names_it() -> None:
    from auditor.cli_config import COMMANDS_WITH_CONFIG, env_name, flag_actions

    guide = (Path(__file__).resolve().parent.parent / "docs" / "guide.md").read_text()
    subs = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    names = {env_name(a) for c in COMMANDS_WITH_CONFIG for a in flag_actions(subs[c])
             if a.dest != "config"}
    assert "AUDITOR_FAIL_ON" in names and "AUDITOR_SEVERITY" in names
    assert sorted(n for n in names if n not in guide) == []


def test_an_env_var_reaches_every_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    from auditor.cli_config import apply, env_name, flag_actions

    parser = build_parser()
    scan = parser._subparsers._group_actions[0].choices["scan"]  # type: ignore[union-attr]
    samples = {"exit_code": "4", "fail_under": "50", "timeout": "3", "format": "json",
               "color": "never", "verify": "true"}
    for action in flag_actions(scan):
        if action.dest != "config":
            monkeypatch.setenv(env_name(action), samples.get(action.dest, "1" if
                               action.nargs == 0 else "x"))
    apply(parser, ["scan", "img"], dict(__import__("os").environ))
    args = parser.parse_args(["scan", "img"])
    assert args.exit_code == 4 and args.fail_under == 50 and args.timeout == 3.0
    assert args.verify is True and args.quiet is True and args.ignore == ["x"]


def test_the_project_file_may_hold_the_policy_and_its_waivers(
        capsys: Any, archive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".auditor.toml").write_text(
        'format = "json"\n[policy]\nextends = "default"\nname = "team"\n'
        '[[policy.waivers]]\nrule = "AUD-ROOT-USER"\nreason = "the base runs as root"\n'
        'expires = 2999-01-01\n')
    _code, out, _ = run(capsys, "scan", str(archive))
    doc = json.loads(out)
    assert doc["policy"]["name"] == "team"
    waived = [s for s in doc["suppressed"] if s["kind"] == "waiver"]
    assert waived and waived[0]["finding"]["rule_id"] == "AUD-ROOT-USER"
    _code, out, _ = run(capsys, "scan", str(archive), "--policy", "strict")
    assert json.loads(out)["policy"]["name"] == "strict"  # the flag wins

"""The command line through main(argv): exit codes and one-line errors, never a traceback."""

import json

import pytest

from auditor.cli import main
from tests.imagekit import docker_save
from tests.layerkit import D, F, L, layer


@pytest.fixture
def archive(tmp_path):
    return docker_save(tmp_path / "img.tar", [
        layer(D("/bin"), F("/bin/busybox", b"\x7fELF", mode=0o755), L("/bin/sh", "busybox"),
              F("/bin/odd\udcffname", "x"), F("/bin/new\nline", "y")),
    ])


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(("argv", "needle"), [
    (["scan", "/no/such/file.tar"], "no such file"),
    (["scan", "docker-archive:/no/such.tar"], "no such file"),
    (["scan", "/etc/hostname"], "not an image archive"),
    (["scan", "/tmp"], "not an OCI image layout"),
    (["scan", "x", "--format", "xml"], "unknown format"),
    (["frobnicate"], "invalid choice"),
], ids=["missing-path", "missing-archive", "not-a-tar", "plain-dir", "bad-format",
        "bad-command"])
def test_bad_input_is_one_line_and_exit_2(capsys, argv, needle):
    code, _out, err = run(capsys, *argv)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: ") and needle in err
    assert "Traceback" not in err


def test_engine_unreachable_says_how_to_point_docker_host(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/absent.sock")
    code, _out, err = run(capsys, "scan", "myapp:latest")
    assert code == 2 and "cannot reach a Docker Engine" in err and "DOCKER_HOST" in err


def test_scan_json_has_the_image_part_of_the_contract(capsys, archive):
    code, out, _ = run(capsys, "scan", str(archive), "--format", "json", "--policy", "dev")
    assert code == 0
    doc = json.loads(out)
    assert doc["schema"] == "auditor/report/v1"
    assert doc["image"]["layers"][0]["index"] == 0
    assert {"reference", "id", "size_bytes", "user", "entrypoint", "cmd"} <= set(doc["image"])


def test_scan_writes_several_outputs(capsys, archive, tmp_path):
    code, out, _ = run(capsys, "scan", str(archive), "-o", f"json={tmp_path}/r.json", "--quiet",
                       "--policy", "dev")
    assert code == 0 and out.count("\n") == 1 and out.startswith("PASSED")
    assert json.loads((tmp_path / "r.json").read_text())["schema"] == "auditor/report/v1"


def test_ls_text_escapes_odd_names(capsys, archive):
    code, out, _ = run(capsys, "ls", str(archive))
    assert code == 0
    assert "/bin/odd\\xffname" in out and "/bin/new\\nline" in out
    assert "/bin/sh -> busybox" in out
    assert len(out.splitlines()) == 5


def test_ls_json_lines_round_trip_raw_names(capsys, archive):
    import base64
    _code, out, _ = run(capsys, "ls", str(archive), "/bin/*", "--format", "json")
    rows = [json.loads(line) for line in out.splitlines()]
    odd = next(r for r in rows if "path_b64" in r)
    assert base64.b64decode(odd["path_b64"]) == b"/bin/odd\xffname"
    assert any(r["path"] == "/bin/new\nline" for r in rows)
    assert {r["type"] for r in rows} >= {"file", "symlink"}


def test_a_policy_failure_is_exit_1_with_the_reason(capsys, archive):
    # no USER: root, and a busybox shell: the default policy fails the image
    code, out, _ = run(capsys, "scan", str(archive), "--color", "never")
    assert code == 1
    assert "FAILED" in out and "root-user" in out


def test_a_bad_policy_file_is_exit_2_naming_the_key(capsys, archive, tmp_path):
    bad = tmp_path / "p.toml"
    bad.write_text('name = "x"\nbogus = 1\n')
    code, _out, err = run(capsys, "scan", str(archive), "--policy", str(bad))
    assert code == 2 and "bogus" in err and err.count("\n") == 1


def test_json_report_is_strict_json_even_for_names_that_are_not_utf8(capsys, tmp_path):
    import base64

    from tests.conftest import FIXTURES
    from tests.imagekit import config_for

    # the fixtures' fake test key (fixtures/trouble/TEST-KEY.md), under an odd name
    key_text = (FIXTURES / "trouble" / "id_rsa").read_bytes()
    layers = [layer(F("/app/odd\udcffkey.pem", key_text))]
    archive = docker_save(tmp_path / "odd.tar", layers, config=config_for(layers, user="1000"))
    code, out, _ = run(capsys, "scan", str(archive), "-f", "json", "--policy", "dev")
    out.encode("utf-8")  # no lone surrogates: strict parsers accept it
    doc = json.loads(out)
    key = next(f for f in doc["findings"] if f["category"] == "secret")
    assert key["path"] == "/app/odd\\xffkey.pem"
    assert base64.b64decode(key["path_b64"]) == b"/app/odd\xffkey.pem"
    assert code == 1  # dev fails on secrets


def test_verify_turns_a_corrupt_layer_into_one_line_and_exit_2(capsys, archive):
    data = archive.read_bytes()
    archive.write_bytes(data.replace(b"\x7fELF", b"\x7fELG"))  # content only: tar still parses
    code, _out, err = run(capsys, "scan", str(archive), "--verify", "--format", "json")
    assert code == 2 and err.count("\n") == 1 and "does not match" in err
    code, out, _err = run(capsys, "scan", str(archive), "--format", "json")
    assert code in (0, 1) and json.loads(out)["image"]
    code, _out, err = run(capsys, "ls", str(archive), "--verify")
    assert code == 2 and "does not match" in err


@pytest.mark.parametrize("argv", [["version"], ["rules"], ["rules", "--markdown"],
                                  ["policy", "show", "default"], ["scan", "ARCHIVE"],
                                  ["ls", "ARCHIVE"]])
def test_a_full_disk_behind_stdout_is_one_error_line(archive, argv):
    # `auditor ... > FILE` on a full disk: the command as installed (cli.run), in a process
    # of its own, since run() leaves with os._exit
    import subprocess
    import sys

    argv = [str(archive) if a == "ARCHIVE" else a for a in argv]
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "auditor", *argv], stdout=full,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr == "error: cannot write to standard output: No space left on device\n"


def test_the_installed_command_exits_with_mains_code_and_all_its_output(archive, tmp_path):
    import subprocess
    import sys

    ok = subprocess.run([sys.executable, "-m", "auditor", "scan", str(archive), "--format",
                         "json", "--exit-code", "0"], capture_output=True, text=True,
                        timeout=120)
    assert ok.returncode == 0 and json.loads(ok.stdout)["schema"] == "auditor/report/v1"
    failed = subprocess.run([sys.executable, "-m", "auditor", "scan", str(archive),
                             "--format", "json", "--exit-code", "7"],
                            capture_output=True, text=True, timeout=120)
    assert failed.returncode == 7 and json.loads(failed.stdout)["passed"] is False

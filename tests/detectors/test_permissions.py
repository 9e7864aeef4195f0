from __future__ import annotations

import pytest

from auditor.detectors.permissions import detect, detect_world_writable
from auditor.inventory import Package
from tests.detectors.configkit import context_of, run
from tests.layerkit import D, F, H, L

ELF = b"\x7fELF" + b"\0" * 60
BASE = [D("/etc"), F("/etc/passwd", "root:x:0:0::/root:/bin/sh\n"),
        F("/etc/group", "root:x:0:\nshadow:x:42:\n"), D("/usr"), D("/usr/bin"),
        D("/usr/local"), D("/usr/local/bin")]
LOGIN = Package("login", "1:4.13", "deb", files=("/usr/bin/su", "/usr/bin/chage"))
LIBC = Package("libc6", "2.36", "deb", files=("/usr/lib/libc.so.6",))


def setuid_findings(*specs, packages=(LOGIN, LIBC)):
    return run(detect, context_of([*BASE, *specs], packages=packages))


def test_package_setuid_file_is_low_and_names_its_package():
    [f] = setuid_findings(F("/usr/bin/su", ELF, mode=0o4755))
    assert (f.rule_id, f.category, f.severity) == ("AUD-SETUID", "setuid", "low")
    assert f.package_label == "login@1:4.13"
    assert f.evidence["package_owned"] is True and "login" in f.evidence["origin"]


def test_setuid_root_file_no_package_owns_is_high():
    [f] = setuid_findings(F("/usr/local/bin/helper", ELF, mode=0o4755))
    assert f.severity == "high" and f.package_label is None
    assert f.evidence["package_owned"] is False and "uid 0 (root)" in f.message


def test_without_a_distribution_database_it_cannot_tell_so_medium():
    py = Package("six", "1.16.0", "python", files=("/usr/lib/python3/six.py",))
    [f] = setuid_findings(F("/usr/local/bin/helper", ELF, mode=0o4755), packages=[py])
    assert f.severity == "medium" and "no distribution package database" in f.message


def test_setuid_to_a_non_root_owner_is_medium():
    [f] = setuid_findings(F("/usr/local/bin/games", ELF, mode=0o4755, uid=5))
    assert f.severity == "medium"


def test_setgid_names_the_group():
    [f] = setuid_findings(F("/usr/bin/chage", ELF, mode=0o2755, gid=42))
    assert (f.rule_id, f.severity) == ("AUD-SETGID", "low")
    assert "gid 42 (shadow)" in f.message


def test_setuid_and_setgid_together_is_one_finding():
    found = setuid_findings(F("/usr/local/bin/both", ELF, mode=0o6755))
    assert [f.rule_id for f in found] == ["AUD-SETUID"]
    assert found[0].evidence["setgid"] is True


def test_hard_links_to_one_setuid_file_are_one_finding():
    [f] = setuid_findings(F("/usr/local/bin/a", ELF, mode=0o4755), H("/usr/local/bin/b",
                                                                    "/usr/local/bin/a"))
    assert f.paths == ("/usr/local/bin/a", "/usr/local/bin/b")


@pytest.mark.parametrize("spec", [
    D("/var/mail", mode=0o2775),
    F("/usr/local/bin/noexec", b"x", mode=0o4644),
    F("/usr/local/bin/plain", ELF, mode=0o755),
    L("/usr/local/bin/link", "/usr/bin/su"),
], ids=["setgid-directory", "setuid-without-exec-bit", "plain-executable", "symlink"])
def test_not_setuid(spec):
    assert setuid_findings(spec) == []


def writable(*specs):
    return run(detect_world_writable, context_of([*BASE, *specs]))


@pytest.mark.parametrize("specs", [
    [D("/tmp", mode=0o1777), F("/tmp/x", b"x", mode=0o666)],
    [D("/var"), D("/var/tmp", mode=0o1777), D("/var/tmp/d", mode=0o777)],
    [D("/srv", mode=0o1777)],
    [D("/app"), F("/app/x", b"x", mode=0o664)],
    [D("/app"), L("/app/link", "/etc/passwd")],
], ids=["files-in-tmp", "dirs-in-var-tmp", "sticky-shared-dir", "group-writable-only",
        "symlink-mode-777"])
def test_not_world_writable(specs):
    assert writable(*specs) == []


def test_world_writable_directory_folds_its_contents():
    [f] = writable(D("/app", mode=0o777), D("/app/data", mode=0o777),
                   F("/app/data/x", b"abc", mode=0o666), F("/app/ok", b"x", mode=0o644))
    assert (f.rule_id, f.category, f.severity, f.path) == (
        "AUD-WORLD-WRITABLE", "config", "medium", "/app")
    assert f.evidence["world_writable_beneath"] == 2
    assert f.paths == ("/app", "/app/data", "/app/data/x")


def test_world_writable_file_outside_scratch_dirs():
    [f] = writable(D("/app"), F("/app/config.yml", b"a: 1", mode=0o666))
    assert f.path == "/app/config.yml" and f.severity == "medium"


def test_non_sticky_tmp_itself_is_reported():
    [f] = writable(D("/tmp", mode=0o777))
    assert f.path == "/tmp" and "not sticky" in f.message


@pytest.mark.parametrize("specs, path", [
    ([F("/usr/local/bin/tool", ELF, mode=0o777)], "/usr/local/bin/tool"),
    ([D("/usr/local/bin/plugins", mode=0o777)], "/usr/local/bin/plugins"),
    ([F("/etc/app.conf", b"x", mode=0o666)], "/etc/app.conf"),
], ids=["executable-in-bin", "directory-in-bin", "file-in-etc"])
def test_world_writable_where_root_runs_or_reads_is_high(specs, path):
    [f] = writable(*specs)
    assert f.path == path and f.severity == "high"

from __future__ import annotations

import pytest

from auditor.detectors.config import detect, detect_instructions, detect_sudo
from auditor.inventory import Package
from auditor.model.image import ImageConfig
from tests.detectors.configkit import context_of, nop, run
from tests.layerkit import D, F, L

ELF = b"\x7fELF" + b"\0" * 60
APP = [D("/app"), F("/app/run", ELF, mode=0o755)]


def config_findings(rule_id: str, history=None, **config) -> list:
    ctx = context_of(APP, config=ImageConfig(**config),
                     history=history or ["/bin/sh -c #(nop) COPY file:1 in /app/run "])
    return run(detect, ctx, rule_id)


def test_no_healthcheck_is_info():
    [f] = config_findings("AUD-NO-HEALTHCHECK")
    assert (f.category, f.severity, f.path) == ("config", "info", None)


def test_no_healthcheck_on_a_service_is_low():
    [f] = config_findings("AUD-NO-HEALTHCHECK", exposed_ports=("8080/tcp",))
    assert f.severity == "low" and "8080/tcp" in f.message


def test_healthcheck_none_counts_as_none():
    history = ["/bin/sh -c #(nop) COPY file:1 in /app/run ",
               nop("/bin/sh -c #(nop)  HEALTHCHECK NONE")]
    [f] = config_findings("AUD-NO-HEALTHCHECK", history=history, healthcheck=("NONE",))
    assert f.created_by == "/bin/sh -c #(nop)  HEALTHCHECK NONE"


def test_healthcheck_set():
    assert config_findings("AUD-NO-HEALTHCHECK", healthcheck=("CMD", "/app/run")) == []


@pytest.mark.parametrize("history", [
    nop("/bin/sh -c #(nop)  EXPOSE 22"), nop("EXPOSE map[22/tcp:{}]")],
    ids=["legacy", "buildkit"])
def test_ssh_port(history):
    [f] = config_findings("AUD-SSH-PORT", history=[
        "/bin/sh -c #(nop) COPY file:1 in /app/run ", nop("/bin/sh -c #(nop)  EXPOSE 2222"),
        history], exposed_ports=("22/tcp", "2222/tcp"))
    assert "22" in f.message and f.layer is None
    assert f.created_by == history.created_by


@pytest.mark.parametrize("ports", [("2222/tcp",), ("22/udp",), ("8022/tcp",)],
                         ids=["2222", "udp-22", "8022"])
def test_not_ssh_port(ports):
    assert config_findings("AUD-SSH-PORT", exposed_ports=ports) == []


@pytest.mark.parametrize("volume, severity", [
    ("/proc", "medium"), ("/sys/fs/cgroup", "medium"), ("/dev", "medium"), ("/", "medium"),
    ("/etc", "low"), ("/var/run/docker.sock", "low"),
], ids=["proc", "sys-subdir", "dev", "root", "etc", "docker-socket"])
def test_sensitive_volume(volume, severity):
    [f] = config_findings("AUD-SENSITIVE-VOLUME", volumes=(volume,))
    assert f.severity == severity and volume in f.message


@pytest.mark.parametrize("volume", ["/data", "/var/lib/postgresql/data", "/procedures",
                                    "/device"])
def test_ordinary_volume(volume):
    assert config_findings("AUD-SENSITIVE-VOLUME", volumes=(volume,)) == []


# -- sudo -------------------------------------------------------------------------------

MERGED = [D("/usr"), D("/usr/bin"), L("/bin", "usr/bin"), D("/etc")]


def sudo_findings(*specs, packages=()):
    return run(detect_sudo, context_of([*MERGED, *specs], packages=packages))


def test_sudo_installed_once_through_merged_usr():
    pkg = Package("sudo", "1.9.13", "deb", files=("/usr/bin/sudo",))
    [f] = sudo_findings(F("/usr/bin/sudo", ELF, mode=0o4755), packages=[pkg])
    assert (f.rule_id, f.severity, f.path, f.package_label) == (
        "AUD-SUDO", "medium", "/usr/bin/sudo", "sudo@1.9.13")
    assert f.paths == ("/usr/bin/sudo",)


def test_passwordless_sudo_is_high():
    [f] = sudo_findings(F("/usr/bin/sudo", ELF, mode=0o4755), D("/etc/sudoers.d"),
                        F("/etc/sudoers", "root ALL=(ALL:ALL) ALL\n# %x ALL=NOPASSWD: ALL\n"),
                        F("/etc/sudoers.d/app", "app ALL=(ALL) NOPASSWD: ALL\n"))
    assert f.severity == "high"
    assert f.evidence["passwordless_rules"] == ["/etc/sudoers.d/app: app ALL=(ALL) NOPASSWD: ALL"]


def test_doas_with_nopass():
    [f] = sudo_findings(F("/usr/bin/doas", ELF, mode=0o4755),
                        F("/etc/doas.conf", "permit nopass app as root\n"))
    assert f.evidence["tool"] == "doas" and f.severity == "high"


@pytest.mark.parametrize("specs", [
    [F("/usr/bin/sudoedit-notes", b"x")], [D("/etc/sudoers.d")], [D("/usr/bin/sudo")]],
    ids=["similar-name", "config-without-binary", "directory-named-sudo"])
def test_no_sudo(specs):
    assert sudo_findings(*specs) == []


# -- ADD, WORKDIR, MAINTAINER --------------------------------------------------------------

def instruction_findings(layers, history):
    return run(detect_instructions, context_of(*layers, history=history))


def test_legacy_remote_add_is_a_bare_hash():
    [f] = instruction_findings([[D("/r"), F("/r/README", b"x", mode=0o600)]],
                               ["/bin/sh -c #(nop) ADD " + "9" * 64 + " in /r/README "])
    assert (f.rule_id, f.severity, f.layer) == ("AUD-ADD-REMOTE", "medium", 0)
    assert "/r/README" in f.message and f.created_by.startswith("/bin/sh -c #(nop) ADD 999")


def test_buildkit_remote_add():
    [f] = instruction_findings([[F("/app.bin", b"x")]],
                               ["ADD https://example.com/app.bin /app.bin # buildkit"])
    assert f.rule_id == "AUD-ADD-REMOTE" and f.evidence["urls"] == ["https://example.com/app.bin"]


def test_buildkit_remote_add_with_checksum_is_pinned():
    assert instruction_findings([[F("/app.bin", b"x")]], [
        "ADD --checksum=sha256:" + "a" * 64 + " https://example.com/app.bin /app.bin "
        "# buildkit"]) == []


@pytest.mark.parametrize("created_by, layer", [
    ("/bin/sh -c #(nop) ADD file:" + "1" * 64 + " in /app/ ", [D("/app"), F("/app/a.py", b"x")]),
    ("/bin/sh -c #(nop) ADD dir:" + "2" * 64 + " in /app ", [D("/app"), F("/app/a", b"x"),
                                                            F("/app/b", b"x")]),
    ("ADD app.py /app/ # buildkit", [D("/app"), F("/app/app.py", b"x")]),
    ("/bin/sh -c #(nop) ADD file:" + "8" * 64 + " in /app/run ", [D("/app"),
                                                                F("/app/run", b"x")]),
    ("/bin/sh -c #(nop) ADD file:" + "9" * 64 + " in / ", [F("/run.sh", b"x")]),
], ids=["legacy-single-file", "legacy-directory", "buildkit-plain-file",
        "legacy-file-to-its-name", "legacy-file-into-root"])
def test_add_where_copy_would_do(created_by, layer):
    [f] = instruction_findings([layer], [created_by])
    assert (f.rule_id, f.severity) == ("AUD-ADD-LOCAL", "low")


@pytest.mark.parametrize("created_by, layer", [
    ("/bin/sh -c #(nop) ADD file:" + "3" * 64 + " in / ",
     [D("/etc"), F("/etc/os-release", b"x"), D("/bin"), F("/bin/sh", ELF, mode=0o755)]),
    ("ADD rootfs.tar.xz / # buildkit", [F("/etc/os-release", b"x")]),
    ("/bin/sh -c #(nop) ADD multi:" + "4" * 64 + " in /app/ ", [D("/app"), F("/app/a", b"x")]),
    ("/bin/sh -c #(nop) COPY file:" + "5" * 64 + " in /app/a ", [D("/app"), F("/app/a", b"x")]),
    # `ADD busybox.tar /`: one regular file, its applet links and directories unpacked
    ("/bin/sh -c #(nop) ADD file:" + "6" * 64 + " in / ",
     [D("/bin"), F("/bin/busybox", ELF, mode=0o755), L("/bin/sh", "busybox"),
      L("/bin/ls", "busybox")]),
    # an archive holding one file in a directory: a plain ADD would put the file at /name
    ("/bin/sh -c #(nop) ADD file:" + "7" * 64 + " in / ",
     [D("/opt"), D("/opt/tools"), F("/opt/tools/bb", ELF, mode=0o755)]),
], ids=["base-rootfs-unpacked", "buildkit-archive", "legacy-multi-cannot-tell", "copy",
        "legacy-archive-of-one-file-and-links", "legacy-archive-of-one-nested-file"])
def test_add_that_is_fine(created_by, layer):
    assert instruction_findings([layer], [created_by]) == []


def test_relative_workdir_from_buildkit_and_maintainer():
    found = instruction_findings([[D("/src")]], [
        nop("/bin/sh -c #(nop)  MAINTAINER someone <a@b.c>"), "WORKDIR src"])
    assert [(f.rule_id, f.severity) for f in found] == [
        ("AUD-MAINTAINER", "info"), ("AUD-WORKDIR-RELATIVE", "info")]
    assert found[1].created_by == "WORKDIR src"


def test_absolute_workdir():
    assert instruction_findings([[D("/src")]], ["/bin/sh -c #(nop) WORKDIR /src"]) == []

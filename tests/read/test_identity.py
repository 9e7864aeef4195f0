"""Identity strings and BusyBox's applet table, found in read-only data."""

from __future__ import annotations

import pytest

from auditor.read.elf import read_elf_facts
from auditor.read.identity import PATTERNS, applet_table, identify, toybox_applets
from tests.detectors.toolkit import applet_names, default_tar_busybox, elf_program

# One sample per pattern, as the program's own binary holds it (Debian 12's, apk-tools'
# source for apk).
SAMPLES = {
    "BusyBox banner": b"BusyBox v1.36.1 (2024-06-10 07:11:47 UTC) multi-call binary.",
    "toybox help header": b"Toybox %s multicall binary%s\n\n",
    "GNU bash version string": b"GNU bash, version %s (%s)\n",
    "dash NDELAY message": b"sh: turning off NDELAY mode",
    "MirBSD Korn shell version": b"KSH_VERSION=@(#)MIRBSD KSH R59 2023/04/29 +Debian",
    "zsh version string": b"zsh %s (%s-%s-%s)\n",
    "curl usage line": b"Usage: curl [options...] <url>\n",
    "GNU Wget version string": b"GNU Wget %s built on %s.\n\n",
    "OpenBSD netcat banner": b"OpenBSD netcat (Debian patchlevel 1.219-1)\n",
    "gcc driver version string": b"gcc driver version %s %sexecuting gcc version %s\n",
    "GNU C compiler proper (cc1)": b"%s\tcompiled by GNU C version %s, ",
    "GNU Make version string": b"%sGNU Make %s\n",
    "dpkg version string": b"Debian '%s' package management program version %s.\n",
    "apt-get usage line": b"Usage: apt-get [options] command\n",
    "apt usage line": b"Usage: apt [options] command\n",
    "RPM version string": b"RPM version %s\n",
    "apk-tools version string": b"apk-tools 2.14.4, compiled for x86_64.\n",
}


def test_every_pattern_has_a_sample():
    assert {label for _, label, *_ in PATTERNS} == set(SAMPLES)


@pytest.mark.parametrize("command, label", [(c, label) for c, label, *_ in PATTERNS],
                         ids=[label for _, label, *_ in PATTERNS])
def test_each_pattern_finds_its_program_among_other_strings(command, label):
    data = b"\0usage: %s [-h]\0" + SAMPLES[label] + b"\0Copyright (C) 2023\0"
    found = dict(identify(data))
    assert list(found) == [command]
    assert found[command].startswith(label + " ")


@pytest.mark.parametrize("data", [
    b"bash\0sh\0curl\0wget\0busybox\0",  # names alone
    b"see bash(1); GNU bash is the shell\0",  # bash in help text
    b"curl 7.88.1\0libcurl/7.88.1 OpenSSL/3.0\0",  # what a libcurl user may hold
    b"apk-tools\0, compiled for\0",  # the parts, not the banner
    b"BusyBox is a multi-call binary\0",  # no version
    b"Usage: curl_easy_init\0",
], ids=["names", "help-text", "libcurl-strings", "apk-parts", "busybox-no-version",
        "usage-of-something-else"])
def test_words_that_other_programs_hold_are_no_identity(data):
    assert identify(data) == ()


def test_the_applet_table_is_the_longest_sorted_run_of_names():
    table = applet_names(*[f"app{i:02d}" for i in range(30)], "sh", "wget")
    unsorted = b"".join(f"z{i}\0".encode() for i in (5, 3, 9, 1, 7) * 6)
    found = applet_table(b"\0" + unsorted + b"\0junk\0" + table + b"more\0")
    assert found[0] == "app00" and "sh" in found and "wget" in found and len(found) == 32


def test_a_short_or_unsorted_run_is_no_applet_table():
    assert applet_table(applet_names("a", "b", "c", "sh")) == ()
    assert applet_table(b"".join(f"{n}\0".encode() for n in reversed(range(100, 150)))) == ()


def test_the_real_busybox_table_is_read_exactly():
    facts = read_elf_facts(*_forward(default_tar_busybox()), identify_as=True)
    assert facts is not None
    assert facts.identity[0][0] == "busybox"
    assert facts.applets[:3] == ("[", "[[", "acpid")
    assert {"sh", "ash", "wget", "nc", "dpkg", "rpm"} <= set(facts.applets)
    assert "bash" not in facts.applets and "curl" not in facts.applets


def _forward(data: bytes):
    pos = 1024

    def read(n: int) -> bytes:
        nonlocal pos
        chunk = data[pos:pos + n]
        pos += len(chunk)
        return chunk

    return data[:1024], read, len(data)


@pytest.mark.parametrize("random_access", [False, True], ids=["stream", "random-access"])
def test_elf_identity_only_for_executables_asked_and_only_in_read_only_data(random_access):
    program = elf_program(b"\0GNU bash, version %s\0",
                          first_segment=b"\0Usage: curl [options...] <url>\0")

    def facts(identify_as: bool):
        head, read, size = _forward(program)
        read_at = (lambda o, n: program[o:o + n]) if random_access else None
        return read_elf_facts(head, read, size, read_at=read_at, identify_as=identify_as)

    asked = facts(True)
    assert asked is not None and asked.identity == (
        ("bash", "GNU bash version string 'GNU bash, version %s'"),)
    assert facts(False).identity == ()


def test_identity_past_the_scan_bound_is_not_searched(monkeypatch):
    import auditor.read.elf as elf

    monkeypatch.setattr(elf, "SCAN_BYTES", 4096)
    program = elf_program(b"\0" * 8192 + b"GNU bash, version %s\0")
    facts = read_elf_facts(*_forward(program), identify_as=True)
    assert facts is not None and facts.identity == ()


def test_toybox_commands_are_read_from_its_help_data():
    help_data = (b"\0usage: toybox [--long | --help | --version | [COMMAND]]\n\nList.\0"
                 b"usage: acpi [-abctV]\n\nShow status.\0\xfftrue\0usage: [ EXPR ]\0"
                 b"Clear the screen.\0usage: nbd-client [-ns] HOST PORT DEVICE\0"
                 b"usage: sh [-c CMD]\n\0usage: sh again\0usage: wget URL\0\0"
                 b"usage: later [-x]\0")
    assert toybox_applets(b"\0junk\0usage: sh\0" + help_data) == (
        "acpi", "[", "nbd-client", "sh", "wget")


def test_a_toybox_built_without_help_has_no_command_list():
    assert toybox_applets(b"\0Toybox %s multicall binary%s\n\n\0usage: sh [-c]\0") == ()

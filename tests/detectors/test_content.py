"""Tools recognised by what they hold, not what they are called: BusyBox's banner and applet
table, a program's identity strings, a console-script wrapper's entry point. The layers go
through the real reader, so the ELF identity is found as it is in a scan."""

from __future__ import annotations

from functools import partial

import pytest

from auditor.detectors import network_tools, package_managers, shells
from auditor.detectors.compilers import COMPILER
from auditor.detectors.compilers import detect as compilers
from auditor.detectors.network_tools import DOWNLOADER, NET_MULTICALL
from auditor.detectors.package_managers import LANG_PKG_MANAGER, PKG_MANAGER_MULTICALL
from auditor.detectors.shells import SHELL, SHELL_MULTICALL
from tests.detectors.toolkit import (
    applet_names,
    default_tar_busybox,
    elf_program,
    exe,
    merged_usr,
    package,
    run_detector,
)
from tests.layerkit import D, F, L

shell_findings = partial(run_detector, shells.detect)
network_findings = partial(run_detector, network_tools.detect)
package_findings = partial(run_detector, package_managers.detect)
TOOL_DETECTORS = (shells.detect, network_tools.detect, package_managers.detect, compilers)


def everything(*layers):
    return [f for detect in TOOL_DETECTORS for f in run_detector(detect, *layers)]


@pytest.fixture(scope="module")
def busybox_bytes() -> bytes:
    return default_tar_busybox()


def test_a_renamed_busybox_off_the_path_is_every_category_its_applet_table_holds(
        busybox_bytes):
    layer = [D("/opt"), D("/opt/tools"), exe("/opt/tools/bb", busybox_bytes)]
    found = {f.rule_id: f for f in everything(layer)}
    assert set(found) == {SHELL_MULTICALL.id, NET_MULTICALL.id, PKG_MANAGER_MULTICALL.id}
    # Debian's busybox-static 1.35: exactly these applets of each category, read from the
    # binary's own table (there is not one link to go by)
    assert found[SHELL_MULTICALL.id].evidence["applets"] == ["sh", "ash"]
    assert found[NET_MULTICALL.id].evidence["applets"] == [
        "wget", "nc", "telnet", "ftpget", "ftpput", "tftp"]
    assert found[NET_MULTICALL.id].severity == "high"  # wget is among them
    assert found[PKG_MANAGER_MULTICALL.id].evidence["applets"] == ["dpkg", "dpkg-deb", "rpm"]
    for finding in found.values():
        assert finding.path == "/opt/tools/bb" and finding.paths == ("/opt/tools/bb",)
        assert finding.evidence.recognised_by is not None
        assert finding.evidence.recognised_by.startswith("content:BusyBox banner 'BusyBox v1.")
        assert "applets" in finding.evidence.recognised_by
        assert "recognised by its content: BusyBox banner" in finding.message
        assert finding.bytes == len(busybox_bytes)


def test_busybox_copied_as_bin_sh_is_still_busybox(busybox_bytes):
    # what `auditor fix` once wrote for the README's image: COPY --from=build /bin/sh /bin/sh
    layer = [D("/bin"), exe("/bin/sh", busybox_bytes)]
    found = {f.rule_id: f for f in everything(layer)}
    assert set(found) == {SHELL_MULTICALL.id, NET_MULTICALL.id, PKG_MANAGER_MULTICALL.id}
    assert found[SHELL_MULTICALL.id].evidence["program"] == "busybox"
    assert found[NET_MULTICALL.id].path == "/bin/sh"


def test_the_applet_table_decides_not_the_links():
    # a wget link to a BusyBox built without wget runs nothing: no downloader
    table = applet_names("[", "[[", "cat", "cp", "echo", "grep", "head", "ls", "mkdir", "mv",
                         "rm", "sed", "sh", "sort", "tail", "touch", "tr", "true", "uniq",
                         "wc", "xargs")
    binary = elf_program(b"BusyBox v1.36.1 (2024-01-01) multi-call binary.\0" + table)
    layer = [D("/bin"), exe("/bin/busybox", binary), L("/bin/wget", "busybox"),
             L("/bin/sh", "busybox")]
    assert network_findings(layer) == []
    [shell] = shell_findings(layer)
    assert shell.rule_id == SHELL_MULTICALL.id and shell.evidence["applets"] == ["sh"]
    assert shell.paths == ("/bin/busybox", "/bin/sh")


def test_an_elf_with_a_shells_identity_string_is_that_shell_wherever_it_lies():
    binary = elf_program(b"\0GNU bash, version %s (%s)\n\0")
    [finding] = shell_findings([D("/srv"), exe("/srv/helper", binary)])
    assert finding.rule_id == SHELL.id and finding.path == "/srv/helper"
    assert finding.evidence["tool"] == "bash"
    assert finding.evidence.recognised_by == "content:GNU bash version string " \
                                             "'GNU bash, version %s'"
    assert "recognised by its content: GNU bash version string" in finding.message


def test_a_shell_found_by_path_says_so_and_what_its_content_confirms():
    binary = elf_program(b"\0GNU bash, version %s (%s)\n\0")
    found = shell_findings([*merged_usr(), exe("/usr/bin/bash", binary)],
                           packages=[package("bash", "/usr/bin/bash")])
    [finding] = found
    assert finding.evidence.recognised_by == "path"
    assert finding.evidence["content"] == ["GNU bash version string 'GNU bash, version %s'"]
    assert "recognised by" not in finding.message


def test_package_owned_copies_off_the_path_join_their_packages_finding():
    binary = elf_program(b"@(#)MIRBSD KSH R59 2023/04/29\0")
    layers = [*merged_usr(), exe("/usr/bin/mksh", binary), D("/usr/lib/klibc"),
              D("/usr/lib/klibc/bin"), exe("/usr/lib/klibc/bin/mksh", binary)]
    found = shell_findings(layers, packages=[package("mksh", "/usr/bin/mksh",
                                                     "/usr/lib/klibc/bin/mksh")])
    assert [(f.path, f.paths) for f in found] == [
        ("/usr/bin/mksh", ("/usr/bin/mksh", "/usr/lib/klibc/bin/mksh"))]


@pytest.mark.parametrize("layer", [
    pytest.param([D("/opt"), exe("/opt/tool", elf_program(
        b"\0Run bash -c for a GNU bash, version check; curl and wget also work.\0"))],
        id="help-text-naming-bash-curl-wget"),
    pytest.param([D("/opt"), exe("/opt/tool", elf_program(
        b"\0hello\0", first_segment=b"\0GNU bash, version %s\0Usage: curl [options...] <url>\0"))],
        id="identity-only-in-the-first-segment-where-symbol-names-are"),
    pytest.param([D("/opt"), exe("/opt/libcurl.so.4", elf_program(
        b"\0Usage: curl [options...] <url>\0"))], id="a-library"),
    pytest.param([D("/opt"), F("/opt/bash-copy", elf_program(b"\0GNU bash, version %s\0"),
                               mode=0o644)], id="not-executable"),
    pytest.param([D("/opt"), exe("/opt/run.sh", b"#!/bin/sh\nexec bash -c 'pip install x'\n")],
                 id="shell-script-is-no-shell"),
    pytest.param([D("/opt"), exe("/opt/app", b"#!/usr/bin/python3\nfrom app.cli import main\n"
                                               b"# pip is not imported here\n")],
                 id="python-script-of-another-package"),
])
def test_no_tool_without_its_identity(layer):
    assert everything(layer) == []


def test_a_renamed_console_script_wrapper_is_its_package_manager():
    wrapper = (b"#!/usr/local/bin/python3.11\n# -*- coding: utf-8 -*-\nimport re\nimport sys\n"
               b"from pip._internal.cli.main import main\nif __name__ == '__main__':\n"
               b"    sys.exit(main())\n")
    [finding] = package_findings([D("/opt"), D("/opt/bin"), exe("/opt/bin/installer", wrapper)])
    assert finding.rule_id == LANG_PKG_MANAGER.id and finding.evidence["tool"] == "pip"
    assert finding.evidence.recognised_by.startswith(
        "content:shebang '#!/usr/local/bin/python3.11' and entry point "
        "'from pip._internal.cli.main import main'")


def test_identity_strings_of_downloaders_and_compilers():
    layers = [D("/opt"), exe("/opt/fetch", elf_program(b"\0Usage: curl [options...] <url>\0")),
              exe("/opt/cc", elf_program(
                  b"\0gcc driver version %s %sexecuting gcc version %s\n\0"))]
    assert [(f.rule_id, f.evidence["tool"]) for f in everything(layers)] == [
        (DOWNLOADER.id, "curl"), (COMPILER.id, "gcc")]

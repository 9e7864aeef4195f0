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


# -- Node package managers' own entry files ------------------------------------------------
# The lines that matter of each entry file as its package ships it (npm 10.9 and 6.14, yarn
# 1.22, pnpm 9 and 10, corepack 0.34), with the shebangs those packages and Node images use.
NODE_ENTRIES = {
    "npm-10-npm-cli": (b"#!/usr/bin/env node\nrequire('../lib/cli.js')(process)\n", "npm",
                       "require('../lib/cli.js')(process)"),
    "npm-10-npx-cli": (b"#!/usr/bin/env node\n\nconst cli = require('../lib/cli.js')\n\n"
                       b"// comment\nprocess.argv[1] = require.resolve('./npm-cli.js')\n"
                       b"process.argv.splice(2, 0, 'exec')\n", "npm",
                       "process.argv[1] = require.resolve('./npm-cli.js')"),
    "npm-6-npm-cli": (b"#!/usr/bin/env node\n;(function () {\n" + b"  // filler\n" * 30
                      + b"  process.title = 'npm'\n\n  var log = require('npmlog')\n", "npm",
                      "process.title = 'npm'"),
    "npm-6-npx-cli": (b"#!/usr/bin/env node\n\nconst npx = require('libnpx')\n"
                      b"const path = require('path')\n", "npm", "const npx = require('libnpx')"),
    "yarn-1": (b"#!/usr/bin/env node\n\n'use strict';\n" + b"// filler\n" * 40
               + b"  var cli = require(__dirname + '/../lib/cli');\n  if (!cli.autoRun) {\n"
               b"    cli.default()\n", "yarn", "var cli = require(__dirname + '/../lib/cli');"),
    "pnpm-10": (b"#!/usr/local/bin/node\n" + b"// filler comment line\n" * 40
                + b"global['pnpm__startedAt'] = Date.now()\nrequire('../dist/pnpm.cjs')\n",
                "pnpm", "global['pnpm__startedAt'] = Date.now()"),
    "pnpx": (b"#!/usr/bin/env node\n\nprocess.argv = [...process.argv.slice(0, 2), 'dlx', "
             b"...process.argv.slice(2)]\n\nrequire('./pnpm.cjs')\n", "pnpm",
             "require('./pnpm.cjs')"),
    "corepack-shim": (b"#!/usr/bin/env -S node --no-warnings\n"
                      b"process.env.COREPACK_ENABLE_DOWNLOAD_PROMPT??='1'\n"
                      b"require('./lib/corepack.cjs').runMain(['yarn', "
                      b"...process.argv.slice(2)]);\n",
                      "corepack", "require('./lib/corepack.cjs').runMain(['yarn'"),
}


@pytest.mark.parametrize("name", NODE_ENTRIES)
def test_a_node_package_managers_entry_file_renamed_off_the_path_is_that_manager(name):
    content, tool, line = NODE_ENTRIES[name]
    [finding] = package_findings([D("/opt"), D("/opt/js"), exe("/opt/js/helper", content)])
    assert finding.rule_id == LANG_PKG_MANAGER.id and finding.evidence["tool"] == tool
    shebang = content.split(b"\n", 1)[0].decode()
    assert finding.evidence.recognised_by == (
        f"content:shebang {shebang!r} and entry point {line!r}")
    assert finding.evidence["format"] == "script"
    assert "recognised by its content" in finding.message


def test_npm_on_the_path_says_so_and_what_its_content_confirms():
    content = NODE_ENTRIES["npm-10-npm-cli"][0]
    npm = "/usr/local/lib/node_modules/npm"
    layers = [D("/usr"), D("/usr/local"), D("/usr/local/bin"), D("/usr/local/lib"),
              D("/usr/local/lib/node_modules"), D(npm), D(f"{npm}/bin"),
              exe(f"{npm}/bin/npm-cli.js", content),
              L("/usr/local/bin/npm", "../lib/node_modules/npm/bin/npm-cli.js")]
    [finding] = package_findings(layers)
    assert finding.evidence["tool"] == "npm" and finding.evidence.recognised_by == "path"
    assert finding.evidence["content"] == [
        "shebang '#!/usr/bin/env node' and entry point \"require('../lib/cli.js')(process)\""]


def test_corepacks_shims_beside_it_are_corepack_not_tools_of_their_own():
    # the Node image: corepack on the path, its yarn and pnpm shims not enabled
    dist = "/usr/local/lib/node_modules/corepack/dist"
    shim = ("#!/usr/bin/env node\nrequire('./lib/corepack.cjs').runMain(['{}', "
            "...process.argv.slice(2)]);\n")
    layers = [D("/usr"), D("/usr/local"), D("/usr/local/bin"), D("/usr/local/lib"),
              D("/usr/local/lib/node_modules"), D("/usr/local/lib/node_modules/corepack"),
              D(dist), exe(f"{dist}/corepack.js", b"#!/usr/bin/env node\nrequire('./lib/"
                                                   b"corepack.cjs').runMain(process.argv);\n"),
              *(exe(f"{dist}/{tool}.js", shim.format(tool).encode())
                for tool in ("yarn", "pnpm", "npm")),
              L("/usr/local/bin/corepack", "../lib/node_modules/corepack/dist/corepack.js")]
    [finding] = package_findings(layers)
    assert finding.evidence["tool"] == "corepack" and finding.evidence.recognised_by == "path"
    assert set(finding.paths) == {f"{dist}/{t}.js" for t in ("corepack", "yarn", "pnpm", "npm")
                                  } | {"/usr/local/bin/corepack"}


@pytest.mark.parametrize("content", [
    pytest.param(b"#!/usr/bin/env node\nrequire('../lib/cli')(process.argv)\n",
                 id="another-packages-cli"),
    pytest.param(b"#!/usr/bin/env node\nconst cli = require('../lib/cli.js')\ncli.run()\n",
                 id="lib-cli-without-process"),
    pytest.param(b"#!/usr/bin/env node\nconst { execSync } = require('child_process')\n"
                 b"execSync('npm install && yarn build && pnpm i')\nrequire('npm')\n",
                 id="a-script-that-runs-npm"),
    pytest.param(b"#!/usr/bin/env node\n// require('../lib/cli.js')(process)\n"
                 b"//   process.title = 'npm'\nconsole.log('hi')\n", id="markers-in-comments"),
    pytest.param(b"#!/bin/sh\nrequire('../lib/cli.js')(process)\n"
                 b"require('./lib/corepack.cjs').runMain([])\n", id="not-a-node-script"),
    pytest.param(b"#!/usr/bin/env nodemon\nrequire('../lib/cli.js')(process)\n",
                 id="another-interpreter"),
    pytest.param(b"#!/usr/bin/env node\n" + b"// a long comment line\n" * 60
                 + b"require('../dist/pnpm.cjs')\n", id="entry-past-the-first-kib"),
])
def test_ordinary_node_scripts_are_no_package_manager(content):
    assert everything([D("/opt"), exe("/opt/tool", content)]) == []


# -- toybox --------------------------------------------------------------------------------


def toybox_binary(*commands: str, aliases: tuple[str, ...] = ()) -> bytes:
    """An ELF laid out as toybox's is: its help header, then help_data, each command's help
    NUL-ended in toy_list order (the multiplexer's first, an alias as "\\xff" and the name
    it stands for), closed by the array's own NUL."""
    helps = [b"usage: toybox [--long | --help | --version | [COMMAND] [ARGUMENTS...]]\n\n"
             b"With no arguments, shows available COMMAND names."]
    helps += [f"usage: {c} [-abc] [FILE...]\n\nDo what {c} does.".encode() for c in commands]
    helps += [b"\xff" + a.encode() for a in aliases]
    return elf_program(b"\0Unknown command %s\0 (see toybox --help)\0"
                       b"Toybox %s multicall binary%s\n\n\0usage: \0"
                       + b"\0".join(helps) + b"\0\0setenv\0usage: zz [-x]\0")


def test_a_renamed_toybox_is_every_category_its_help_lists():
    binary = toybox_binary("cat", "cp", "ls", "netcat", "sed", "sh", "wget",
                           aliases=("netcat", "sh"))
    found = {f.rule_id: f for f in everything([D("/opt"), exe("/opt/tb", binary)])}
    assert set(found) == {SHELL_MULTICALL.id, NET_MULTICALL.id}
    assert found[SHELL_MULTICALL.id].evidence["applets"] == ["sh"]
    assert found[NET_MULTICALL.id].evidence["applets"] == ["wget", "netcat"]
    assert found[NET_MULTICALL.id].severity == "high"
    for finding in found.values():
        assert finding.evidence["program"] == "toybox" and finding.path == "/opt/tb"
        assert finding.evidence.recognised_by == (
            "content:toybox help header 'Toybox %s multicall binary' and its help of 7 "
            "applets")


def test_toybox_help_decides_not_its_links():
    # a wget link to a toybox built without wget runs nothing
    binary = toybox_binary("cat", "ls", "sh")
    layers = [D("/bin"), exe("/bin/toybox", binary), L("/bin/wget", "toybox"),
              L("/bin/sh", "toybox")]
    assert network_findings(layers) == []
    [shell] = shell_findings(layers)
    assert shell.evidence["applets"] == ["sh"] and shell.paths == ("/bin/toybox", "/bin/sh")


@pytest.mark.parametrize("rodata", [
    pytest.param(b"\0Run toybox for a list; see toybox --help\0usage: toybox\0",
                 id="mentions-toybox"),
    pytest.param(b"\0Toybox is a multicall binary\0usage: sh [-c]\0usage: wget URL\0",
                 id="no-header-format"),
])
def test_a_program_that_mentions_toybox_is_no_toybox(rodata):
    assert everything([D("/opt"), exe("/opt/tool", elf_program(rodata))]) == []

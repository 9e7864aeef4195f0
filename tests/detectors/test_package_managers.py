from __future__ import annotations

from functools import partial

import pytest

from auditor.detectors.package_managers import (
    LANG_PKG_MANAGER,
    OS_PKG_MANAGER,
    PKG_MANAGER_MULTICALL,
    detect,
)
from tests.detectors.toolkit import busybox, exe, merged_usr, package, run_detector
from tests.layerkit import D, F, L

PIP_SCRIPT = b"#!/usr/local/bin/python3.11\nfrom pip._internal.cli.main import main\n"


run = partial(run_detector, detect)


def debian_apt() -> list:
    return [*merged_usr(), exe("/usr/bin/apt"), exe("/usr/bin/apt-get"),
            exe("/usr/bin/apt-cache"), exe("/usr/bin/dpkg"), exe("/usr/bin/dpkg-query"),
            exe("/usr/bin/dpkg-buildflags", b"#!/usr/bin/perl\n")]


def test_apt_and_dpkg_are_one_finding_per_package():
    found = run(debian_apt(), packages=[
        package("apt", "/usr/bin/apt", "/usr/bin/apt-get", "/usr/bin/apt-cache", size=4_300_000),
        package("dpkg", "/usr/bin/dpkg", "/usr/bin/dpkg-query", size=6_500_000),
    ])
    assert [(f.rule_id, f.path, f.package_label, f.bytes) for f in found] == [
        (OS_PKG_MANAGER.id, "/usr/bin/apt-get", "apt@1.0", 4_300_000),
        (OS_PKG_MANAGER.id, "/usr/bin/dpkg", "dpkg@1.0", 6_500_000),
    ]
    assert set(found[0].paths) == {"/usr/bin/apt-get", "/usr/bin/apt", "/usr/bin/apt-cache"}
    assert found[0].evidence["commands"] == ["apt", "apt-cache", "apt-get"]


def test_without_a_package_database_one_tool_family_in_one_directory_is_one_finding():
    found = run(debian_apt())
    assert [(f.path, f.bytes) for f in found] == [("/usr/bin/apt-get", 3 * 64),
                                                  ("/usr/bin/dpkg", 2 * 64)]


def test_pip_pip3_and_pip3_11_in_one_directory_are_one_pip():
    found = run([D("/usr"), D("/usr/local"), D("/usr/local/bin"),
                          *(exe(f"/usr/local/bin/{n}", PIP_SCRIPT)
                            for n in ("pip", "pip3", "pip3.11"))])
    assert len(found) == 1
    assert found[0].rule_id == LANG_PKG_MANAGER.id
    assert found[0].evidence["commands"] == ["pip", "pip3", "pip3.11"]
    assert found[0].evidence["interpreter"] == "/usr/local/bin/python3.11"


def test_a_virtualenv_pip_on_the_image_path_is_a_second_pip():
    found = run([D("/usr"), D("/usr/local"), D("/usr/local/bin"),
                          exe("/usr/local/bin/pip", PIP_SCRIPT), D("/opt"), D("/opt/venv"),
                          D("/opt/venv/bin"), exe("/opt/venv/bin/pip", PIP_SCRIPT)],
                env=["PATH=/opt/venv/bin:/usr/local/bin:/usr/bin:/bin"])
    assert [f.path for f in found] == ["/opt/venv/bin/pip", "/usr/local/bin/pip"]


def test_npm_is_reported_on_the_script_its_command_runs():
    found = run([D("/usr"), D("/usr/local"), D("/usr/local/bin"),
                          D("/usr/local/lib"), D("/usr/local/lib/node_modules"),
                          D("/usr/local/lib/node_modules/npm"),
                          D("/usr/local/lib/node_modules/npm/bin"),
                          exe("/usr/local/lib/node_modules/npm/bin/npm-cli.js",
                              b"#!/usr/bin/env node\n"),
                          L("/usr/local/bin/npm", "../lib/node_modules/npm/bin/npm-cli.js")])
    assert [(f.path, f.paths) for f in found] == [
        ("/usr/local/lib/node_modules/npm/bin/npm-cli.js",
         ("/usr/local/lib/node_modules/npm/bin/npm-cli.js", "/usr/local/bin/npm"))]
    assert found[0].evidence["tool"] == "npm"


@pytest.mark.parametrize("name, tool", [
    ("apk", "apk"), ("microdnf", "dnf"), ("dnf-3", "dnf"), ("yum", "yum"), ("rpm", "rpm"),
    ("zypper", "zypper"), ("pacman", "pacman"),
])
def test_os_package_managers_of_other_distributions(name, tool):
    found = run([D("/usr"), D("/usr/bin"), exe(f"/usr/bin/{name}")])
    assert [(f.rule_id, f.evidence["tool"]) for f in found] == [(OS_PKG_MANAGER.id, tool)]


@pytest.mark.parametrize("name, tool", [
    ("yarnpkg", "yarn"), ("pnpm", "pnpm"), ("corepack", "corepack"), ("gem", "gem"),
    ("bundle", "bundler"), ("composer", "composer"), ("conda", "conda"), ("mamba", "conda"),
])
def test_language_package_managers(name, tool):
    found = run([D("/usr"), D("/usr/bin"), exe(f"/usr/bin/{name}", b"#!/bin/sh\n")])
    assert [(f.rule_id, f.evidence["tool"]) for f in found] == [(LANG_PKG_MANAGER.id, tool)]


def test_busybox_dpkg_and_rpm_applets_are_one_low_finding():
    found = run(busybox(["sh", "dpkg", "dpkg-deb", "rpm", "wget"]))
    assert [(f.rule_id, f.severity) for f in found] == [(PKG_MANAGER_MULTICALL.id, "low")]
    assert found[0].evidence["applets"] == ["dpkg", "dpkg-deb", "rpm"]


@pytest.mark.parametrize("layer", [
    pytest.param([D("/usr"), D("/usr/lib"), D("/usr/lib/python3"),
                  D("/usr/lib/python3/dist-packages"), D("/usr/lib/python3/dist-packages/pip"),
                  F("/usr/lib/python3/dist-packages/pip/__init__.py", "")],
                 id="pip-module-without-a-pip-command"),
    pytest.param([D("/usr"), D("/usr/bin"), exe("/usr/bin/rpm2cpio"),
                  exe("/usr/bin/dpkg-buildpackage", b"#!/usr/bin/perl\n"),
                  exe("/usr/bin/apt-listchanges", b"#!/usr/bin/python3\n")],
                 id="helpers-whose-names-start-like-a-package-manager"),
    pytest.param([D("/usr"), D("/usr/lib"), D("/usr/lib/apt"), exe("/usr/lib/apt/apt-get")],
                 id="package-manager-name-off-the-path"),
])
def test_things_that_are_not_package_managers(layer):
    assert run(layer) == []

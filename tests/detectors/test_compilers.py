from __future__ import annotations

from functools import partial

import pytest

from auditor.detectors._tools import Family, ToolTable
from auditor.detectors.compilers import (
    BUILD_TOOL,
    COMPILER,
    DEV_HEADERS,
    DEV_PACKAGE,
    TOOLCHAIN,
    detect,
)
from tests.detectors.toolkit import exe, merged_usr, package, run_detector
from tests.layerkit import D, F, H, L, W

GCC_REAL = "/usr/bin/x86_64-linux-gnu-gcc-12"

run = partial(run_detector, detect)


def debian_gcc() -> list:
    """gcc as Debian 12 installs it: a chain of names and the cc alternative."""
    return [*merged_usr(), D("/etc/alternatives"), exe(GCC_REAL),
            L("/usr/bin/gcc-12", "x86_64-linux-gnu-gcc-12"), L("/usr/bin/gcc", "gcc-12"),
            L("/usr/bin/x86_64-linux-gnu-gcc", "gcc-12"),
            L("/etc/alternatives/cc", "/usr/bin/gcc"), L("/usr/bin/cc", "/etc/alternatives/cc")]


def test_gcc_and_all_its_names_are_one_finding_on_the_real_file():
    found = run(debian_gcc(), packages=[
        package("gcc-12", GCC_REAL, "/usr/bin/gcc-12", size=70_000_000),
        package("gcc", "/usr/bin/gcc", "/usr/bin/x86_64-linux-gnu-gcc", size=50_000),
    ])
    assert len(found) == 1
    gcc = found[0]
    assert (gcc.rule_id, gcc.severity, gcc.path, gcc.package_label, gcc.bytes) == (
        COMPILER.id, "high", GCC_REAL, "gcc-12@1.0", 70_000_000)
    assert gcc.paths == (GCC_REAL, "/usr/bin/cc", "/usr/bin/gcc", "/usr/bin/gcc-12",
                         "/usr/bin/x86_64-linux-gnu-gcc", "/etc/alternatives/cc")
    assert gcc.evidence["tool"] == "gcc"


def test_cc_leading_to_clang_is_clang():
    found = run([*merged_usr(), exe("/usr/bin/clang-15"),
                          L("/usr/bin/cc", "clang-15"), L("/usr/bin/clang", "clang-15")])
    assert [(f.path, f.evidence["tool"]) for f in found] == [("/usr/bin/clang-15", "clang")]


def test_debian_go_is_found_through_its_link_and_gofmt_is_not_a_compiler():
    found = run([*merged_usr(), D("/usr/lib/go-1.19"), D("/usr/lib/go-1.19/bin"),
                          exe("/usr/lib/go-1.19/bin/go"), exe("/usr/lib/go-1.19/bin/gofmt"),
                          L("/usr/bin/go", "../lib/go-1.19/bin/go"),
                          L("/usr/bin/gofmt", "../lib/go-1.19/bin/gofmt")])
    assert [(f.path, f.paths) for f in found] == [
        ("/usr/lib/go-1.19/bin/go", ("/usr/lib/go-1.19/bin/go", "/usr/bin/go"))]


def test_go_in_usr_local_go_is_found_without_a_path_entry():
    found = run([D("/usr"), D("/usr/local"), D("/usr/local/go"),
                          D("/usr/local/go/bin"), exe("/usr/local/go/bin/go")])
    assert [f.path for f in found] == ["/usr/local/go/bin/go"]


@pytest.mark.parametrize("tools, expected", [
    pytest.param(["java", "javac", "jar"], ["javac"], id="jdk"),
    pytest.param(["java", "keytool"], [], id="jre-alone-is-fine"),
])
def test_a_jdk_is_a_compiler_and_a_jre_is_not(tools, expected):
    jvm = "/usr/lib/jvm/java-17-openjdk-amd64"
    found = run([D("/usr"), D("/usr/lib"), D("/usr/lib/jvm"), D(jvm), D(f"{jvm}/bin"),
                          *(exe(f"{jvm}/bin/{t}") for t in tools)])
    assert [f.evidence["tool"] for f in found] == expected


def test_make_is_a_medium_build_tool_and_binutils_one_finding_per_package():
    files = ("/usr/bin/x86_64-linux-gnu-as", "/usr/bin/x86_64-linux-gnu-ld.bfd")
    found = run([*merged_usr(), exe("/usr/bin/make"), L("/usr/bin/gmake", "make"),
                          *(exe(p) for p in files),
                          L("/usr/bin/as", "x86_64-linux-gnu-as"),
                          L("/usr/bin/ld", "x86_64-linux-gnu-ld"),
                          L("/usr/bin/x86_64-linux-gnu-ld", "x86_64-linux-gnu-ld.bfd")],
                packages=[package("binutils-x86-64-linux-gnu", *files, size=11_000_000)])
    assert [(f.rule_id, f.severity, f.path) for f in found] == [
        (BUILD_TOOL.id, "medium", "/usr/bin/make"),
        (BUILD_TOOL.id, "medium", "/usr/bin/x86_64-linux-gnu-as")]
    assert found[1].evidence["commands"] == ["as", "ld", "x86_64-linux-gnu-as",
                                             "x86_64-linux-gnu-ld", "x86_64-linux-gnu-ld.bfd"]


def test_rustup_proxies_hard_linked_together_are_one_finding_not_a_multicall_binary():
    bin_dir = "/usr/local/cargo/bin"
    names = ("rustc", "rustdoc", "rustup", "cargo-fmt", "rust-gdb", "clippy-driver")
    links = [H(f"{bin_dir}/{n}", f"{bin_dir}/cargo") for n in names]
    found = run([D("/usr"), D("/usr/local"), D("/usr/local/cargo"), D(bin_dir),
                 exe(f"{bin_dir}/cargo"), *links])
    assert [(f.rule_id, f.path, f.evidence["commands"]) for f in found] == [
        (COMPILER.id, f"{bin_dir}/cargo", ["cargo", "rustc"])]
    assert len(found[0].paths) == 1 + len(names)


def test_typescript_in_an_apps_node_modules_is_a_compiler():
    base = "/app/node_modules"
    found = run([D("/app"), D(base), D(f"{base}/.bin"), D(f"{base}/typescript"),
                          D(f"{base}/typescript/bin"),
                          exe(f"{base}/typescript/bin/tsc", b"#!/usr/bin/env node\n"),
                          L(f"{base}/.bin/tsc", "../typescript/bin/tsc")])
    assert [(f.path, f.evidence["tool"]) for f in found] == [
        (f"{base}/typescript/bin/tsc", "tsc")]


@pytest.mark.parametrize("layer", [
    pytest.param([D("/usr"), D("/usr/lib"), D("/usr/lib/foo"), exe("/usr/lib/foo/make",
                                                                     b"#!/bin/sh\n")],
                 id="script-called-make-off-the-path"),
    pytest.param([D("/usr"), D("/usr/share"), D("/usr/share/doc"), D("/usr/share/doc/gcc"),
                  F("/usr/share/doc/gcc/README", "")], id="gcc-docs"),
    pytest.param([D("/usr"), D("/usr/bin"), exe("/usr/bin/gcc-ar-12"), exe("/usr/bin/gcov"),
                  exe("/usr/bin/c++filt"), exe("/usr/bin/ldd", b"#!/bin/bash\n"),
                  exe("/usr/bin/python3-config", b"#!/bin/sh\n")],
                 id="toolchain-neighbours-that-are-not-compilers"),
    pytest.param([D("/usr"), D("/usr/local"), D("/usr/local/lib"),
                  D("/usr/local/lib/node_modules"), D("/usr/local/lib/node_modules/npm"),
                  D("/usr/local/lib/node_modules/npm/node_modules"),
                  D("/usr/local/lib/node_modules/npm/node_modules/.bin"),
                  exe("/usr/local/lib/node_modules/npm/node_modules/.bin/node-gyp",
                      b"#!/usr/bin/env node\n")],
                 id="node-gyp-bundled-inside-npm"),
])
def test_things_that_are_not_reported(layer):
    assert run(layer) == []


def test_a_compiler_deleted_in_a_later_layer_is_not_reported():
    assert run([D("/usr"), D("/usr/bin"), exe("/usr/bin/gcc")], [W("/usr/bin/gcc")]) == []


@pytest.mark.parametrize("name, family", [
    ("x86_64-linux-gnu-gcc-12", "gcc"), ("aarch64-linux-gnu-g++", "g++"),
    ("x86_64-alpine-linux-musl-gcc", "gcc"), ("arm-none-eabi-gcc", "gcc"),
    ("clang++-15", "clang"), ("x86_64-linux-gnu-ld.gold", "binutils"), ("gcc", "gcc"),
    ("ninja-build", "ninja"), ("gcc-ar-12", None), ("gcc-nm", None), ("golang", None),
    ("x86_64-linux-gnu-objdump", None), ("cargo-clippy", None), ("asm", None),
])
def test_names_are_matched_through_versions_and_target_triplets(name, family):
    hit = TOOLCHAIN.match(name)
    assert (hit[2].name if hit else None) == family


def test_a_command_in_two_families_is_refused():
    with pytest.raises(ValueError, match="two families"):
        ToolTable(Family("a", COMPILER, ("x",)), Family("b", COMPILER, ("x",)))


def test_dev_packages_are_one_low_finding_each():
    found = run([*merged_usr(), D("/usr/include"), F("/usr/include/stdio.h", "x"),
                          F("/usr/include/crypt.h", "y"), D("/usr/share/doc"),
                          D("/usr/share/doc/build-essential"),
                          F("/usr/share/doc/build-essential/copyright", "z")],
                packages=[
                    package("libc6-dev", "/usr/include", "/usr/include/stdio.h", size=12_000),
                    package("libcrypt-dev", "/usr/include/crypt.h"),
                    package("build-essential", "/usr/share/doc/build-essential/copyright"),
                    package("udev", "/usr/bin/udevadm"),
                    package("libdevmapper1.02.1", "/usr/lib/libdevmapper.so.1.02.1"),
                    package("foo-dev", ecosystem="python"),
                ])
    assert [(f.rule_id, f.severity, f.package_label, f.path) for f in found] == [
        (DEV_PACKAGE.id, "low", "build-essential@1.0",
         "/usr/share/doc/build-essential/copyright"),
        (DEV_PACKAGE.id, "low", "libc6-dev@1.0", "/usr/include/stdio.h"),
        (DEV_PACKAGE.id, "low", "libcrypt-dev@1.0", "/usr/include/crypt.h"),
    ]
    assert found[1].bytes == 12_000
    assert found[2].bytes == 1  # no recorded size: the bytes of its files
    assert found[0].evidence["kind"] == "toolchain meta-package"


@pytest.mark.parametrize("name", ["musl-dev", "linux-headers", "openssl-dev"])
def test_alpine_dev_packages(name):
    found = run([D("/usr")], packages=[package(name, ecosystem="apk")])
    assert [f.package_label for f in found] == [f"{name}@1.0"]


def test_rpm_devel_packages():
    found = run([D("/usr")], packages=[package("glibc-devel", ecosystem="rpm")])
    assert [f.rule_id for f in found] == [DEV_PACKAGE.id]


def test_headers_no_package_owns_are_one_finding_per_include_directory():
    found = run([*merged_usr(), D("/usr/include"), F("/usr/include/stdio.h", "x"),
                          D("/usr/local"), D("/usr/local/include"),
                          D("/usr/local/include/python3.11"),
                          F("/usr/local/include/python3.11/Python.h", "abc"),
                          F("/usr/local/include/python3.11/object.h", "de")],
                packages=[package("libc6-dev", "/usr/include/stdio.h")])
    headers = [f for f in found if f.rule_id == DEV_HEADERS.id]
    assert [(f.path, f.evidence["unowned_files"], f.bytes) for f in headers] == [
        ("/usr/local/include", 2, 5)]
    assert headers[0].evidence["top_level"] == ["python3.11"]

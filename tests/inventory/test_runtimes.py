"""Runtimes outside a package database, on layers shaped like the official images."""

from __future__ import annotations

import pytest

from auditor.inventory import Package
from tests.inventory import official
from tests.inventory.kit import catalog, inventory
from tests.layerkit import F, Spec


def runtimes(*layers: list[Spec]) -> list[Package]:
    packages, skipped = catalog("runtimes", *layers)
    assert skipped == []
    return packages


def test_temurin_jdk_from_its_release_file() -> None:
    [jdk] = runtimes(official.JDK)
    assert (jdk.name, jdk.version, jdk.ecosystem) == ("temurin", "17.0.9", "runtime")
    assert jdk.location == official.JDK_ROOT
    assert jdk.version_from == "/opt/java/openjdk/release JAVA_VERSION"
    assert jdk.files[0] == "/opt/java/openjdk/bin/java"
    assert jdk.installed_size == official.JDK_BYTES
    assert jdk.purl_type == "generic"


def test_another_vendors_jdk_is_openjdk() -> None:
    layer: list[Spec] = [F("/usr/local/openjdk-11/release", 'JAVA_VERSION="11.0.16"\n'),
                         official.exe("/usr/local/openjdk-11/bin/java", 100)]
    [jdk] = runtimes(layer)
    assert (jdk.name, jdk.version) == ("openjdk", "11.0.16")


def test_go_from_its_version_file() -> None:
    [go] = runtimes(official.GO)
    assert (go.name, go.version, go.location) == ("go", "1.21.5", "/usr/local/go")
    assert go.version_from == "/usr/local/go/VERSION first line"
    assert go.installed_size == official.GO_BYTES


def test_node_from_its_header_without_npm() -> None:
    [node] = runtimes(official.NODE)
    assert (node.name, node.version, node.location) == ("node", "20.10.0", "/usr/local")
    assert (node.version_from or "").endswith("node_version.h NODE_MAJOR/MINOR/PATCH_VERSION")
    assert node.files[0] == "/usr/local/bin/node"
    assert not [p for p in node.files if "/node_modules/" in p or "yarn" in p]
    assert "/usr/local/include/node/v8.h" in node.files


def test_python_from_patchlevel_without_site_packages() -> None:
    [py] = runtimes(official.PYTHON)
    assert (py.name, py.version, py.location) == ("python", "3.12.1", "/usr/local")
    assert py.version_from == "/usr/local/include/python3.12/patchlevel.h PY_VERSION"
    assert py.files[0] == "/usr/local/bin/python3.12"
    assert "/usr/local/lib/libpython3.12.so.1.0" in py.files
    assert "/usr/local/bin/pydoc3.12" in py.files
    assert not [p for p in py.files if "site-packages" in p]


def test_python_without_headers_is_known_by_its_lib_directory() -> None:
    layer = [s for s in official.PYTHON if "patchlevel" not in getattr(s, "path", "")]
    [py] = runtimes(layer)
    assert (py.version, py.version_from) == ("3.12", "/usr/local/lib/python3.12 directory")


def test_busybox_from_its_banner() -> None:
    [bb] = runtimes(official.BUSYBOX)
    assert (bb.name, bb.version, bb.files) == ("busybox", "1.36.1", ("/bin/busybox",))


def test_all_official_shapes_in_one_image() -> None:
    found = {(p.name, p.version) for p in runtimes(
        official.GO + official.JDK + official.NODE + official.PYTHON + official.BUSYBOX)}
    assert found == {("go", "1.21.5"), ("temurin", "17.0.9"), ("node", "20.10.0"),
                     ("python", "3.12.1"), ("busybox", "1.36.1")}


@pytest.mark.parametrize("layer, reason", [
    ([F("/opt/jdk/release", "IMPLEMENTOR=x\n"), official.exe("/opt/jdk/bin/java", 100)],
     "JDK release file has no JAVA_VERSION"),
    ([F("/opt/go/VERSION", "devel +abc\n"), official.exe("/opt/go/bin/go", 100),
      F("/opt/go/src/runtime/x.go", "x")], "Go VERSION file does not start with goN.N"),
], ids=["release-without-version", "go-devel"])
def test_unreadable_versions_are_recorded(layer: list[Spec], reason: str) -> None:
    packages, skipped = catalog("runtimes", layer)
    assert packages == [] and [s.reason for s in skipped] == [reason]


def test_marker_files_without_their_runtime_are_not_runtimes() -> None:
    layer: list[Spec] = [F("/app/release", 'JAVA_VERSION="1"\n'), F("/srv/VERSION", "go1.2\n"),
                         F("/x/include/node/node_version.h", official.NODE_VERSION_H)]
    assert runtimes(layer) == []


def test_a_runtime_a_package_database_owns_is_listed_by_its_own_files_too() -> None:
    java = "/usr/lib/jvm/java-17-openjdk-amd64"
    layer: list[Spec] = [
        F("/var/lib/dpkg/status", "Package: openjdk-17-jre-headless\nStatus: install ok "
          "installed\nVersion: 17.0.9+9-1~deb12u1\nArchitecture: amd64\n"),
        F("/var/lib/dpkg/info/openjdk-17-jre-headless:amd64.list",
          f"/usr/lib/jvm\n{java}\n{java}/bin\n{java}/bin/java\n{java}/release\n"),
        F(f"{java}/release", 'JAVA_VERSION="17.0.9"\n'), official.exe(f"{java}/bin/java", 100)]
    inv = inventory(layer)
    assert sorted((p.name, p.version, p.ecosystem) for p in inv) == [
        ("openjdk", "17.0.9", "runtime"), ("openjdk-17-jre-headless", "17.0.9+9-1~deb12u1", "deb")]
    assert inv.owner(f"{java}/bin/java").ecosystem == "deb"  # type: ignore[union-attr]


def test_runtimes_own_no_files_in_the_ownership_index() -> None:
    inv = inventory(official.PYTHON)
    assert inv.owner("/usr/local/include/python3.12/patchlevel.h") is None
    assert [p.name for p in inv.by_name("python", "runtime")] == ["python"]


def test_go_without_version_file_from_the_go_commands_build_info() -> None:
    from tests.inventory.test_golang import go_elf

    layer = [s for s in official.GO if getattr(s, "path", "") not in (
        "/usr/local/go/VERSION", "/usr/local/go/bin/go")]
    layer.append(F("/usr/local/go/bin/go", go_elf(
        modinfo=b"path\tcmd/go\nbuild\tGOARCH=amd64\n"), mode=0o755))
    [go] = runtimes(layer)
    assert (go.name, go.version) == ("go", "1.21.5")
    assert go.version_from == "/usr/local/go/bin/go Go build info"


def test_python_in_its_own_prefix_counts_each_file_once() -> None:
    layer: list[Spec] = [official.exe("/opt/python/bin/python3.11", 1_000),
             F("/opt/python/lib/python3.11/os.py", b"o" * 500),
             F("/opt/python/include/python3.11/patchlevel.h", official.PATCHLEVEL_H.replace(
                 b"3.12.1", b"3.11.9"))]
    [py] = runtimes(layer)
    assert (py.version, py.location) == ("3.11.9", "/opt/python")
    assert py.installed_size == 1_000 + 500 + len(official.PATCHLEVEL_H)


def test_a_renamed_busybox_is_known_by_its_banner() -> None:
    [bb] = runtimes([F("/opt/tools/bb", official.BUSYBOX_BINARY, mode=0o755)])
    assert (bb.name, bb.version, bb.location) == ("busybox", "1.36.1", "/opt/tools/bb")
    assert bb.version_from == "/opt/tools/bb banner"


def _python_tree(binary: bytes, lib: bytes | None = None) -> list[Spec]:
    layer = [s for s in official.PYTHON if getattr(s, "path", "") not in (
        "/usr/local/include/python3.12/patchlevel.h", "/usr/local/bin/python3.12",
        "/usr/local/lib/libpython3.12.so.1.0")]
    layer.append(F("/usr/local/bin/python3.12", binary, mode=0o755))
    if lib is not None:
        layer.append(F("/usr/local/lib/libpython3.12.so.1.0", lib, mode=0o755))
    return layer


def test_python_without_headers_from_the_interpreters_version_literal() -> None:
    binary = official.elf_program(b"\0pymalloc_debug\x003.12.1\0strict\0" + b"\0" * 500)
    [py] = runtimes(_python_tree(binary))
    assert (py.version, py.version_from) == (
        "3.12.1", "/usr/local/bin/python3.12 PY_VERSION string")


def test_python_version_literal_in_libpython_and_tail_merged() -> None:
    # official images link a small interpreter to libpython; a linker may merge the
    # literal into the tail of another string (pyenv's prefix, here)
    lib = official.elf_program(b"\0/root/.pyenv/versions/3.12.1\0EXEC_PREFIX\0" + b"\0" * 99)
    [py] = runtimes(_python_tree(official.elf_program(b"\0main\0"), lib))
    assert (py.version, py.version_from) == (
        "3.12.1", "/usr/local/lib/libpython3.12.so.1.0 PY_VERSION string")
    assert "/usr/local/lib/libpython3.12.so.1.0" in py.files


@pytest.mark.parametrize("rodata", [
    b"\x003.12.1\0other\x003.12.2\0",  # two candidates: neither is trusted
    b"\x003.11.2\0x\0",  # another X.Y than lib/python3.12 names
    b"\0libfoo 3.12.1 beta\0v3.12.1\0",  # not a whole string, nor a tail after / or -
], ids=["two", "other-minor", "not-a-literal"])
def test_python_literal_must_be_one_of_its_own_minor(rodata: bytes) -> None:
    [py] = runtimes(_python_tree(official.elf_program(rodata + b"\0" * 100)))
    assert (py.version, py.version_from) == ("3.12", "/usr/local/lib/python3.12 directory")


def test_patchlevel_h_still_wins_over_the_literal() -> None:
    layer = [s for s in official.PYTHON if getattr(s, "path", "") != "/usr/local/bin/python3.12"]
    layer.append(F("/usr/local/bin/python3.12", official.elf_program(b"\x003.12.9\0"),
                   mode=0o755))
    [py] = runtimes(layer)
    assert (py.version, py.version_from) == (
        "3.12.1", "/usr/local/include/python3.12/patchlevel.h PY_VERSION")


def _node_layer(rodata: bytes) -> list[Spec]:
    layer = [s for s in official.NODE if getattr(s, "path", "") not in (
        "/usr/local/include/node/node_version.h", "/usr/local/bin/node")]
    layer.append(F("/usr/local/bin/node", official.elf_program(rodata + b"\0" * 100),
                   mode=0o755))
    return layer


NODE_URL = b"https://nodejs.org/download/release/v20.10.0/node-v20.10.0.tar.gz\0"


@pytest.mark.parametrize("rodata", [
    b"\0" + NODE_URL + b"node.js/v20.10.0\0", b"\0node.js/v20.10.0\0", b"\0" + NODE_URL,
], ids=["both", "inspector", "release-url"])
def test_node_without_header_from_its_release_strings(rodata: bytes) -> None:
    [node] = runtimes(_node_layer(rodata))
    assert (node.name, node.version, node.location) == ("node", "20.10.0", "/usr/local")
    assert node.version_from == "/usr/local/bin/node release string"
    assert not [p for p in node.files if "/node_modules/" in p]


@pytest.mark.parametrize("rodata", [
    b"\0node.js/v20.10.0\0" + NODE_URL.replace(b"20.10.0", b"20.11.0"),
    b"\0https://x/v20.10.0/node-v20.11.0.tar.gz\0",  # the URL's two versions disagree
    b"\0v20.10.0\0",  # a bare version is any program's
], ids=["two", "url-mismatch", "bare"])
def test_node_without_one_exact_release_string_is_not_listed(rodata: bytes) -> None:
    assert runtimes(_node_layer(rodata)) == []


def test_debian_node_launcher_from_the_libnode_it_needs() -> None:
    from tests.read.test_elf import synth_elf

    launcher = synth_elf(etype=2, interp=b"/lib64/ld-linux-x86-64.so.2",
                         needed=("libnode.so.108", "libc.so.6"))
    lib = official.elf_program(b"\0" + NODE_URL.replace(b"20.10.0", b"18.20.4") + b"\0" * 99)
    layer: list[Spec] = [F("/usr/bin/node", launcher, mode=0o755),
                         F("/usr/lib/x86_64-linux-gnu/libnode.so.108", lib)]
    [node] = runtimes(layer)
    assert (node.version, node.location) == ("18.20.4", "/usr")
    assert node.version_from == "/usr/lib/x86_64-linux-gnu/libnode.so.108 release string"
    assert set(node.files) == {"/usr/bin/node", "/usr/lib/x86_64-linux-gnu/libnode.so.108"}

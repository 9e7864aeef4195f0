"""A tool outside a package database costs the install tree it belongs to."""

from __future__ import annotations

import pytest

from auditor.detectors import ScanContext, compilers, package_managers, run_detectors
from auditor.filetree import squash_layers
from auditor.inventory import build_inventory
from auditor.inventory.trees import install_root
from auditor.model.findings import Finding
from auditor.model.image import ImageConfig, Skipped
from tests.inventory import official
from tests.layerkit import F, Spec, image_of

PATH = ("PATH=/usr/local/go/bin:/opt/java/openjdk/bin:/usr/local/sbin:/usr/local/bin:"
        "/usr/sbin:/usr/bin:/sbin:/bin",)


def context(*layers: list[Spec]) -> ScanContext:
    image = image_of(*layers, config=ImageConfig(env=PATH))
    tree = squash_layers(image.layers)
    return ScanContext(image, tree, build_inventory(tree))


def finding(found: list[Finding], tool: str) -> Finding:
    [hit] = [f for f in found if f.evidence["tool"] == tool]
    return hit


@pytest.mark.parametrize("layers, module, tool, root, size", [
    (official.GO, compilers, "go", "/usr/local/go", official.GO_BYTES),
    (official.JDK, compilers, "javac", "/opt/java/openjdk", official.JDK_BYTES),
    (official.NODE, package_managers, "npm", official.NPM_DIR, official.NPM_BYTES),
    (official.NODE, package_managers, "yarn", official.YARN_ROOT, official.YARN_BYTES),
], ids=["go", "javac", "npm-with-bundled-deps", "yarn"])
def test_tool_costs_its_install_tree(layers: list[Spec], module: object, tool: str, root: str,
                                     size: int) -> None:
    found = list(module.detect(context(layers)))  # type: ignore[attr-defined]
    hit = finding(found, tool)
    assert hit.bytes == size
    assert hit.evidence["install_tree"] == root
    assert f"part of {root}" in hit.message or hit.package is not None
    assert {p for _, p, _ in hit.claim} == {
        n.path for n in context(layers).tree.nodes.values()
        if n.path.startswith(root + "/") and n.kind == "file"}


def test_a_packaged_tool_keeps_its_package_size() -> None:
    layer: list[Spec] = [
        F("/var/lib/dpkg/status", "Package: make\nStatus: install ok installed\nVersion: 4.3-4.1"
          "\nInstalled-Size: 100\n"),
        F("/var/lib/dpkg/info/make.list", "/usr\n/usr/bin\n/usr/bin/make\n"),
        official.exe("/usr/bin/make", 5_000)]
    hit = finding(list(compilers.detect(context(layer))), "make")
    assert hit.bytes == 100 * 1024 and "install_tree" not in hit.evidence


def test_a_lone_tool_costs_its_file() -> None:
    hit = finding(list(compilers.detect(context([official.exe("/usr/local/bin/zig", 700)]))),
                  "zig")
    assert hit.bytes == 700 and "install_tree" not in hit.evidence


@pytest.mark.parametrize("path, expected", [
    ("/usr/local/go/bin/go", ("/usr/local/go", "go")),
    ("/opt/java/openjdk/bin/javac", ("/opt/java/openjdk", "java")),
    (f"{official.NPM_DIR}/bin/npm-cli.js", (official.NPM_DIR, "node package")),
    (f"{official.NPM_DIR}/node_modules/abbrev/lib/index.js", (official.NPM_DIR, "node package")),
    ("/opt/yarn-v1.22.22/bin/yarn", ("/opt/yarn-v1.22.22", "node package")),
    ("/usr/local/bin/node", None),  # /usr/local is every install's, never one tree
    ("/usr/local/bin/python3.12", None),
])
def test_install_roots(path: str, expected: tuple[str, str] | None) -> None:
    tree = context(official.GO + official.JDK + official.NODE + official.PYTHON).tree
    assert install_root(tree, path) == expected


def test_two_tools_of_one_tree_count_its_bytes_once() -> None:
    rust = "/usr/local/rust"
    layer: list[Spec] = [official.exe(f"{rust}/bin/rustc", 9_000),
                         official.exe(f"{rust}/bin/cargo", 8_000),
                         F(f"{rust}/lib/librustc_driver.so", b"r" * 100_000),
                         F(f"{rust}/README.md", "rust")]
    image = image_of(layer, config=ImageConfig(env=(f"PATH={rust}/bin:/usr/bin",),
                                               history=()))
    tree = squash_layers(image.layers)
    skipped: list[Skipped] = []
    found = [f for f in run_detectors(ScanContext(image, tree, build_inventory(tree)), skipped)
             if f.category == "compiler"]
    assert sorted(str(f.evidence["tool"]) for f in found) == ["cargo", "rustc"]
    assert all(f.bytes == 117_004 for f in found)
    assert sum(f.own_bytes for f in found) == 117_004

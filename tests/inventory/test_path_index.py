"""The path index the catalogers and detectors share: what it finds is what a walk of
every path of the tree finds."""

from __future__ import annotations

from auditor.filetree import FileTree, squash_layers
from auditor.inventory._read import find_files, path_index
from auditor.read.wants import Want
from tests.layerkit import D, F, L, scans_of

PATHS = ["/a/b/VERSION", "/a/b-c/VERSION", "/a/bVERSION", "/x.jar", "/lib/y.JAR", "/lib/z.war",
         "/usr/include/a.h", "/usr/include/sub/b.h", "/usr/include0", "/usr/includes/c.h",
         "/s/pkg.egg-info", "/s/pkg.egg-info/PKG-INFO", "/s/dist-info/METADATA"]


def _tree() -> FileTree:
    return squash_layers(scans_of([[*(F(p, "x") for p in PATHS), D("/d.jar"),
                                    L("/l.jar", "x.jar")]]))


def test_ending_finds_what_endswith_finds() -> None:
    tree = _tree()
    for tails in [("/VERSION",), (".jar", ".war"), (".egg-info", "/PKG-INFO", "/METADATA"),
                  ("VERSION",), ("b/VERSION",), ("/",), ("",)]:
        want = sorted(p for p in tree.nodes if p != "/" and p.endswith(tails))
        assert [n.path for n in path_index(tree).ending(tails)] == want, tails


def test_under_is_the_run_of_paths_with_the_prefix() -> None:
    tree = _tree()
    for prefix in ["/usr/include/", "/usr/include", "/a/b", "/", "/nothing/", "/s/pkg.egg-info/"]:
        want = sorted(p for p in tree.nodes if p != "/" and p.startswith(prefix))
        assert [n.path for n in path_index(tree).under(prefix)] == want, prefix


def test_find_files_keeps_regular_files_its_globs_match() -> None:
    tree = _tree()
    found = find_files(tree, [Want("**/*.jar", 1)], (".jar",))
    assert [n.path for n in found] == ["/x.jar"]  # not the directory, not the link


def test_the_index_is_made_again_after_a_layer() -> None:
    scans = scans_of([[F("/a/VERSION", "1")], [F("/b/VERSION", "2")]])
    tree = squash_layers(scans[:1])
    assert [n.path for n in path_index(tree).named("VERSION")] == ["/a/VERSION"]
    tree.apply_layer(scans[1])
    assert [n.path for n in path_index(tree).named("VERSION")] == ["/a/VERSION", "/b/VERSION"]

"""Squashing rules, each on small layers built in the test and read by the real reader."""

import pytest

from auditor.filetree import squash_layers
from tests.layerkit import D, F, H, L, Opaque, W, scans_of, tree_of


def paths(tree):
    return sorted(n.path for n in tree)


def test_whiteout_removes_a_lower_file_and_charges_its_bytes_as_waste():
    tree = tree_of([D("/etc"), F("/etc/a", "x" * 100), F("/etc/b", "keep")], [W("/etc/a")])
    assert paths(tree) == ["/etc", "/etc/b"]
    assert tree.wasted_bytes == 100
    assert tree.layers[0].wasted_bytes == 100 and tree.layers[1].removed_bytes == 100
    assert [(w.path, w.layer, w.by_layer, w.removed) for w in tree.wasted] == [
        ("/etc/a", 0, 1, True)]


def test_whiteout_of_a_directory_removes_its_whole_subtree():
    tree = tree_of([D("/opt"), D("/opt/d"), F("/opt/d/x", "12"), D("/opt/d/e"),
                    F("/opt/d/e/y", "345")], [W("/opt/d")])
    assert paths(tree) == ["/opt"]
    assert tree.wasted_bytes == 5


def test_whiteout_does_not_hide_an_entry_of_its_own_layer_whatever_the_tar_order():
    tree = tree_of([F("/a", "old")], [F("/a", "new!"), W("/a")])
    assert tree.get("/a") is not None and tree.get("/a").size == 4
    assert tree.get("/a").layer == 1


def test_opaque_directory_hides_lower_children_but_keeps_its_own_layer_entries():
    tree = tree_of([D("/data"), F("/data/old1", "a"), F("/data/old2", "bb")],
                   [F("/data/new", "ccc"), Opaque("/data")])
    assert paths(tree) == ["/data", "/data/new"]
    assert tree.wasted_bytes == 3


def test_opaque_marker_on_a_directory_no_lower_layer_had_hides_nothing():
    tree = tree_of([D("/etc"), F("/etc/keep", "k")], [D("/etc/ssl"), Opaque("/etc/ssl"),
                                                       F("/etc/ssl/cert", "c")])
    assert paths(tree) == ["/etc", "/etc/keep", "/etc/ssl", "/etc/ssl/cert"]


def test_a_file_replacing_a_directory_drops_the_whole_subtree():
    tree = tree_of([D("/x"), F("/x/inner", "12345")], [F("/x", "now a file")])
    assert paths(tree) == ["/x"]
    assert tree.get("/x").kind == "file"
    assert tree.wasted_bytes == 5


def test_a_directory_replacing_a_file():
    tree = tree_of([F("/x", "file")], [D("/x"), F("/x/child", "c")])
    assert tree.get("/x").kind == "dir"
    assert paths(tree) == ["/x", "/x/child"]
    assert tree.wasted_bytes == 4


def test_directory_over_directory_merges_and_takes_the_new_metadata():
    tree = tree_of([D("/srv", mode=0o700), F("/srv/a", "a")], [D("/srv", mode=0o755, uid=5)])
    node = tree.get("/srv")
    assert (node.mode, node.uid, node.layer) == (0o755, 5, 1)
    assert paths(tree) == ["/srv", "/srv/a"]


def test_an_overwritten_file_is_waste_and_the_new_copy_records_its_layer():
    tree = tree_of([F("/app/bin", "v1" * 50)], [F("/app/bin", "v2")])
    assert tree.get("/app/bin").layer == 1 and tree.get("/app/bin").size == 2
    assert tree.wasted_bytes == 100
    assert tree.wasted[0].removed is False
    # dive counts every version of a path touched twice, the surviving one included
    assert tree.dive_wasted_bytes == 102


def test_implicit_parent_directories_are_created():
    tree = tree_of([F("/deep/er/file", "x")])
    assert tree.get("/deep").kind == "dir" and tree.get("/deep/er").kind == "dir"


def test_hard_link_shares_content_mode_and_owner_of_its_target():
    tree = tree_of([F("/bin/busybox", b"\x7fELF" + b"\0" * 60, mode=0o4755, uid=0),
                    H("/bin/ls", "/bin/busybox")])
    link = tree.get("/bin/ls")
    assert link.kind == "hardlink" and link.link == "/bin/busybox"
    assert link.size == 64 and link.mode == 0o4755
    assert tree.read_prefix("/bin/ls", 4) == b"\x7fELF"
    assert tree.size_bytes == 64  # hard-linked content counts once


def test_hard_link_to_a_missing_file_is_recorded_as_skipped_not_fatal():
    tree = tree_of([H("/a", "/missing")])
    assert tree.get("/a") is None
    assert any("hard link" in s.reason for s in tree.skipped)


@pytest.mark.parametrize(("path", "expected"), [
    ("/bin/sh", "/usr/bin/dash"),              # merged /usr plus a relative link
    ("/bin/dash", "/usr/bin/dash"),
    ("/usr/bin/sh", "/usr/bin/dash"),
    ("/lib64/ld.so", "/usr/lib/ld.so"),        # absolute link taken from the image root
    ("/usr/bin/escape", "/etc/passwd"),        # ../../../.. stops at the root
    ("/usr/bin/chain1", "/usr/bin/dash"),       # chains
    ("/usr/bin/loop1", None),                  # loops are cut off
    ("/usr/bin/dangling", None),
    ("/usr/bin/dash/x", None),                 # walking through a file
])
def test_symlink_resolution_stays_inside_the_image(path, expected):
    tree = tree_of([
        D("/usr"), D("/usr/bin"), D("/usr/lib"), D("/etc"), F("/etc/passwd", "root"),
        F("/usr/bin/dash", b"\x7fELF", mode=0o755), F("/usr/lib/ld.so", "ld"),
        L("/bin", "usr/bin"), L("/lib64", "/usr/lib"), L("/usr/bin/sh", "dash"),
        L("/usr/bin/escape", "../../../../etc/passwd"), L("/usr/bin/chain1", "chain2"),
        L("/usr/bin/chain2", "/bin/sh"), L("/usr/bin/loop1", "loop2"),
        L("/usr/bin/loop2", "loop1"), L("/usr/bin/dangling", "nowhere"),
    ])
    assert tree.resolve(path) == expected


def test_resolve_without_following_the_last_link():
    tree = tree_of([D("/usr"), D("/usr/bin"), F("/usr/bin/dash", "x"), L("/bin", "usr/bin"),
                    L("/usr/bin/sh", "dash")])
    assert tree.resolve("/bin/sh", follow_last=False) == "/usr/bin/sh"


def test_a_layer_entry_under_a_lower_symlink_turns_it_into_a_directory_as_overlay2_does():
    tree = tree_of([D("/usr"), D("/usr/bin"), F("/usr/bin/a", "a"), L("/bin", "usr/bin")],
                   [F("/bin/b", "b")])
    assert tree.get("/bin").kind == "dir"
    assert paths(tree) == ["/bin", "/bin/b", "/usr", "/usr/bin", "/usr/bin/a"]


def test_entry_modes_owners_and_setuid_bits_are_kept():
    tree = tree_of([F("/usr/bin/helper", "x", mode=0o4755, uid=0, gid=50)])
    node = tree.get("/usr/bin/helper")
    assert (node.mode, node.uid, node.gid) == (0o4755, 0, 50)


def test_paths_leaving_the_root_are_skipped():
    tree = tree_of([F("../../etc/evil", "x"), F("/ok", "y")])
    assert paths(tree) == ["/ok"]
    assert any("leaves the image root" in s.reason for s in tree.skipped)


def test_layer_stats_count_added_bytes_and_files():
    scans = scans_of([[F("/a", "1234"), F("/b", "56")], [F("/c", "7")]])
    tree = squash_layers(scans)
    assert [(s.added_bytes, s.files) for s in tree.layers] == [(6, 2), (1, 1)]


def test_content_is_kept_only_where_wanted():
    from auditor.read.wants import Want
    tree = tree_of([F("/etc/passwd", "root:x:0:0"), F("/etc/other", "nope"),
                    F("/usr/bin/tool", b"#!/bin/sh\n", mode=0o755)],
                   wants=[Want("/etc/passwd", 4)])
    assert tree.read_prefix("/etc/passwd", 100) == b"root"
    assert tree.read_prefix("/etc/other", 100) is None
    assert tree.read_prefix("/usr/bin/tool", 2) == b"#!"  # executables: the first KiB
    assert not tree.has_whole("/etc/passwd")


@pytest.mark.parametrize(("path", "mode", "expected"), [
    ("/etc/passwd", 0o644, 10),           # a literal name beats the directory glob's 5
    ("/etc/ssl/x.pem", 0o644, 100),       # a basename glob, anywhere
    ("/root/x.pem", 0o644, 100),
    ("/etc/deep/er/file", 0o644, 5),      # /etc/**
    ("/app/.env", 0o644, 64),
    ("/srv/app/.env", 0o644, 64),
    ("/var/lib/dpkg/info/bash.list", 0o644, 7),
    ("/var/lib/dpkg/info/bash.md5sums", 0o644, 0),
    ("/usr/bin/tool", 0o755, 1024),        # executables: the first KiB
    ("/usr/lib/libc.so.6", 0o644, 1024),   # shared libraries too
    ("/usr/share/doc/readme", 0o644, 0),
])
def test_wants_choose_the_largest_budget_that_matches(path, mode, expected):
    from auditor.read.wants import ContentWants, Want
    wants = ContentWants([Want("/etc/passwd", 10), Want("*.pem", 100), Want("/etc/**", 5),
                          Want(".env", 64), Want("/var/lib/dpkg/info/*.list", 7)])
    assert wants.limit(path, mode) == expected


def test_a_walk_is_iteration_in_path_order_and_can_leave_out_a_subtree():
    # /a/b-c and /a/b.d sort between /a/b and what it holds: the walk still visits them.
    tree = tree_of([D("/a"), D("/a/b"), F("/a/b/x", "1"), D("/a/b/y"), F("/a/b/y/z", "2"),
                    F("/a/b-c", "3"), D("/a/b.d"), F("/a/b.d/e", "4"), F("/a/c", "5")])
    assert [n.path for n in tree.walk()] == [n.path for n in tree] == [
        "/a", "/a/b", "/a/b-c", "/a/b.d", "/a/b.d/e", "/a/b/x", "/a/b/y", "/a/b/y/z", "/a/c"]
    walk, seen = tree.walk(), []
    for node in walk:
        seen.append(node.path)
        if node.path in ("/a/b", "/a/b.d"):
            walk.skip_below()
    assert seen == ["/a", "/a/b", "/a/b-c", "/a/b.d", "/a/c"]


def test_resolve_answers_the_same_without_walking_a_path_of_directories():
    tree = tree_of([D("/usr"), D("/usr/lib"), F("/usr/lib/libc.so", "x"), L("/lib", "usr/lib"),
                    L("/usr/lib/libc.so.6", "libc.so")])
    assert tree.resolve("/usr/lib") == "/usr/lib"
    assert tree.resolve("/usr/lib/libc.so") == "/usr/lib/libc.so"
    assert tree.resolve("/lib/libc.so") == "/usr/lib/libc.so"
    assert tree.resolve("/usr/lib/libc.so.6") == "/usr/lib/libc.so"
    assert tree.resolve("/usr/lib/libc.so.6", follow_last=False) == "/usr/lib/libc.so.6"
    assert tree.resolve("/usr/lib/libc.so/x") is None  # a file is no directory
    assert tree.resolve("/usr//lib/./libc.so") == "/usr/lib/libc.so"
    assert tree.resolve("/usr/lib/../lib") == "/usr/lib"


def test_a_path_thousands_of_components_deep_gets_every_parent_directory():
    # the parents are made in a loop: an image controls how deep its paths go
    deep = "/d" * 3000
    tree = tree_of([F("/d", "a file where the first directory must go"), F(deep + "/f", "x")])
    assert tree.get(deep + "/f").size == 1
    assert tree.get("/d").kind == "dir" and tree.get(deep).kind == "dir"
    assert len(tree) == 3000 + 2
    assert tree.wasted_bytes == len("a file where the first directory must go")

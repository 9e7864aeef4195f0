from tests.layerkit import D, F, L, tree_of


def test_layerkit_builds_a_tree_that_the_real_reader_squashes():
    tree = tree_of([D("/bin"), F("/bin/busybox", b"\x7fELF", mode=0o755), L("/bin/sh", "busybox")])
    assert tree.resolve("/bin/sh") == "/bin/busybox"
    assert tree.read_prefix("/bin/sh", 4) == b"\x7fELF"

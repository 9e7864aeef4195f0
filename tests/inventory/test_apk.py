import pytest

from tests.inventory.kit import by_name, catalog
from tests.layerkit import F

INSTALLED = "/lib/apk/db/installed"

MUSL = """\
C:Q1abc=
P:musl
V:1.2.4-r2
A:x86_64
S:383152
I:622592
T:the musl c library (libc) implementation
o:musl
F:lib
R:ld-musl-x86_64.so.1
a:0:0:755
Z:Q1def=
R:libc.musl-x86_64.so.1
"""

BUSYBOX = """\
P:busybox
V:1.36.1-r5
A:x86_64
I:946176
o:busybox
F:bin
R:busybox
F:etc/busybox-paths.d
"""


def test_reads_packages_and_their_files():
    packages, skipped = catalog("apk", [F(INSTALLED, MUSL + "\n" + BUSYBOX)])
    assert skipped == []
    got = by_name(packages)
    musl = got["musl"]
    assert (musl.version, musl.ecosystem, musl.arch, musl.source, musl.installed_size) == (
        "1.2.4-r2", "apk", "x86_64", "musl", 622592)
    assert musl.files == ("/lib", "/lib/ld-musl-x86_64.so.1", "/lib/libc.musl-x86_64.so.1")
    assert got["busybox"].files == ("/bin", "/bin/busybox", "/etc/busybox-paths.d")
    assert musl.location == INSTALLED


@pytest.mark.parametrize("broken, reason", [
    ("P:half\nA:x86_64\n", "no V: (version)"),
    ("P:x\nV:1\nR:orphan\n", "before any directory line"),
    ("P:x\nV:1\nnot a field\n", "not an 'X:value' line"),
    ("\x7fELF\x02\x01\x01\x00garbage\n", "not an 'X:value' line"),
], ids=["truncated-paragraph", "file-before-directory", "not-a-field", "binary-garbage"])
def test_a_malformed_paragraph_is_skipped_and_the_rest_read(broken, reason):
    packages, skipped = catalog("apk", [F(INSTALLED, MUSL + "\n" + broken + "\n" + BUSYBOX)])
    assert sorted(p.name for p in packages) == ["busybox", "musl"]
    assert [s.where for s in skipped] == [f"{INSTALLED} (paragraph 2)"]
    assert reason in skipped[0].reason


def test_database_cut_short_keeps_whole_paragraphs():
    from tests.inventory.kit import tree_for
    tree = tree_for("apk", [F(INSTALLED, MUSL + "\n" + BUSYBOX)])
    node = tree.nodes[INSTALLED]
    node.data = (node.data or b"")[:len(MUSL) + 10]  # what the scan keeps past its bound
    packages, skipped = catalog("apk", tree=tree)
    assert [p.name for p in packages] == ["musl"]
    assert "larger than the bytes read" in skipped[0].reason


def test_no_apk_database_is_no_packages():
    assert catalog("apk", [F("/etc/alpine-release", "3.19.1\n")]) == ([], [])

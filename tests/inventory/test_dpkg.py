import pytest

from auditor.inventory.dpkg import parse_paragraph
from tests.inventory.kit import by_name, catalog, inventory, tree_for
from tests.layerkit import D, F, L

STATUS = "/var/lib/dpkg/status"


def para(name: str, version: str, status: str = "install ok installed", **extra: str) -> str:
    lines = [f"Package: {name}", f"Status: {status}", f"Version: {version}"]
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in extra.items()]
    return "\n".join(lines) + "\n"


def status_file(*paragraphs: str) -> F:
    return F(STATUS, "\n".join(paragraphs))


def test_reads_fields_of_installed_packages():
    status = status_file(
        para("libc6", "2.36-9+deb12u4", Architecture="amd64", Installed_Size="12993",
             Source="glibc", Description="GNU C Library\n shared libraries\n ."),
        para("libssl3", "3.0.11-1~deb12u2", Architecture="amd64",
             Source="openssl (3.0.11-1~deb12u2)", Installed_Size="6228"),
        para("bash", "5.2.15-2+b2"),
    )
    packages, skipped = catalog("dpkg", [status])
    assert skipped == []
    got = by_name(packages)
    assert set(got) == {"libc6", "libssl3", "bash"}
    libc = got["libc6"]
    assert (libc.version, libc.ecosystem, libc.arch, libc.source) == (
        "2.36-9+deb12u4", "deb", "amd64", "glibc")
    assert libc.installed_size == 12993 * 1024
    assert libc.location == STATUS
    assert got["libssl3"].source == "openssl"
    assert got["bash"].source is None and got["bash"].installed_size == 0


@pytest.mark.parametrize("status, listed", [
    ("install ok installed", True),
    ("hold ok installed", True),
    ("deinstall ok installed", True),  # selected for removal, files still there
    ("install ok triggers-pending", True),
    ("install ok unpacked", True),
    ("deinstall ok config-files", False),
    ("purge ok not-installed", False),
    ("install reinstreq half-installed", False),
    ("garbage", False),
], ids=lambda v: str(v).replace(" ", "-"))
def test_only_packages_whose_files_are_on_disk(status, listed):
    packages, _ = catalog("dpkg", [status_file(para("curl", "7.88.1-10", status))])
    assert bool(packages) is listed


def test_files_come_from_list_files_including_multiarch_names():
    packages, skipped = catalog("dpkg", [
        status_file(para("bash", "5.2", Architecture="amd64"),
                    para("libc6", "2.36", Architecture="amd64"),
                    para("nolist", "1.0")),
        F("/var/lib/dpkg/info/bash.list", "/.\n/bin\n/bin/bash\n/usr/share/doc/bash\n"),
        F("/var/lib/dpkg/info/libc6:amd64.list", "/.\n/lib/x86_64-linux-gnu/libc.so.6\n"),
        F("/var/lib/dpkg/info/bash.md5sums", "0123  bin/bash\n"),
    ])
    assert skipped == []
    got = by_name(packages)
    assert got["bash"].files == ("/bin", "/bin/bash", "/usr/share/doc/bash")
    assert got["libc6"].files == ("/lib/x86_64-linux-gnu/libc.so.6",)
    assert got["nolist"].files == ()


def test_merged_usr_paths_from_lists_resolve_to_their_owner():
    inv = inventory([
        D("/usr/bin"), L("/bin", "usr/bin"),
        F("/usr/bin/bash", b"\x7fELF", mode=0o755),
        status_file(para("bash", "5.2")),
        F("/var/lib/dpkg/info/bash.list", "/.\n/bin\n/bin/bash\n"),
    ])
    owner = inv.owner("/usr/bin/bash")
    assert owner is not None and owner.name == "bash"


def test_distroless_status_d_with_md5sums():
    packages, skipped = catalog("dpkg", [
        F("/var/lib/dpkg/status.d/base-files", para("base-files", "12.4+deb12u5").replace(
            "Status: install ok installed\n", "")),
        F("/var/lib/dpkg/status.d/libssl3", para("libssl3", "3.0.11", Architecture="amd64")),
        F("/var/lib/dpkg/status.d/libssl3.md5sums",
          "abc  usr/lib/x86_64-linux-gnu/libssl.so.3\ndef  usr/share/doc/libssl3/copyright\n"),
    ])
    assert skipped == []
    got = by_name(packages)
    assert set(got) == {"base-files", "libssl3"}
    assert got["base-files"].location == "/var/lib/dpkg/status.d/base-files"
    assert got["libssl3"].files == ("/usr/lib/x86_64-linux-gnu/libssl.so.3",
                                    "/usr/share/doc/libssl3/copyright")


def test_same_package_in_status_and_status_d_is_listed_once():
    packages, _ = catalog("dpkg", [
        status_file(para("tzdata", "2024a")),
        F("/var/lib/dpkg/status.d/tzdata", para("tzdata", "2024a")),
    ])
    assert [p.name for p in packages] == ["tzdata"]


def test_the_last_layer_status_wins():
    packages, _ = catalog("dpkg",
                          [status_file(para("curl", "7.88"), para("bash", "5.2"))],
                          [status_file(para("bash", "5.2"))])
    assert [p.name for p in packages] == ["bash"]


@pytest.mark.parametrize("broken, reason", [
    ("Package: half\nStatus: install ok installed\nVersi\n", "not a 'Field: value' line"),
    ("Package: half\nStatus: install ok installed\n", "no Package or no Version"),
    ("Status: install ok installed\nVersion: 1.0\n", "no Package or no Version"),
    (" continued\nPackage: x\nVersion: 1\n", "continuation line"),
    ("Package: x\nthis is not a field\nVersion: 1\n", "not a 'Field: value' line"),
    ("\x00\x01\x02\xff\xfe binary\n", "not a 'Field: value' line"),
], ids=["truncated-mid-line", "truncated-before-version", "no-package-field",
        "leading-continuation", "not-a-field", "binary-garbage"])
def test_a_malformed_paragraph_is_skipped_and_the_rest_read(broken, reason):
    packages, skipped = catalog("dpkg", [status_file(para("bash", "5.2"), broken,
                                                     para("zlib1g", "1.2.13"))])
    assert sorted(p.name for p in packages) == ["bash", "zlib1g"]
    assert len(skipped) == 1
    assert skipped[0].where == f"{STATUS} (paragraph 2)"
    assert reason in skipped[0].reason


def test_status_longer_than_its_bound_keeps_whole_paragraphs_and_says_so():
    status = status_file(para("aaa", "1"), para("bbb", "2"), para("ccc", "3"))
    cut = len(para("aaa", "1")) + 1 + 20  # inside the second paragraph
    tree = tree_for("dpkg", [status])
    node = tree.nodes[STATUS]
    node.data = (node.data or b"")[:cut]  # what the scan keeps of a file past its bound
    packages, skipped = catalog("dpkg", tree=tree)
    assert [p.name for p in packages] == ["aaa"]
    assert "larger than the bytes read" in skipped[0].reason


def test_list_file_cut_short_keeps_whole_lines():
    tree = tree_for("dpkg", [status_file(para("big", "1")),
                             F("/var/lib/dpkg/info/big.list", "/.\n/usr/a\n/usr/bbbbbb\n")])
    tree.nodes["/var/lib/dpkg/info/big.list"].data = b"/.\n/usr/a\n/usr/bb"  # cut at its bound
    packages, skipped = catalog("dpkg", tree=tree)
    assert packages[0].files == ("/usr/a",)
    assert skipped[0].where == "/var/lib/dpkg/info/big.list"


def test_no_dpkg_database_is_no_packages_and_nothing_skipped():
    assert catalog("dpkg", [F("/etc/os-release", "ID=alpine\n")]) == ([], [])


def test_parse_paragraph_joins_continuation_lines():
    fields = parse_paragraph(["Package: a", "Description: short", " long", " ."])
    assert fields == {"Package": "a", "Description": "short\nlong\n."}

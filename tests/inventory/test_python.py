import pytest

from auditor.inventory.python import parse_metadata
from tests.inventory.kit import by_name, catalog, inventory
from tests.layerkit import F

SITE = "/usr/local/lib/python3.11/site-packages"
DEB_SITE = "/usr/lib/python3/dist-packages"


def metadata(name: str, version: str, body: str = "A description.\n") -> str:
    return f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: s\n\n{body}"


def test_dist_info_with_record():
    record = ("requests/__init__.py,sha256=abc,4\n"
              "requests-2.31.0.dist-info/METADATA,sha256=def,120\n"
              "requests-2.31.0.dist-info/RECORD,,\n"
              "../../../bin/requests-cli,sha256=ghi,10\n")
    packages, skipped = catalog("python", [
        F(f"{SITE}/requests-2.31.0.dist-info/METADATA", metadata("requests", "2.31.0")),
        F(f"{SITE}/requests-2.31.0.dist-info/RECORD", record),
        F(f"{SITE}/requests/__init__.py", "abcd"),
        F("/usr/local/bin/requests-cli", "#!/usr/bin/python3\n", mode=0o755),
    ])
    assert skipped == []
    [req] = packages
    assert (req.name, req.version, req.ecosystem) == ("requests", "2.31.0", "python")
    assert req.location == f"{SITE}/requests-2.31.0.dist-info/METADATA"
    assert req.files == (f"{SITE}/requests/__init__.py",
                         f"{SITE}/requests-2.31.0.dist-info/METADATA",
                         f"{SITE}/requests-2.31.0.dist-info/RECORD",
                         "/usr/local/bin/requests-cli")
    assert req.installed_size == 4 + len(metadata("requests", "2.31.0")) + len(record) + 19


def test_names_are_normalised_and_versions_kept_as_written():
    packages, _ = catalog("python", [
        F(f"{SITE}/Foo_Bar-01.0.dist-info/METADATA", metadata("Foo_Bar", "01.0")),
        F(f"{SITE}/zope.interface-6.0.dist-info/METADATA", metadata("zope.interface", "6.0")),
    ])
    assert sorted((p.name, p.version) for p in packages) == [
        ("foo-bar", "01.0"), ("zope-interface", "6.0")]


def test_debian_dist_packages_egg_info_dir_and_file():
    packages, skipped = catalog("python", [
        F(f"{DEB_SITE}/six-1.16.0.egg-info", metadata("six", "1.16.0")),
        F(f"{DEB_SITE}/PyYAML-6.0.egg-info/PKG-INFO", metadata("PyYAML", "6.0")),
        F(f"{DEB_SITE}/PyYAML-6.0.egg-info/installed-files.txt",
          "../yaml/__init__.py\nPKG-INFO\n"),
        F(f"{DEB_SITE}/yaml/__init__.py", "x"),
    ])
    assert skipped == []
    got = by_name(packages)
    assert set(got) == {"six", "pyyaml"}
    assert got["six"].files == () and got["six"].location == f"{DEB_SITE}/six-1.16.0.egg-info"
    assert got["pyyaml"].files == (f"{DEB_SITE}/yaml/__init__.py",
                                   f"{DEB_SITE}/PyYAML-6.0.egg-info/PKG-INFO")


def test_python_files_are_owned_after_indexing():
    inv = inventory([
        F(f"{SITE}/six-1.16.0.dist-info/METADATA", metadata("six", "1.16.0")),
        F(f"{SITE}/six-1.16.0.dist-info/RECORD", "six.py,sha256=x,3\n"),
        F(f"{SITE}/six.py", "six"),
    ])
    owner = inv.owner(f"{SITE}/six.py")
    assert owner is not None and owner.name == "six"


@pytest.mark.parametrize("path", [
    f"{SITE}/setuptools/_vendor/packaging-24.0.dist-info/METADATA",
    "/app/mypkg.egg-info/PKG-INFO",
    "/src/build/lib/foo-1.0.dist-info/METADATA",
], ids=["vendored-inside-a-package", "app-source-tree-egg-info", "outside-a-site-dir"])
def test_metadata_outside_a_site_directory_is_not_a_package(path):
    assert catalog("python", [F(path, metadata("x", "1"))]) == ([], [])


def test_long_description_past_the_bound_still_parses():
    big = metadata("numpy", "1.26.4", body="x" * 200_000)
    packages, skipped = catalog("python", [F(f"{SITE}/numpy-1.26.4.dist-info/METADATA", big)])
    assert [(p.name, p.version) for p in packages] == [("numpy", "1.26.4")] and skipped == []


@pytest.mark.parametrize("content, reason", [
    (b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 8, "binary"),
    (bytes(range(1, 256)) * 4, "no Name or no Version"),
    (b"Metadata-Version: 2.1\nName: ok\n", "no Name or no Version"),
    (b"Name: bad name!\nVersion: 1\n", "not a valid distribution name"),
    (b"Name: ok\nVersion: 1 2\n", "not a version"),
    (b"", "no Name or no Version"),
], ids=["elf-garbage", "random-bytes", "truncated-before-version", "invalid-name",
        "version-with-space", "empty"])
def test_bad_metadata_is_skipped_and_others_read(content, reason):
    packages, skipped = catalog("python", [
        F(f"{SITE}/bad-1.0.dist-info/METADATA", content),
        F(f"{SITE}/good-1.0.dist-info/METADATA", metadata("good", "1.0")),
    ])
    assert [p.name for p in packages] == ["good"]
    assert [s.where for s in skipped] == [f"{SITE}/bad-1.0.dist-info/METADATA"]
    assert reason in skipped[0].reason


def test_record_with_garbage_lines_keeps_its_paths():
    packages, skipped = catalog("python", [
        F(f"{SITE}/a-1.dist-info/METADATA", metadata("a", "1")),
        F(f"{SITE}/a-1.dist-info/RECORD", b"a.py,,\n\xff\xfe\x00,\n\n"),
    ])
    assert skipped == []
    assert packages[0].files[0] == f"{SITE}/a.py"


def test_parse_metadata_rejects_names_pep_508_does_not_allow():
    assert "not a valid" in str(parse_metadata("Name: caf\u00e9\nVersion: 1\n".encode()))
    assert parse_metadata(b"Name: Caf-X\nVersion: 1.0.post1\n") == ("Caf-X", "1.0.post1")


def test_record_that_is_not_csv_is_skipped_and_the_package_kept():
    packages, skipped = catalog("python", [
        F(f"{SITE}/a-1.dist-info/METADATA", metadata("a", "1")),
        F(f"{SITE}/a-1.dist-info/RECORD", "x" * 200_000 + "\n"),
    ])
    assert [(p.name, p.files) for p in packages] == [("a", ())]
    assert "RECORD is not CSV" in skipped[0].reason

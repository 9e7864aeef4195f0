import sqlite3
import struct
from pathlib import Path

import pytest

from auditor.inventory import rpm
from auditor.inventory.rpm import (
    ARCH,
    BASENAMES,
    DIRINDEXES,
    DIRNAMES,
    EPOCH,
    NAME,
    OLDFILENAMES,
    RELEASE,
    SIZE,
    SOURCERPM,
    VERSION,
    parse_header,
)
from tests.inventory.kit import by_name, catalog, tree_for
from tests.layerkit import D, F, L

DB = "/var/lib/rpm/rpmdb.sqlite"


def rpm_header(tags: dict[int, str | list[str] | list[int]]) -> bytes:
    """A header blob as rpmdb.sqlite stores it: counts, index entries, data store."""
    index, store = b"", bytearray()
    for tag, value in tags.items():
        if isinstance(value, str):
            kind, count, data = rpm.STRING, 1, value.encode() + b"\0"
        elif value and isinstance(value[0], str):
            kind, count = rpm.STRING_ARRAY, len(value)
            data = b"".join(str(v).encode() + b"\0" for v in value)
        else:
            while len(store) % 4:  # rpm aligns integers to their size
                store.append(0)
            kind, count = rpm.INT32, len(value)
            data = struct.pack(f">{count}I", *value)
        index += struct.pack(">IIII", tag, kind, len(store), count)
        store += data
    return struct.pack(">II", len(tags), len(store)) + index + bytes(store)


def bash_tags(**over: str | list[str] | list[int]) -> dict[int, str | list[str] | list[int]]:
    tags: dict[int, str | list[str] | list[int]] = {
        NAME: "bash", VERSION: "5.2.15", RELEASE: "5.fc39", ARCH: "x86_64",
        SIZE: [8123456], SOURCERPM: "bash-5.2.15-5.fc39.src.rpm",
        DIRNAMES: ["/usr/bin/", "/etc/skel/"], BASENAMES: ["bash", "sh", ".bashrc"],
        DIRINDEXES: [0, 0, 1]}
    for key, value in over.items():
        tags[int(key)] = value
    return tags


def rpmdb(*blobs: bytes | str, wal: bool = False, tmp: Path | None = None) -> bytes:
    """A real rpmdb.sqlite with one Packages row per blob."""
    if wal:
        assert tmp is not None
        path = tmp / "rpmdb.sqlite"
        conn = sqlite3.connect(path)
        conn.execute("PRAGMA journal_mode=WAL")
    else:
        conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB)")
    conn.executemany("INSERT INTO Packages (blob) VALUES (?)", [(b,) for b in blobs])
    conn.commit()
    if wal:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        assert tmp is not None
        return (tmp / "rpmdb.sqlite").read_bytes()
    data = conn.serialize()
    conn.close()
    return data


def test_reads_packages_from_sqlite_rpmdb():
    db = rpmdb(rpm_header(bash_tags()),
               rpm_header({NAME: "shadow-utils", VERSION: "4.14.0", RELEASE: "2.fc39",
                           EPOCH: [2], ARCH: "x86_64", SIZE: [100]}))
    packages, skipped = catalog("rpm", [F(DB, db)])
    assert skipped == []
    got = by_name(packages)
    bash = got["bash"]
    assert (bash.version, bash.ecosystem, bash.arch, bash.installed_size, bash.source) == (
        "5.2.15-5.fc39", "rpm", "x86_64", 8123456, "bash-5.2.15-5.fc39.src.rpm")
    assert bash.files == ("/usr/bin/bash", "/usr/bin/sh", "/etc/skel/.bashrc")
    assert bash.location == DB
    assert got["shadow-utils"].version == "2:4.14.0-2.fc39"


def test_sysimage_database_behind_a_symlink_is_read_once():
    db = rpmdb(rpm_header(bash_tags()))
    packages, _ = catalog("rpm", [D("/usr/lib/sysimage/rpm"),
                                  F("/usr/lib/sysimage/rpm/rpmdb.sqlite", db),
                                  L("/var/lib/rpm", "../../usr/lib/sysimage/rpm")])
    assert [p.name for p in packages] == ["bash"]


def test_wal_mode_database_reads(tmp_path):
    db = rpmdb(rpm_header(bash_tags()), wal=True, tmp=tmp_path)
    assert db[18:20] == b"\x02\x02"
    packages, skipped = catalog("rpm", [F(DB, db)])
    assert skipped == [] and [p.name for p in packages] == ["bash"]


def test_old_filenames_and_signing_keys():
    db = rpmdb(rpm_header({NAME: "old", VERSION: "1", RELEASE: "1",
                           OLDFILENAMES: ["/usr/bin/old"]}),
               rpm_header({NAME: "gpg-pubkey", VERSION: "18b8e74c", RELEASE: "62f2920f"}))
    packages, _ = catalog("rpm", [F(DB, db)])
    assert [(p.name, p.files) for p in packages] == [("old", ("/usr/bin/old",))]


@pytest.mark.parametrize("blob, reason", [
    (rpm_header(bash_tags())[:40], "exceed"),
    (b"\x00\x01", "shorter than its two counts"),
    (rpm_header({VERSION: "1"}), "no name"),
    (rpm_header(bash_tags(**{str(DIRINDEXES): [0, 0, 7]})), "indexes do not match"),
    (struct.pack(">II", 1, 4) + struct.pack(">IIII", NAME, rpm.STRING, 0, 1) + b"bash",
     "not terminated"),
    (struct.pack(">II", 1, 4) + struct.pack(">IIII", NAME, rpm.STRING, 99, 1) + b"x\0\0\0",
     "past the data store"),
    ("a text value, not a blob", "not a blob"),
], ids=["truncated-blob", "two-bytes", "no-name", "bad-dir-index", "unterminated-string",
        "offset-past-store", "text-row"])
def test_a_bad_header_is_skipped_and_the_rest_read(blob, reason):
    db = rpmdb(rpm_header(bash_tags()), blob)
    packages, skipped = catalog("rpm", [F(DB, db)])
    assert [p.name for p in packages] == ["bash"]
    assert [s.where for s in skipped] == [f"{DB} (header 2)"]
    assert reason in skipped[0].reason


@pytest.mark.parametrize("content, reason", [
    (b"\x00\x06\x15\x61" + b"\0" * 4092, "not an SQLite database"),
    (b"SQLite format 3\0" + b"\xff" * 200, "does not read"),
], ids=["berkeley-db-bytes", "corrupt-sqlite"])
def test_unreadable_database_is_skipped(content, reason):
    packages, skipped = catalog("rpm", [F(DB, content)])
    assert packages == []
    assert skipped[0].where == DB and reason in skipped[0].reason


def test_sqlite_without_packages_table_is_skipped():
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE Other (x)")
    db = conn.serialize()
    packages, skipped = catalog("rpm", [F(DB, db)])
    assert packages == [] and "no such table" in skipped[0].reason


def test_berkeley_db_is_recorded_as_unsupported():
    bdb = b"\0\0\0\0\x01\0\0\0" + b"\0" * 4 + b"\x61\x15\x06\x00" + b"\0" * 4080
    packages, skipped = catalog("rpm", [F("/var/lib/rpm/Packages", bdb),
                                        F("/var/lib/rpm/Name", bdb)])
    assert packages == []
    assert [s.where for s in skipped] == ["/var/lib/rpm/Packages"]
    assert skipped[0].reason.startswith("rpm Berkeley DB database is not supported;")


def test_database_larger_than_its_bound_is_skipped():
    tree = tree_for("rpm", [F(DB, rpmdb(rpm_header(bash_tags())))])
    node = tree.nodes[DB]
    node.data = (node.data or b"")[:4096]  # what the scan keeps past its bound
    packages, skipped = catalog("rpm", tree=tree)
    assert packages == [] and "larger than the bytes read" in skipped[0].reason


def test_parse_header_reads_only_wanted_tags():
    tags = parse_header(rpm_header({NAME: "x", 1004: "a summary", VERSION: "1"}))
    assert tags == {NAME: "x", VERSION: "1"}

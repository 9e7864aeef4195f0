"""RPM packages: the SQLite rpm database (``rpmdb.sqlite``, rpm 4.16 and later).

Each row of its ``Packages`` table is one package's header in rpm's binary header format
(as in a .rpm file, without the leading magic): two big-endian counts, ``il`` index
entries of 16 bytes (tag, type, offset, count), then ``dl`` bytes of data the offsets
point into. The database is opened from the captured bytes, never from a file on disk.

Older images keep a Berkeley DB (``Packages``) or, on SUSE, an ndb (``Packages.db``);
neither is read here, and saying so is recorded rather than silently finding nothing.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from auditor.filetree import FileTree
from auditor.inventory import Package, cataloger
from auditor.inventory._read import MiB, read_content
from auditor.model.image import Skipped
from auditor.read.wants import Want

SQLITE_DBS = ("/var/lib/rpm/rpmdb.sqlite", "/usr/lib/sysimage/rpm/rpmdb.sqlite")
OTHER_DBS = {
    "/var/lib/rpm/Packages": "rpm Berkeley DB database",
    "/usr/lib/sysimage/rpm/Packages": "rpm Berkeley DB database",
    "/var/lib/rpm/Packages.db": "rpm ndb database",
    "/usr/lib/sysimage/rpm/Packages.db": "rpm ndb database",
}

# A full Fedora install's database is ~10 MiB; the bound keeps a pathological one from
# taking the whole capture budget.
WANTS = [Want(path, 64 * MiB) for path in SQLITE_DBS]

NAME, VERSION, RELEASE, EPOCH, SIZE, ARCH = 1000, 1001, 1002, 1003, 1009, 1022
OLDFILENAMES, SOURCERPM, DIRINDEXES, BASENAMES, DIRNAMES, LONGSIZE = (
    1027, 1044, 1116, 1117, 1118, 5009)
WANTED_TAGS = frozenset({NAME, VERSION, RELEASE, EPOCH, SIZE, ARCH, OLDFILENAMES, SOURCERPM,
                         DIRINDEXES, BASENAMES, DIRNAMES, LONGSIZE})

INT16, INT32, INT64, STRING, STRING_ARRAY, I18NSTRING = 3, 4, 5, 6, 8, 9
_INT_FORMATS = {INT16: "H", INT32: "I", INT64: "Q"}  # rpm reads them unsigned

MAX_INDEX_ENTRIES = 0xFFFF  # rpm's own sanity bound on il
SQLITE_MAGIC = b"SQLite format 3\0"

Value = str | list[str] | list[int]


class HeaderError(ValueError):
    """A header blob that does not parse; its message is a sentence for the report."""


def _strings(data: bytes, offset: int, count: int) -> list[str]:
    parts = data[offset:].split(b"\0", count)
    if len(parts) <= count:
        raise HeaderError(f"string data at offset {offset} is not terminated")
    return [p.decode("utf-8", "surrogateescape") for p in parts[:count]]


def parse_header(blob: bytes) -> dict[int, Value]:
    """The wanted tags of one header blob: strings, string lists or integer lists."""
    if len(blob) < 8:
        raise HeaderError("header is shorter than its two counts")
    il, dl = struct.unpack_from(">II", blob)
    start = 8 + 16 * il
    if il > MAX_INDEX_ENTRIES or start + dl > len(blob):
        raise HeaderError(f"header counts (il={il}, dl={dl}) exceed its {len(blob)} bytes")
    data = blob[start:start + dl]
    tags: dict[int, Value] = {}
    for tag, kind, offset, count in struct.iter_unpack(">IIII", blob[8:start]):
        if tag not in WANTED_TAGS:
            continue
        if offset >= dl:
            raise HeaderError(f"tag {tag} points past the data store")
        if kind == STRING:
            tags[tag] = _strings(data, offset, 1)[0]
        elif kind in (STRING_ARRAY, I18NSTRING):
            strings = _strings(data, offset, count)
            tags[tag] = strings[0] if kind == I18NSTRING and strings else strings
        elif kind in _INT_FORMATS:
            fmt = f">{count}{_INT_FORMATS[kind]}"
            if offset + struct.calcsize(fmt) > dl:
                raise HeaderError(f"tag {tag} runs past the data store")
            tags[tag] = list(struct.unpack_from(fmt, data, offset))
        else:
            raise HeaderError(f"tag {tag} has unexpected type {kind}")
    return tags


def _text(tags: dict[int, Value], tag: int) -> str:
    value = tags.get(tag)
    if isinstance(value, list):
        value = str(value[0]) if value else ""
    return value or ""


def _ints(tags: dict[int, Value], tag: int) -> list[int]:
    value = tags.get(tag)
    return [v for v in value if isinstance(v, int)] if isinstance(value, list) else []


def _strs(tags: dict[int, Value], tag: int) -> list[str]:
    value = tags.get(tag)
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def header_files(tags: dict[int, Value]) -> tuple[str, ...]:
    basenames, dirnames, indexes = (_strs(tags, BASENAMES), _strs(tags, DIRNAMES),
                                    _ints(tags, DIRINDEXES))
    if not basenames:
        return tuple(_strs(tags, OLDFILENAMES))
    if len(indexes) != len(basenames) or any(not 0 <= i < len(dirnames) for i in indexes):
        raise HeaderError("file list indexes do not match its directories")
    return tuple(dirnames[i] + base for i, base in zip(indexes, basenames, strict=True))


def header_package(tags: dict[int, Value], location: str) -> Package | None:
    """The package a header describes; None for the pseudo-packages of imported keys."""
    name, version, release = _text(tags, NAME), _text(tags, VERSION), _text(tags, RELEASE)
    if not name or not version:
        raise HeaderError("header has no name or no version")
    if name == "gpg-pubkey":  # an `rpm --import`ed signing key, not software
        return None
    full = f"{version}-{release}" if release else version
    epoch = _ints(tags, EPOCH)
    if epoch:
        full = f"{epoch[0]}:{full}"
    size = _ints(tags, LONGSIZE) or _ints(tags, SIZE)
    return Package(name=name, version=full, ecosystem="rpm", files=header_files(tags),
                   installed_size=size[0] if size else 0, location=location,
                   source=_text(tags, SOURCERPM) or None, arch=_text(tags, ARCH) or None)


def read_rpmdb(data: bytes, location: str, skipped: list[Skipped]) -> list[Package]:
    if not data.startswith(SQLITE_MAGIC):
        skipped.append(Skipped(location, "not an SQLite database"))
        return []
    image = bytearray(data)
    # Bytes 18-19 say WAL mode (2); an in-memory copy cannot have a write-ahead log, so
    # SQLite would refuse it. The log is not in the image's committed state anyway.
    image[18:20] = b"\x01\x01"
    import sqlite3  # here: few images have an rpm database

    conn = sqlite3.connect(":memory:")
    try:
        conn.deserialize(bytes(image))
        rows = conn.execute("SELECT hnum, blob FROM Packages ORDER BY hnum").fetchall()
    except sqlite3.Error as exc:
        skipped.append(Skipped(location, f"rpm database does not read: {exc}"))
        return []
    finally:
        conn.close()
    packages = []
    for hnum, blob in rows:
        try:
            if not isinstance(blob, bytes):
                raise HeaderError("header is not a blob")
            package = header_package(parse_header(blob), location)
        except (HeaderError, struct.error) as exc:
            skipped.append(Skipped(f"{location} (header {hnum})", str(exc)))
            continue
        if package is not None:
            packages.append(package)
    return packages


@cataloger("rpm", wants=WANTS)
def catalog_rpm(tree: FileTree, skipped: list[Skipped]) -> Iterator[Package]:
    read: set[str] = set()
    for path in SQLITE_DBS:
        real = tree.resolve(path)
        if real is None or real in read:
            continue  # /var/lib/rpm is often a link to /usr/lib/sysimage/rpm
        content = read_content(tree, real, skipped, "rpm database")
        if content is None:
            continue
        read.add(real)
        if not content.complete:
            skipped.append(Skipped(path, "rpm database is larger than the bytes read "
                                         "(64 MiB); its packages are not listed"))
            continue
        yield from read_rpmdb(content.data, path, skipped)
    if read:
        return
    for path, kind in OTHER_DBS.items():
        node = tree.lookup(path)
        if node is not None and node.is_file:
            skipped.append(Skipped(path, f"{kind} is not supported; its packages are not "
                                         "listed (rpm 4.16+ images use rpmdb.sqlite)"))
            return

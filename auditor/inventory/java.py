"""Java archives (``.jar``, ``.war``, ``.ear``): the Maven coordinates and manifest inside.

A Java archive is a zip file. Maven writes ``META-INF/maven/GROUP/ARTIFACT/pom.properties``
(``groupId``, ``artifactId``, ``version``) into what it builds; every archive may carry
``META-INF/MANIFEST.MF`` with ``Implementation-Title``/``Implementation-Version`` (or the
``Bundle-SymbolicName``/``Bundle-Version`` of an OSGi bundle). Each ``pom.properties``
gives a ``maven`` package (a shaded archive holds several); an archive without one gives
a package named from its manifest, with the archive's name as its group when nothing
better is known.

The first ``ARCHIVE_BYTES`` of each archive are kept as the layer streams past. An
archive that fits is read through its central directory; of a longer one, the local
entries inside the kept bytes are read in order (the manifest is by convention the first
entry), and ``Skipped`` says that the rest was not read.
"""

from __future__ import annotations

import contextlib
import io
import posixpath
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator

from auditor.filetree import FileTree, Node
from auditor.inventory import Package, cataloger
from auditor.inventory._read import KiB, MiB, find_files, read_content
from auditor.model.image import Skipped
from auditor.read.wants import Want

ARCHIVE_BYTES = 1 * MiB
SUFFIXES = (".jar", ".war", ".ear")
WANTS = [Want(f"**/*{suffix}", ARCHIVE_BYTES) for suffix in SUFFIXES]
MAX_MEMBER = 64 * KiB  # a manifest or pom.properties; larger ones are not read
MAX_MEMBERS = 200  # pom.properties per archive (shaded archives hold dozens)
_POM = re.compile(r"^META-INF/maven/[^/]+/[^/]+/pom\.properties$")
_MANIFEST = "META-INF/MANIFEST.MF"
_LOCAL = b"PK\x03\x04"
VALID = re.compile(r"[A-Za-z0-9_.+~-][A-Za-z0-9_.+~ -]{0,199}")


def _members_whole(data: bytes) -> dict[str, bytes]:
    """The manifest and pom.properties of a whole archive, by name."""
    out: dict[str, bytes] = {}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            if (info.filename == _MANIFEST or _POM.match(info.filename)) and \
                    info.file_size <= MAX_MEMBER and len(out) < MAX_MEMBERS:
                with archive.open(info) as member:
                    out[info.filename] = member.read(MAX_MEMBER)
    return out


def _members_prefix(data: bytes) -> dict[str, bytes]:
    """The same, read from local entry headers in the kept prefix of a long archive; the
    walk stops at an entry whose size its header does not say (a data descriptor)."""
    out: dict[str, bytes] = {}
    pos = 0
    while data.startswith(_LOCAL, pos) and pos + 30 <= len(data):
        _, _, flags, method, _, _, _, csize, usize, nlen, xlen = struct.unpack_from(
            "<4sHHHHHIIIHH", data, pos)
        name = data[pos + 30:pos + 30 + nlen].decode("utf-8", "replace")
        start = pos + 30 + nlen + xlen
        if flags & 0x08 and csize == 0:
            break
        body = data[start:start + csize]
        wanted = name == _MANIFEST or _POM.match(name)
        if wanted and len(body) == csize and usize <= MAX_MEMBER and len(out) < MAX_MEMBERS \
                and method in (0, 8):
            with contextlib.suppress(zlib.error):
                out[name] = body if method == 0 else zlib.decompressobj(-15).decompress(
                    body, MAX_MEMBER)
        pos = start + csize
    return out


def _properties(data: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in data.decode("utf-8", "replace").splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "!")):
            key, _, value = _split_property(line)
            out.setdefault(key, value)
    return out


def _split_property(line: str) -> tuple[str, str, str]:
    """``key=value``, ``key: value`` or ``key value``, as java.util.Properties reads them."""
    m = re.match(r"([^=:\s]+)\s*[=:\s]\s*(.*)", line)
    return (m[1], "=", m[2].strip()) if m else (line, "", "")


def _manifest(data: bytes) -> dict[str, str]:
    """Main attributes; continuation lines (a leading space) joined."""
    out: dict[str, str] = {}
    key = ""
    for line in data.decode("utf-8", "replace").replace("\r\n", "\n").split("\n"):
        if not line.strip():
            break  # the main section ends at the first blank line
        if line.startswith(" ") and key:
            out[key] += line[1:]
            continue
        key, _, value = line.partition(":")
        out[key.strip()] = value.strip()
    return out


def _valid(*values: str) -> bool:
    return all(VALID.fullmatch(v) for v in values)


def archive_packages(path: str, members: dict[str, bytes]) -> list[Package]:
    def package(group: str, artifact: str, version: str, where: str) -> Package:
        return Package(name=f"{group}:{artifact}" if group else artifact, version=version,
                       ecosystem="maven", files=(path,), location=path, version_from=where)

    out = []
    for name in sorted(m for m in members if _POM.match(m)):
        props = _properties(members[name])
        group, artifact = props.get("groupId", ""), props.get("artifactId", "")
        version = props.get("version", "")
        if _valid(group, artifact, version):
            out.append(package(group, artifact, version, f"{path}!/{name}"))
    if out or _MANIFEST not in members:
        return out
    main = _manifest(members[_MANIFEST])
    title = main.get("Implementation-Title") or main.get("Bundle-SymbolicName", "")
    title = title.split(";")[0].strip()
    version = main.get("Implementation-Version") or main.get("Bundle-Version", "")
    group = main.get("Implementation-Vendor-Id", "")
    artifact = title or posixpath.basename(path).rsplit(".", 1)[0]
    if version and _valid(artifact, version) and (not group or _valid(group)):
        out.append(package(group, artifact, version, f"{path}!/{_MANIFEST}"))
    return out


def _read_archive(tree: FileTree, node: Node, skipped: list[Skipped]) -> dict[str, bytes]:
    content = read_content(tree, node.path, skipped, "Java archive")
    if content is None or not content.data.startswith(_LOCAL):
        return {}
    if content.complete:
        try:
            return _members_whole(content.data)
        # zipfile's ways of refusing a hostile archive (RuntimeError: an encrypted entry)
        except (zipfile.BadZipFile, zlib.error, ValueError, NotImplementedError, EOFError,
                OSError, RuntimeError, struct.error, KeyError, IndexError) as exc:
            skipped.append(Skipped(node.path, f"Java archive is not a readable zip: {exc}"))
            return {}
    skipped.append(Skipped(node.path, f"Java archive is larger than the {ARCHIVE_BYTES // MiB}"
                                      " MiB read; only the entries in them were read"))
    return _members_prefix(content.data)


@cataloger("java", wants=WANTS)
def catalog_java(tree: FileTree, skipped: list[Skipped]) -> Iterator[Package]:
    for node in find_files(tree, WANTS, SUFFIXES):
        if node.kind != "file":
            continue
        yield from archive_packages(node.path, _read_archive(tree, node, skipped))

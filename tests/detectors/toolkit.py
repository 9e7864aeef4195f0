"""Shared by the tool detector tests: executables, merged-/usr and BusyBox layouts in small
real layer tars (tests/layerkit.py), and a hand-made package inventory, so each test says
exactly which package owns what."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from auditor.detectors import ScanContext
from auditor.inventory import Package
from auditor.model.findings import Finding
from auditor.model.image import ImageConfig
from tests.detectors.configkit import context_of
from tests.layerkit import D, F, H, L, Spec

ELF = b"\x7fELF\x02\x01\x01" + b"\0" * 57  # enough of an ELF header to be recognised


def exe(path: str, content: bytes = ELF) -> F:
    """An executable file; ELF unless ``content`` says otherwise (b"#!/bin/sh\n...")."""
    return F(path, content, mode=0o755)


def merged_usr() -> list[Spec]:
    """The Debian 12 layout: /bin, /sbin and /lib are links into /usr."""
    return [D("/usr"), D("/usr/bin"), D("/usr/sbin"), D("/usr/lib"), D("/etc"),
            L("/bin", "usr/bin"), L("/sbin", "usr/sbin"), L("/lib", "usr/lib")]


def busybox(applets: Iterable[str], *, directory: str = "/bin", hard: bool = False,
            name: str = "busybox") -> list[Spec]:
    """A multi-call binary and one link per applet: symlinks as in Alpine, or hard links
    as in the official busybox image."""
    specs: list[Spec] = [D(directory), exe(f"{directory}/{name}", ELF + b"BusyBox v1.36.1")]
    for applet in applets:
        specs.append(H(f"{directory}/{applet}", f"{directory}/{name}") if hard
                     else L(f"{directory}/{applet}", name))
    return specs


COREUTILS_APPLETS = ("ls", "cat", "cp", "mv", "rm", "mkdir", "echo", "sed", "grep", "head",
                     "tail", "sort", "uniq", "wc", "tr", "cut", "date", "env", "id", "touch")


def package(name: str, *files: str, size: int = 0, ecosystem: str = "deb",
            version: str = "1.0") -> Package:
    return Package(name=name, version=version, ecosystem=ecosystem, files=files,
                   installed_size=size, location="/var/lib/dpkg/status")


def run_detector(detect: Callable[[ScanContext], Iterable[Finding]],
                 *layers: Sequence[Spec], packages: Iterable[Package] = (),
                 env: Sequence[str] = ()) -> list[Finding]:
    """Every finding of ``detect`` on an image made of ``layers``, whose ``ENV`` is ``env``
    and whose package database says ``packages``."""
    ctx = context_of(*layers, config=ImageConfig(env=tuple(env)), packages=packages)
    return list(detect(ctx))

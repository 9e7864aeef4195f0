"""Shared by the tool detector tests: executables, merged-/usr and BusyBox layouts in small
real layer tars (tests/layerkit.py), and a hand-made package inventory, so each test says
exactly which package owns what."""

from __future__ import annotations

import json
import struct
import tarfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from auditor.detectors import ScanContext
from auditor.inventory import Package
from auditor.model.findings import Finding
from auditor.model.image import ImageConfig
from tests.detectors.configkit import context_of
from tests.layerkit import D, F, H, L, Spec

DEFAULT_TAR = Path(__file__).resolve().parents[2] / "fixtures" / "default.tar"
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


def elf_program(rodata: bytes, *, first_segment: bytes = b"") -> bytes:
    """A small but well-formed static ELF64 executable: a read-only first segment (ELF
    and program headers, then ``first_segment``, where a linker puts the dynamic symbol
    names), a code segment, and ``rodata`` in a read-only segment of its own, as GNU ld
    lays out a program."""
    page = 0x1000
    phdrs = b"".join(struct.pack("<IIQQQQQQ", 1, flags, offset, 0x400000 + offset,
                                 0x400000 + offset, size, size, page)
                     for flags, offset, size in ((4, 0, page), (5, page, page),
                                                 (4, 2 * page, len(rodata))))
    header = (b"\x7fELF\x02\x01\x01" + b"\0" * 9
              + struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, 0x401000, 64, 0, 0, 64, 56, 3, 64, 0, 0))
    head = header + phdrs + first_segment
    return head.ljust(page, b"\0") + b"\xc3".ljust(page, b"\0") + rodata


def applet_names(*names: str) -> bytes:
    """A BusyBox applet table: the names sorted, each NUL-terminated."""
    return b"".join(n.encode() + b"\0" for n in sorted(names))


def default_tar_busybox() -> bytes:
    """The real BusyBox binary of fixtures/default.tar (the README's image)."""
    with tarfile.open(DEFAULT_TAR) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))  # type: ignore[arg-type]
        for layer in manifest[0]["Layers"]:
            with tarfile.open(fileobj=outer.extractfile(layer)) as inner:
                for member in inner.getmembers():
                    if member.name.lstrip("./") == "bin/busybox" and member.isfile():
                        return inner.extractfile(member).read()  # type: ignore[union-attr]
    raise AssertionError("no /bin/busybox in fixtures/default.tar")

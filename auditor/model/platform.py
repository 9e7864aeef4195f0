"""``--platform os/arch[/variant]``: checked before anything is read, and held against the
image that was read, whichever source read it.

A multi-platform index is resolved by the source (OCI layouts, registries); a
single-platform image (a ``docker save``, an engine's image, a registry manifest) is
refused when it was built for another platform, as ``docker pull --platform`` refuses it,
instead of being scanned as if it were the one asked for.
"""

from __future__ import annotations

import re

from auditor.errors import ImageNotFound, UsageError

# The operating systems and architectures of the OCI image spec's platform field (Go's
# GOOS and GOARCH values that images are built for).
OSES = ("linux", "windows", "freebsd", "darwin", "netbsd", "openbsd", "solaris", "illumos",
        "aix", "plan9", "dragonfly", "js", "wasip1")
ARCHES = ("amd64", "arm64", "arm", "386", "ppc64le", "ppc64", "s390x", "riscv64", "mips",
          "mipsle", "mips64", "mips64le", "loong64", "wasm")
# What people type for an architecture, as the engine normalises it.
ALIASES = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "armhf": "arm",
           "i386": "386", "i686": "386"}
# The sources that pick a platform from an index themselves (and check a single-platform
# manifest before any layer is read): their choice is not second-guessed by the config.
INDEX_SOURCES = ("oci-dir", "oci-archive", "registry")
_SHAPE = re.compile(r"([a-z0-9]+)/([a-z0-9_-]+)(?:/([a-z0-9]+))?\Z")


def parse_platform(text: str) -> str:
    """``text`` as ``os/arch[/variant]``, lower-cased, its architecture's alias resolved;
    a UsageError naming what is wrong otherwise."""
    shape = _SHAPE.match(text.strip().lower())
    if shape is None:
        raise UsageError(f"--platform wants os/arch[/variant] (e.g. linux/amd64, "
                         f"linux/arm64/v8), not {text!r}")
    os_name, arch, variant = shape.group(1), ALIASES.get(shape.group(2), shape.group(2)), \
        shape.group(3)
    if os_name not in OSES:
        raise UsageError(f"--platform {text!r}: unknown operating system {os_name!r} "
                         f"(one of {', '.join(OSES)})")
    if arch not in ARCHES:
        raise UsageError(f"--platform {text!r}: unknown architecture {arch!r} "
                         f"(one of {', '.join(ARCHES)})")
    return f"{os_name}/{arch}" + (f"/{variant}" if variant else "")


def check_platform(os_name: str, architecture: str, platform: str | None, ref: str) -> None:
    """An image built for ``os_name/architecture`` when ``platform`` was asked for: refused
    unless they agree (a variant is not compared: configs rarely record it). An image that
    does not say its platform is let through."""
    if platform is None or not os_name or not architecture:
        return
    has = f"{os_name}/{ALIASES.get(architecture, architecture)}"
    if platform.split("/")[:2] != has.split("/"):
        raise ImageNotFound(f"{ref} is a single-platform image for {has}, not {platform}",
                            tip="drop --platform, or name the image built for it")

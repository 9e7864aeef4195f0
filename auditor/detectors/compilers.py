"""Compilers and build toolchains, development packages and loose headers."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator

from auditor.detectors import ScanContext, detector
from auditor.detectors._tools import Family, ToolTable, tool_findings
from auditor.filetree import FileTree
from auditor.inventory import Package
from auditor.inventory._read import path_index
from auditor.model.evidence import Evidence
from auditor.model.findings import Finding, Rule
from auditor.model.image import DIR

_STAGE_FIX = ("Build in a separate stage and COPY --from only the artefact into a "
              "distroless or scratch base.")

COMPILER = Rule("AUD-COMPILER", "compiler", "high", "Compiler present", fix=_STAGE_FIX)
BUILD_TOOL = Rule("AUD-BUILD-TOOL", "compiler", "medium", "Build tool present",
                  fix=_STAGE_FIX)
DEV_PACKAGE = Rule(
    "AUD-DEV-PACKAGE", "compiler", "low", "Development package installed",
    fix="Install -dev/-devel packages only in the build stage; the runtime image needs the "
        "shared libraries alone.",
)
DEV_HEADERS = Rule(
    "AUD-DEV-HEADERS", "compiler", "low", "Header files not owned by a package",
    fix="Leave headers in the build stage: COPY --from only the built program and the "
        "shared libraries it loads.",
)

TOOLCHAIN = ToolTable(
    Family("gcc", COMPILER, ("gcc", "cc", "gccgo")),
    Family("g++", COMPILER, ("g++", "c++")),
    Family("clang", COMPILER, ("clang", "clang++", "clang-cpp", "clang-cl")),
    Family("cpp", COMPILER, ("cpp",)),
    Family("tcc", COMPILER, ("tcc",)),
    Family("gfortran", COMPILER, ("gfortran",)),
    Family("go", COMPILER, ("go",)),
    Family("rustc", COMPILER, ("rustc",)),
    Family("cargo", COMPILER, ("cargo",)),
    Family("javac", COMPILER, ("javac",)),
    Family("tsc", COMPILER, ("tsc",)),
    Family("zig", COMPILER, ("zig",)),
    Family("make", BUILD_TOOL, ("make", "gmake")),
    Family("cmake", BUILD_TOOL, ("cmake",)),
    Family("ninja", BUILD_TOOL, ("ninja", "ninja-build")),
    Family("meson", BUILD_TOOL, ("meson",)),
    Family("scons", BUILD_TOOL, ("scons",)),
    Family("bazel", BUILD_TOOL, ("bazel", "bazelisk")),
    Family("binutils", BUILD_TOOL, ("as", "ld", "ld.bfd", "ld.gold", "ld.lld", "lld")),
    Family("maven", BUILD_TOOL, ("mvn",)),
    Family("gradle", BUILD_TOOL, ("gradle",)),
    Family("ant", BUILD_TOOL, ("ant",)),
    Family("node-gyp", BUILD_TOOL, ("node-gyp",)),
    Family("autotools", BUILD_TOOL, ("autoconf", "automake", "libtool", "libtoolize")),
)

# -dev (Debian, Alpine), -devel (RPM), kernel headers, and the toolchain meta-packages.
_DEV_NAME = re.compile(
    r"^(?:.+-(?:dev|devel)|(?:linux|kernel)-headers(?:-.+)?|.+-headers"
    r"|build-essential|build-base)$")
_META = frozenset({"build-essential", "build-base"})
_OS_ECOSYSTEMS = frozenset({"deb", "apk", "rpm"})
INCLUDE_ROOTS = ("/usr/include", "/usr/local/include")
SAMPLE = 5


@detector(COMPILER, BUILD_TOOL, DEV_PACKAGE, DEV_HEADERS)
def detect(ctx: ScanContext) -> Iterator[Finding]:
    """Finds compilers, build tools and development files left in the image.

    **What it finds.**

    - **AUD-COMPILER** (high): gcc/cc, g++/c++, clang, cpp, tcc, gfortran, the Go
      toolchain (``go``, including Debian's ``/usr/lib/go-*/bin``), rustc and cargo,
      a JDK's ``javac`` (a JRE alone is not reported), tsc, zig.
    - **AUD-BUILD-TOOL** (medium): make, cmake, ninja, meson, scons, bazel, binutils
      (``as``, ``ld``), maven, gradle, ant, node-gyp, autotools.
    - **AUD-DEV-PACKAGE** (low): each installed ``-dev``/``-devel``/kernel-headers
      package, and the ``build-essential``/``build-base`` meta-packages.
    - **AUD-DEV-HEADERS** (low): header files under ``/usr/include`` or
      ``/usr/local/include`` that no package owns (from ``make install`` or a copied
      sysroot), one finding per directory with the count.

    Tools are found by command name in a search directory (standard PATH, the image's
    ``ENV PATH``, toolchain bin directories such as ``/usr/lib/go-1.19/bin``, a JDK's
    ``bin/`` and an application's ``node_modules/.bin``), with versioned and target
    triplet names understood: ``/usr/bin/gcc -> gcc-12 -> x86_64-linux-gnu-gcc-12`` and
    ``/usr/bin/cc -> /etc/alternatives/cc`` are one finding on
    ``x86_64-linux-gnu-gcc-12``, or one finding per owning package. Renamed or off the
    search path, gcc's driver and its compilers proper (``cc1``, ``lto1``) and GNU Make are
    recognised by their own version strings; a copy owned by a package joins that
    package's finding.

    **Why it matters.** A compiler lets an intruder build exploits and tools in place,
    and a toolchain is usually the largest part of a single-stage image: gcc, Go and
    their headers add hundreds of megabytes that also carry their own CVEs.

    **How to fix.** Use a multi-stage build: compile in a toolchain stage, then
    ``COPY --from`` only the artefact into a distroless or ``scratch`` base. ``bytes`` is
    what removing the tool saves: the owning package's installed size, else the install
    tree it came in (the JDK around ``javac``, ``/usr/local/go`` around ``go``; evidence
    ``install_tree``), else the file sizes.
    """
    yield from tool_findings(ctx, TOOLCHAIN, {COMPILER.id: "compiler", BUILD_TOOL.id: "build tool"})
    yield from _dev_packages(ctx)
    yield from _loose_headers(ctx)


def is_dev_package(pkg: Package) -> bool:
    return pkg.ecosystem in _OS_ECOSYSTEMS and bool(_DEV_NAME.match(pkg.name))


def _present_files(tree: FileTree, pkg: Package) -> list[str]:
    out: list[str] = []
    for path in pkg.files:
        real = tree.resolve(path, follow_last=False)
        node = tree.get(real) if real is not None else None
        if node is not None and node.kind != DIR:
            out.append(node.path)
    return sorted(set(out))


def _dev_packages(ctx: ScanContext) -> Iterator[Finding]:
    for pkg in sorted(ctx.inventory, key=lambda p: (p.name, p.version)):
        if not is_dev_package(pkg):
            continue
        files = _present_files(ctx.tree, pkg)
        headers = [p for p in files if p.startswith(tuple(r + "/" for r in INCLUDE_ROOTS))]
        anchor = (headers or files or [pkg.location if ctx.tree.get(pkg.location) else ""])[0]
        meta = pkg.name in _META
        evidence = {
            "package": pkg.name,
            "version": pkg.version,
            "ecosystem": pkg.ecosystem,
            "kind": "toolchain meta-package" if meta else "development package",
            "files_present": len(files),
            "header_files": len(headers),
            "sample": (headers or files)[:SAMPLE],
        }
        if meta:
            what = "meta-package that pulls in the C/C++ toolchain"
        elif headers:
            what = f"development package, {_count(len(headers), 'header file')}"
        else:
            what = f"development package, {_count(len(files), 'file')}"
        message = f"{pkg.name} {pkg.version}: {what}"
        size = pkg.installed_size or sum(
            n.size for p in files if (n := ctx.tree.get(p)) is not None and n.is_file)
        yield ctx.finding(DEV_PACKAGE, message, path=anchor or None,
                          package=pkg.ref, size=size, evidence=Evidence.of(**evidence))


def _loose_headers(ctx: ScanContext) -> Iterator[Finding]:
    tree = ctx.tree
    for root in INCLUDE_ROOTS:
        real_root = tree.resolve(root)
        node = tree.get(real_root) if real_root is not None else None
        if node is None or node.kind != DIR:
            continue
        prefix = node.path.rstrip("/") + "/"
        loose: list[str] = []
        owned = 0
        size = 0
        for entry in path_index(tree).under(prefix):
            path = entry.path
            if not entry.is_file:
                continue
            if ctx.owner(path) is not None:
                owned += 1
                continue
            loose.append(path)
            size += entry.size
        if not loose:
            continue
        loose.sort()
        subdirs = sorted({posixpath.relpath(p, node.path).split("/")[0] for p in loose})
        message = f"{_count(len(loose), 'header file')} in {node.path} not owned by any package"
        yield ctx.finding(DEV_HEADERS, message, path=node.path, size=size,
                          evidence=Evidence.of(directory=node.path, unowned_files=len(loose),
                                               owned_files=owned, top_level=subdirs[:10],
                                               sample=loose[:SAMPLE]))


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"

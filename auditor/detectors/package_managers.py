"""Package managers: the tools that install more software into a running container."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.detectors import ScanContext, detector
from auditor.detectors._tools import Family, ToolTable, tool_findings
from auditor.model.findings import Finding, Rule

OS_PKG_MANAGER = Rule(
    "AUD-PKG-MANAGER", "package-manager", "medium", "OS package manager present",
    fix="Install packages in a build stage and COPY --from only what the app needs into a "
        "distroless or scratch base, or remove the package manager in the same layer that "
        "last uses it.",
)
LANG_PKG_MANAGER = Rule(
    "AUD-LANG-PKG-MANAGER", "package-manager", "medium", "Language package manager present",
    fix="Install dependencies in a build stage (pip install --target, npm ci --omit=dev) "
        "and COPY --from only the installed packages into the runtime image.",
)
PKG_MANAGER_MULTICALL = Rule(
    "AUD-PKG-MANAGER-MULTICALL", "package-manager", "low",
    "Multi-call binary provides package manager applets",
    fix="Build BusyBox without its dpkg/rpm applets, or drop BusyBox from the final stage.",
)

PACKAGE_MANAGERS = ToolTable(
    # Ranked so that a package's finding is named for the command people type.
    Family("dpkg", OS_PKG_MANAGER, ("dpkg", "dpkg-deb", "dpkg-query")),
    Family("apt", OS_PKG_MANAGER, ("apt-get", "apt", "apt-cache", "aptitude")),
    Family("apk", OS_PKG_MANAGER, ("apk", "apk.static")),
    Family("dnf", OS_PKG_MANAGER, ("dnf", "dnf5", "microdnf", "tdnf")),
    Family("yum", OS_PKG_MANAGER, ("yum",)),
    Family("rpm", OS_PKG_MANAGER, ("rpm",)),
    Family("zypper", OS_PKG_MANAGER, ("zypper",)),
    Family("pacman", OS_PKG_MANAGER, ("pacman",)),
    Family("opkg", OS_PKG_MANAGER, ("opkg",)),
    Family("pip", LANG_PKG_MANAGER, ("pip", "easy_install")),
    Family("pipx", LANG_PKG_MANAGER, ("pipx",)),
    Family("pipenv", LANG_PKG_MANAGER, ("pipenv",)),
    Family("poetry", LANG_PKG_MANAGER, ("poetry",)),
    Family("uv", LANG_PKG_MANAGER, ("uv",)),
    Family("npm", LANG_PKG_MANAGER, ("npm", "npx")),
    Family("yarn", LANG_PKG_MANAGER, ("yarn", "yarnpkg")),
    Family("pnpm", LANG_PKG_MANAGER, ("pnpm", "pnpx")),
    Family("corepack", LANG_PKG_MANAGER, ("corepack",)),
    Family("gem", LANG_PKG_MANAGER, ("gem",)),
    Family("bundler", LANG_PKG_MANAGER, ("bundle", "bundler")),
    Family("composer", LANG_PKG_MANAGER, ("composer", "composer.phar")),
    Family("conda", LANG_PKG_MANAGER, ("conda", "mamba", "micromamba")),
)
NOUNS = {OS_PKG_MANAGER.id: "package manager", LANG_PKG_MANAGER.id: "package manager",
         PKG_MANAGER_MULTICALL.id: "package manager"}


@detector(OS_PKG_MANAGER, LANG_PKG_MANAGER, PKG_MANAGER_MULTICALL)
def detect(ctx: ScanContext) -> Iterator[Finding]:
    """Finds package managers that could install software into the running container.

    **What it finds.** OS package managers (**AUD-PKG-MANAGER**: dpkg, apt/apt-get,
    apk, dnf/microdnf/tdnf, yum, rpm, zypper, pacman, opkg) and language package managers
    (**AUD-LANG-PKG-MANAGER**: pip/pip3 and pipx/pipenv/poetry/uv, npm/npx, yarn, pnpm,
    corepack, gem, bundler, composer, conda/mamba), reached by a command name in a search
    directory (the standard PATH, the image's ``ENV PATH``, toolchain bin directories).
    Each is reported once: all commands of one owning package together (``apt``,
    ``apt-get`` and ``apt-cache`` are the package ``apt``), or, with no package database,
    all names that lead to one file (``pip``, ``pip3``, ``pip3.11`` in one directory are
    one pip). The Python package ``pip`` alone, without a ``pip`` command, is not
    reported; nor are ``setuptools`` or ``wheel``.

    BusyBox's ``dpkg`` and ``rpm`` applets are reported once, as
    **AUD-PKG-MANAGER-MULTICALL** (low: they unpack local archives but cannot fetch from
    a repository).

    Renamed or off the search path, a package manager is still found by its content:
    dpkg's, apt's, apt-get's, rpm's and apk's version or usage strings, BusyBox's applet
    table, a Python console-script wrapper whose ``#!`` line runs Python and which
    imports pip's, pipx's, pipenv's, poetry's or conda's ``main`` (a renamed ``pip3``),
    and a Node package manager's own entry file whose ``#!`` line runs ``node`` and whose
    first KiB holds the statement that starts that manager: npm's ``bin/npm-cli.js``
    (``require('../lib/cli.js')(process)``; npm 6's ``process.title = 'npm'``) and
    ``bin/npx-cli.js``, yarn 1's ``bin/yarn.js``, pnpm's ``bin/pnpm.cjs`` and
    ``bin/pnpx.cjs`` (pnpm 9 and 10), corepack's ``dist/*.js`` (a corepack shim named
    ``yarn.js`` is corepack, which fetches yarn). A script that runs ``npm install`` or
    requires the ``npm`` package holds none of these. Yarn 2+'s single bundled
    ``yarn.js``, pnpm 11+'s ``pnpm.mjs`` and its native binary are found by name only.

    **Why it matters.** A package manager lets anyone who gets code execution install
    compilers, scanners and network tools in one command, and it keeps a database and
    configuration that vulnerability scanners then report on. In a Debian-based image
    ``apt`` and ``dpkg`` are the common case.

    **How to fix.** Install everything in a build stage and copy only the result into a
    distroless or ``scratch`` base. ``bytes`` is the owning package's installed size, or
    the install tree the tool came in (``/opt/yarn-v1.22.22`` for yarn, npm's directory
    with the packages it bundles; evidence ``install_tree``).
    """
    yield from tool_findings(ctx, PACKAGE_MANAGERS, NOUNS, multicall_rule=PKG_MANAGER_MULTICALL)

"""Shells: a command interpreter an attacker can run once anything in the container
lets them execute a program."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.detectors import ScanContext, detector
from auditor.detectors._tools import Family, ToolTable, tool_findings
from auditor.model.findings import Finding, Rule

_FIX = ("Build on a distroless or scratch base and start the app in exec form "
        "(ENTRYPOINT [\"/app\"]); if a step needs a shell, run it in a build stage.")

SHELL = Rule(
    "AUD-SHELL", "shell", "medium", "Shell present",
    fix=_FIX,
)
SHELL_MULTICALL = Rule(
    "AUD-SHELL-MULTICALL", "shell", "medium", "Multi-call binary provides a shell",
    fix="Drop BusyBox/toybox from the final stage; if the app needs one utility, COPY only "
        "that static binary into a distroless or scratch base.",
)

SHELLS = ToolTable(
    Family("bash", SHELL, ("bash", "rbash")),
    Family("dash", SHELL, ("dash",)),
    Family("sh", SHELL, ("sh", "sh.distrib")),
    Family("ash", SHELL, ("ash", "hush")),
    Family("zsh", SHELL, ("zsh",)),
    Family("ksh", SHELL, ("ksh", "mksh", "mksh-static", "lksh", "pdksh", "oksh", "rksh")),
    Family("fish", SHELL, ("fish",)),
    Family("tcsh", SHELL, ("tcsh", "csh", "bsd-csh")),
    Family("yash", SHELL, ("yash",)),
    Family("posh", SHELL, ("posh",)),
)


@detector(SHELL, SHELL_MULTICALL)
def detect(ctx: ScanContext) -> Iterator[Finding]:
    """Finds every shell a program in the image can start.

    **What it finds.** Shells (sh, bash, dash, ash, zsh, ksh and mksh, fish, csh and tcsh,
    yash, posh) reached by a command name in a search directory: the standard PATH, the
    image's own ``ENV PATH``, and toolchain bin directories. Every name that leads to the
    same file (``/bin/sh -> dash``, ``rbash -> bash``, hard links, links through
    ``/etc/alternatives``) is one finding, on the real file, with all its names in
    ``paths``. A file named ``bash`` anywhere else (documentation, completion scripts)
    is not a shell and is not reported. Versioned names (``ksh93``) count.

    BusyBox and toybox are multi-call binaries: one ELF file that acts as ``sh``, ``ls``,
    ``wget`` and hundreds more depending on the name it is run by. When such a binary
    provides a shell applet (``sh``, ``ash``, ``hush``), it is reported once under
    **AUD-SHELL-MULTICALL**, naming the binary and its shell applet links, not once per
    link. It is recognised by its content, whatever the file is called (BusyBox's
    ``BusyBox v1.x`` banner, toybox's ``Toybox %s multicall binary`` help header), by its
    name (``busybox``, ``toybox``) or by many common command names (``ls``, ``cat``,
    ``cp``, ...) leading to one ELF file. When the content gave its list of applets
    (BusyBox's applet table; toybox's help text, one entry per command it was built with,
    unless built without help or with it compressed), that list decides which applets it
    has, not its links.

    **Recognised by content.** An executable anywhere in the image, on the search path or
    not (``/opt/tools/bb``), is also a shell when its read-only data holds a shell's own
    identity string: ``GNU bash, version %s``, dash's ``sh: turning off NDELAY mode``,
    ``@(#)MIRBSD KSH``, zsh's version format. A program that merely mentions ``bash`` in
    its help text holds none of these. Libraries and Go programs are not searched, and
    only the first MiB of each executable's read-only data. ``evidence.recognised_by`` says
    how each finding was made: ``path`` (a command name in a search directory), ``name``
    (the file's own name or the applet names linked to it) or ``content:<what matched>``;
    reports show the last beside the finding.

    **Why it matters.** A shell turns a file-write or command-injection bug into full
    remote code execution, and it is what ``docker exec`` and most post-exploitation
    tooling need. Images that run one binary do not need it.

    **How to fix.** Use a final stage without a shell (distroless, ``scratch``, or a
    ``-static`` base) and start the program in exec form. The finding's ``bytes`` is the
    owning package's installed size when a package database owns the shell, else the size
    of the file.
    """
    yield from tool_findings(ctx, SHELLS, {SHELL.id: "shell", SHELL_MULTICALL.id: "shell"},
                             multicall_rule=SHELL_MULTICALL)

"""What a program says it is: the identity strings in an executable's read-only data.

A shell, a downloader or a package manager prints its name and version from a string
compiled into it (``GNU bash, version %s``, ``Usage: curl [options...] <url>``,
``BusyBox v1.36.1``). Those strings sit in ``.rodata``, which the ELF reader passes on its
way through the file anyway; :func:`identify` looks for all of them at once with one
compiled expression, so a renamed copy (``/opt/tools/bb``) is known by what it holds.

Each pattern is a format string or banner of the program's own source, never a word that
other programs' help texts use: ``bash`` alone is in many binaries, ``GNU bash, version
%s`` only in bash. A library that merely links a tool's library (``libcurl``) holds none of
them. Every pattern here was checked against the Debian 12 binary it names, except
``apk``, whose banner is taken from apk-tools' source.

BusyBox also keeps the names of the applets it was built with as one sorted run of
NUL-terminated names (``[``, ``[[``, ``acpid``, ...): :func:`applet_table` finds that run, so
what a BusyBox can do is read from the binary itself, not guessed from its links.
"""

from __future__ import annotations

import re
import sys

# (command the program is, a short label for reports, the literal its identity starts
# with, what must follow that literal); one program may have several.
PATTERNS: tuple[tuple[str, str, bytes, bytes], ...] = (
    ("busybox", "BusyBox banner", b"BusyBox v", rb"\d+\.\d+[\w.]*"),
    ("bash", "GNU bash version string", b"GNU bash, version %s", b""),
    ("dash", "dash NDELAY message", b"sh: turning off NDELAY mode", b""),
    ("mksh", "MirBSD Korn shell version", b"@(#)MIRBSD KSH R", rb"\d+"),
    ("zsh", "zsh version string", b"zsh %s (%s-%s-%s)", b""),
    ("curl", "curl usage line", b"Usage: curl [options...] <url>", b""),
    ("curl", "curl version string", b"curl ", rb"\d+\.\d+\.\d+ \([\w.-]+\) %s"),
    ("wget", "GNU Wget version string", b"GNU Wget %s built on %s", b""),
    ("nc", "OpenBSD netcat banner", b"OpenBSD netcat (", b""),
    ("gcc", "gcc driver version string", b"gcc driver version %s", b""),
    ("gcc", "GNU C compiler proper (cc1)", b"\tcompiled by GNU C version %s, ", b""),
    ("make", "GNU Make version string", b"%sGNU Make %s", b""),
    ("dpkg", "dpkg version string", b"Debian '%s' package management program version", b""),
    ("apt-get", "apt-get usage line", b"Usage: apt-get [options] command", b""),
    ("apt", "apt usage line", b"Usage: apt [options] command", b""),
    ("rpm", "RPM version string", b"RPM version %s\n", b""),
    ("apk", "apk-tools version string", b"apk-tools ", rb"\d+\.\d+[\w.]*, compiled for"),
)
# One alternation of plain literals is what Python's re scans fastest (~170 MB/s, one
# pass); a hit is then checked against the rest of its pattern where it stands.
_ANCHORS = re.compile(b"|".join(re.escape(anchor) for _, _, anchor, _ in PATTERNS))
_BY_ANCHOR: dict[bytes, list[tuple[str, str, re.Pattern[bytes]]]] = {}
for _command, _label, _anchor, _rest in PATTERNS:
    _BY_ANCHOR.setdefault(_anchor, []).append(
        (_command, _label, re.compile(re.escape(_anchor) + _rest)))
MULTICALL = frozenset({"busybox"})

_RUN = re.compile(rb"(?:[\x21-\x7e]{1,40}\0){20,}")
_APPLET = re.compile(rb"[a-z0-9\[\]][a-z0-9_.\[\]+-]{0,39}")
MIN_APPLETS = 20
MAX_SHOWN = 60  # characters of a matched banner kept


def identify(data: bytes | bytearray | memoryview) -> tuple[tuple[str, str], ...]:
    """(command, what matched) for each program whose identity ``data`` holds, in the
    order first met; what matched is the pattern's label and the text, quoted."""
    found: dict[str, str] = {}
    for hit in _ANCHORS.finditer(data):
        for command, label, full in _BY_ANCHOR[hit.group()]:
            match = full.match(data, hit.start())
            if match is not None and command not in found:
                text = match.group()[:MAX_SHOWN].decode("ascii", "replace")
                found[command] = sys.intern(f"{label} {text!r}")
    return tuple(found.items())


def applet_table(data: bytes | bytearray | memoryview) -> tuple[str, ...]:
    """The longest run of NUL-terminated applet names in strictly increasing order, as
    BusyBox's ``applet_names`` is; empty when no run of ``MIN_APPLETS`` names is found."""
    best: list[bytes] = []
    for match in _RUN.finditer(data):
        run: list[bytes] = []
        for name in match.group().split(b"\0")[:-1]:
            if _APPLET.fullmatch(name) and (not run or name > run[-1]):
                run.append(name)
                continue
            if len(run) > len(best):
                best = run
            run = [name] if _APPLET.fullmatch(name) else []
        if len(run) > len(best):
            best = run
    if len(best) < MIN_APPLETS:
        return ()
    return tuple(sys.intern(name.decode("ascii")) for name in best)

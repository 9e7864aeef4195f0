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

A language runtime's own binary holds its release too: CPython's ``PY_VERSION`` literal
(``3.11.2``, NUL-terminated; a linker that merges string tails may end another string with
it, ``/opt/python/3.11.2``), Node's ``node.js/v20.10.0`` (its inspector's ``Browser``) and
its release URL (``.../v20.10.0/node-v20.10.0.tar.gz``). :func:`release_pattern` says, from
a file's path, which one to look for (only ``bin/pythonX.Y``, ``libpythonX.Y.so``,
``bin/node`` and ``libnode.so`` (Debian's node is a launcher of it) are searched, and the
Python pattern demands that ``X.Y``);
:func:`releases` gives the distinct versions found, for the cataloger to trust only when
there is one.
"""

from __future__ import annotations

import re
import sys
from functools import lru_cache

# (command the program is, a short label for reports, what must come just before the
# anchor (a regex), the anchor (a literal), what must follow it (a regex)); one program
# may have several. Each anchor is searched for on its own (``identify``).
PATTERNS: tuple[tuple[str, str, bytes, bytes, bytes], ...] = (
    ("busybox", "BusyBox banner", b"", b"BusyBox v", rb"\d+\.\d+[\w.]*"),
    ("toybox", "toybox help header", b"", b"Toybox %s multicall binary", b""),
    ("bash", "GNU bash version string", b"", b"GNU bash, version %s", b""),
    ("dash", "dash NDELAY message", b"sh: turning off ", b"NDELAY mode", b""),
    ("mksh", "MirBSD Korn shell version", b"", b"@(#)MIRBSD KSH R", rb"\d+"),
    ("zsh", "zsh version string", rb"zsh %s ", b"(%s-%s-%s)", b""),
    ("curl", "curl usage line", b"", b"Usage: curl [options...] <url>", b""),
    ("wget", "GNU Wget version string", b"", b"GNU Wget %s built on %s", b""),
    ("nc", "OpenBSD netcat banner", b"", b"OpenBSD netcat (", b""),
    ("gcc", "gcc driver version string", rb"gcc driver version %s ",
     b"%sexecuting gcc version %s", b""),
    ("gcc", "GNU C compiler proper (cc1)", b"", b"\tcompiled by GNU C version %s, ", b""),
    ("make", "GNU Make version string", rb"%s", b"GNU Make %s", b""),
    ("dpkg", "dpkg version string", b"", b"Debian '%s' package management program version",
     b""),
    ("apt-get", "apt-get usage line", b"", b"Usage: apt-get [options] command", b""),
    ("apt", "apt usage line", b"", b"Usage: apt [options] command", b""),
    ("rpm", "RPM version string", b"", b"RPM version %s\n", b""),
    ("apk", "apk-tools version string", rb"apk-tools \d+\.\d+[\w.]*", b", compiled for ", b""),
)
BEFORE = 64  # bytes before an anchor that its ``before`` is matched in
_Pattern = tuple[int, str, str, "re.Pattern[bytes] | None", "re.Pattern[bytes]"]
_BY_ANCHOR: dict[bytes, list[_Pattern]] = {}
for _rank, (_command, _label, _before, _anchor, _after) in enumerate(PATTERNS):
    _BY_ANCHOR.setdefault(_anchor, []).append(
        (_rank, _command, _label, re.compile(_before + rb"\Z") if _before else None,
         re.compile(re.escape(_anchor) + _after)))
MULTICALL = frozenset({"busybox", "toybox"})

_RUN = re.compile(rb"(?:[\x21-\x7e]{1,40}\0){20,}")
_APPLET = re.compile(rb"[a-z0-9\[\]][a-z0-9_.\[\]+-]{0,39}")
MIN_APPLETS = 20
MAX_SHOWN = 60  # characters of a matched banner kept


def identify(data: bytes | bytearray | memoryview) -> tuple[tuple[str, str], ...]:
    """(command, what matched) for each program whose identity ``data`` holds, in the
    order first met; what matched is the pattern's label and the text, quoted.

    Each anchor is looked for with ``find`` (memchr and a two-way search, in C): several
    times faster over megabytes of read-only data than a regex alternation of them, which
    Python's re tries position by position."""
    if isinstance(data, memoryview):
        data = data.tobytes()
    first: dict[str, tuple[int, int, str]] = {}  # command -> (where, pattern's rank, what)
    for anchor, patterns in _BY_ANCHOR.items():
        waiting = list(patterns)
        at = data.find(anchor)
        while at >= 0 and waiting:
            for pattern in list(waiting):
                rank, command, label, before, full = pattern
                if command in first and first[command][0] <= at:
                    waiting.remove(pattern)  # met earlier through another anchor
                    continue
                match = full.match(data, at)
                lead = before.search(data, max(0, at - BEFORE), at) if before else None
                if match is None or (before is not None and lead is None):
                    continue
                text = bytes(data[lead.start() if lead else at:match.end()])
                first[command] = (at, rank, sys.intern(
                    f"{label} {text[:MAX_SHOWN].decode('ascii', 'replace')!r}"))
                waiting.remove(pattern)
            at = data.find(anchor, at + 1)
    met = sorted(first.items(), key=lambda item: item[1][:2])
    return tuple((command, what) for command, (_at, _rank, what) in met)


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


# toybox's help_data (its main.c): each command's help text in toy_list order, NUL-ended,
# an alias's entry "\xff" and the name it stands for; the multiplexer's own comes first.
_TOYBOX_HELP = re.compile(rb"\0usage: toybox \[--")
_TOYBOX_USAGE = re.compile(rb"usage: ([a-z0-9\[][a-z0-9_.\[\]+-]{0,39})[ \n\0]")
TOYBOX_HELP_MAX = 512 * 1024  # help_data of a full toybox is about 80 KiB


def toybox_applets(data: bytes | bytearray | memoryview) -> tuple[str, ...]:
    """The commands of a toybox, read from its help_data; empty when it was built without
    help (or with it compressed), or when no help_data follows its own usage line."""
    start = _TOYBOX_HELP.search(data)
    if start is None:
        return ()
    end = bytes(data[start.start():start.start() + TOYBOX_HELP_MAX])
    stop = end.find(b"\0\0", 1)  # the array's own NUL after its last entry's
    names: dict[str, None] = {}
    for entry in end[1:stop if stop > 0 else len(end)].split(b"\0")[1:]:
        m = _TOYBOX_USAGE.match(entry + b"\0")
        if m is not None:
            names.setdefault(sys.intern(m.group(1).decode("ascii")), None)
    return tuple(names)


def applets_of(program: str, data: bytes | bytearray | memoryview) -> tuple[str, ...]:
    """A multi-call binary's own list of applets: BusyBox's table, toybox's help."""
    return toybox_applets(data) if program == "toybox" else applet_table(data)


_PYTHON_FILE = re.compile(r"/bin/python(\d+\.\d+)$|/libpython(\d+\.\d+)[dmu]*\.so(?:\.\d+)*$")
_LIBNODE = re.compile(r"/libnode\.so(?:\.\d+)*$")
_NODE_V = rb"(\d{1,4}\.\d{1,4}\.\d{1,6}(?:-[0-9A-Za-z.]{1,40})?)"
_NODE_RELEASE = re.compile(rb"node\.js/v" + _NODE_V + rb"\0|/v" + _NODE_V +
                           rb"/node-v\2\.tar\.gz\0")


@lru_cache(maxsize=64)
def _python_release(xy: str) -> re.Pattern[bytes]:
    # PY_VERSION: "3.11.2", "3.13.0rc1", "3.14.0a1"; Debian's snapshots end in "+"
    return re.compile(rb"(?<=[\0/-])(" + re.escape(xy.encode() + b".") +
                      rb"\d{1,3}(?:(?:a|b|rc)\d{1,3})?\+?)\0")


def release_pattern(path: str) -> re.Pattern[bytes] | None:
    """What holds the release of the runtime whose binary or library ``path`` is, if any."""
    if path.endswith("/bin/node") or _LIBNODE.search(path):
        return _NODE_RELEASE
    m = _PYTHON_FILE.search(path)
    return _python_release(m[1] or m[2]) if m is not None else None


def releases(pattern: re.Pattern[bytes], parts: list[bytearray] | list[bytes]
             ) -> tuple[str, ...]:
    """The distinct versions ``pattern`` finds in ``parts``, in the order first met."""
    found: dict[str, None] = {}
    for part in parts:
        for m in pattern.finditer(part):
            version = next(g for g in m.groups() if g is not None)
            found.setdefault(sys.intern(version.decode("ascii")), None)
            if len(found) > 4:  # ambiguous already; a hostile file may hold thousands
                return tuple(found)
    return tuple(found)

"""Which file contents the single pass over the layers keeps, declared up front.

Detectors and package catalogers name the paths they must read (globs) and how many bytes
of each; the layer reader keeps that prefix of each matching regular file while it streams
past, so no layer is ever read twice and no file is read whole unless asked for.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from auditor.read.globs import union_regex

# The first KiB of every executable and shared library: ELF header and program headers
# (PT_INTERP), shebangs.
EXECUTABLE_PREFIX = 1024
# An executable that starts with ``#!`` is kept up to this: the runtime closure reads the
# scripts an entrypoint runs (``docker-entrypoint.sh`` and what it calls), whole.
SCRIPT_PREFIX = 64 * 1024
# What one image may keep in captured prefixes in all; past it, files are listed as skipped.
DEFAULT_BUDGET = 96 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Want:
    glob: str
    max_bytes: int


_WILD = set("*?[")


def _extension(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:] if dot >= 0 else ""


def _bucket(glob: str) -> tuple[str, str]:
    """Where a glob is filed: by its literal last name, its literal extension (``*.pem``),
    its literal first directory, or with the few that have none of these. A path is then
    matched only against its own buckets, not against hundreds of globs (this runs for
    every file of every layer)."""
    full = glob if "/" in glob else "/**/" + glob
    parts = [p for p in full.split("/") if p]
    if parts and not _WILD & set(parts[-1]):
        return "name", parts[-1]
    if parts and parts[-1].startswith("*.") and not _WILD & set(parts[-1][1:]) and \
            parts[-1].count(".") == 1 and len(parts[-1]) > 2:
        return "ext", parts[-1][1:]
    if parts and parts[0] != "**" and not _WILD & set(parts[0]):
        return "dir", parts[0]
    return "rest", ""


def _by_size(globs: list[tuple[int, str]]) -> list[tuple[int, list[str]]]:
    by_size: dict[int, list[str]] = {}
    for size, glob in globs:
        by_size.setdefault(size, []).append(glob)
    return sorted(by_size.items(), reverse=True)


def _sized_regex(globs: list[tuple[int, str]]) -> tuple[re.Pattern[str], dict[str, int]]:
    """One regex for (size, glob) pairs, a named group per size, largest first: the first
    alternative that matches names the largest budget."""
    groups = _by_size(globs)
    # each group's expression only: compiling it on its own would be thrown away
    parts = [f"(?P<w{i}>(?:{union_regex(group)}))" for i, (_, group) in enumerate(groups)]
    return (re.compile("(?:" + "|".join(parts) + r")\Z", re.DOTALL),
            {f"w{i}": size for i, (size, _) in enumerate(groups)})


class _Deferred:
    """A bucket's regex, compiled when a path first falls in the bucket, which then holds
    the regex itself: an image meets few of the buckets (names such as package.json or
    METADATA, extensions such as .tfvars), and most are never compiled."""

    __slots__ = ("_buckets", "_globs", "_key")

    def __init__(self, buckets: dict[tuple[str, str], _Bucket], key: tuple[str, str],
                 globs: list[tuple[int, str]]) -> None:
        self._buckets, self._key, self._globs = buckets, key, globs

    def match(self, path: str) -> re.Match[str] | None:
        regex, _sizes = self._buckets[self._key] = _sized_regex(self._globs)
        return regex.match(path)


_Bucket = tuple["re.Pattern[str] | _Deferred", dict[str, int]]


class ContentWants:
    """A compiled set of wants: ``limit(path, mode)`` says how many bytes to keep."""

    def __init__(self, wants: Iterable[Want] = (), executable_prefix: int = EXECUTABLE_PREFIX,
                 budget: int = DEFAULT_BUDGET, script_prefix: int = SCRIPT_PREFIX) -> None:
        self.wants = tuple(wants)
        buckets: dict[tuple[str, str], list[tuple[int, str]]] = {}
        for want in self.wants:
            buckets.setdefault(_bucket(want.glob), []).append((want.max_bytes, want.glob))
        rest = buckets.pop(("rest", ""), None)
        self._rest = _sized_regex(rest) if rest else None  # every path is matched against it
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        for key, globs in buckets.items():
            self._buckets[key] = (_Deferred(self._buckets, key, globs),
                                  {f"w{i}": size for i, (size, _) in enumerate(_by_size(globs))})
        self.executable_prefix = executable_prefix
        self.script_prefix = script_prefix
        self.budget = budget

    def limit(self, path: str, mode: int) -> int:
        name = path.rpartition("/")[2]
        # Shared libraries are often not executable (0644) but are ELF all the same.
        best = self.executable_prefix if (mode & 0o111 or ".so" in name) else 0
        first = path.split("/", 2)[1] if path.count("/") > 1 else ""
        for compiled in (self._buckets.get(("name", name)),
                         self._buckets.get(("ext", _extension(name))),
                         self._buckets.get(("dir", first)), self._rest):
            if compiled is not None:
                match = compiled[0].match(path)
                if match is not None:
                    best = max(best, compiled[1][match.lastgroup or ""])
        return best


NOTHING = ContentWants((), executable_prefix=0)

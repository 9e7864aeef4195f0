"""Which file contents the single pass over the layers keeps, declared up front.

Detectors and package catalogers name the paths they must read (globs) and how many bytes
of each; the layer reader keeps that prefix of each matching regular file while it streams
past, so no layer is ever read twice and no file is read whole unless asked for.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from auditor.globs import compile_globs

# The first KiB of every executable and shared library: ELF header and program headers
# (PT_INTERP), shebangs.
EXECUTABLE_PREFIX = 1024
# What one image may keep in captured prefixes in all; past it, files are listed as skipped.
DEFAULT_BUDGET = 96 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Want:
    glob: str
    max_bytes: int


class ContentWants:
    """A compiled set of wants: ``limit(path, mode)`` says how many bytes to keep."""

    def __init__(self, wants: Iterable[Want] = (), executable_prefix: int = EXECUTABLE_PREFIX,
                 budget: int = DEFAULT_BUDGET) -> None:
        by_size: dict[int, list[str]] = {}
        for want in wants:
            by_size.setdefault(want.max_bytes, []).append(want.glob)
        # One regex for all wants, one named group per byte budget, largest first: the first
        # alternative that matches is the largest budget, and each path costs one match.
        self._sizes: dict[str, int] = {}
        parts = []
        for i, (size, globs) in enumerate(sorted(by_size.items(), reverse=True)):
            self._sizes[f"w{i}"] = size
            parts.append(f"(?P<w{i}>{compile_globs(globs).pattern.removesuffix(chr(92) + 'Z')})")
        self._rx: re.Pattern[str] | None = (
            re.compile("(?:" + "|".join(parts) + r")\Z", re.DOTALL) if parts else None)
        self.executable_prefix = executable_prefix
        self.budget = budget
        self.wants = tuple(wants)

    def limit(self, path: str, mode: int) -> int:
        # Shared libraries are often not executable (0644) but are ELF all the same.
        base = self.executable_prefix if (mode & 0o111 or ".so" in path.rpartition("/")[2]) \
            else 0
        match = self._rx.match(path) if self._rx is not None else None
        if match is None:
            return base
        return max(self._sizes[match.lastgroup or ""], base)


NOTHING = ContentWants((), executable_prefix=0)

"""The runtime closure of an image, as a value: what its command needs to start.

``auditor.closure`` computes it; the fixes and the reports read it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MissingLibrary:
    name: str
    needed_by: str
    # needed only by a module the program may load later (a Python extension, a JVM
    # library), not by the program's own load chain
    optional: bool = False


@dataclass(frozen=True, slots=True)
class Closure:
    entry: str | None  # the program the command starts, as found through PATH/WORKDIR
    kind: str  # static, dynamic, script, python, node, java, unknown
    files: tuple[str, ...]  # files and the symbolic links that lead to them, sorted
    bytes: int  # content bytes of those files, each once
    share: float  # of the image's content bytes
    missing: tuple[MissingLibrary, ...]
    notes: tuple[str, ...]
    base_candidate: str  # scratch, distroless-cc, alpine, distroless-python3, ... slim
    reason: str
    argv: tuple[str, ...] = ()

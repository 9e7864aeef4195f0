"""The runtime closure of an image, as a value: what its command needs to start.

``auditor.closure`` computes it; the fixes and the reports read it.
"""

from __future__ import annotations

import posixpath
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
    # every command the walk found, as named (``id``, ``/bin/sh``) -> the file it is
    # (``/bin/busybox``): the entrypoint, wrappers, interpreters, what scripts run
    commands: tuple[tuple[str, str], ...] = ()
    # what a script does that cannot be followed statically, where: then every program on
    # PATH is in the closure, the shell among them
    unfollowed: tuple[str, ...] = ()

    def applets_of(self, path: str) -> list[str]:
        """The commands that are the file ``path`` under another name (a multi-call
        binary's applets: ``id``, ``basename`` for ``/bin/busybox``)."""
        return sorted({posixpath.basename(name) for name, real in self.commands
                       if real == path and posixpath.basename(name)
                       != posixpath.basename(path)})

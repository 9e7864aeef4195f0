"""A RUN's ``--mount`` flags, read from wherever they were written down.

``RUN --mount=type=cache,target=/root/.cache/pip pip install ...`` keeps the cache out of
the layer: what the RUN writes under the target goes to the builder's cache, not into the
image. ``--mount=type=secret,id=npmrc`` hands a secret to one RUN without recording it.
Those are the right ways, and the checks that look for caches and secrets must not take
them for the wrong ones.

Where the flags are written down:

- buildah (podman) keeps them in the history, before the script:
  ``/bin/sh -c --mount=type=cache,target=/root/.cache/pip pip install x``;
- BuildKit does not (``RUN /bin/sh -c pip install x # buildkit``): only the Dockerfile
  has them (the parser's flags of the RUN instruction).

A mount is BuildKit's CSV of ``key=value`` fields: ``type`` (``bind`` by default,
``cache``, ``tmpfs``, ``secret``, ``ssh``), ``target`` (``dst``, ``destination``) and
``id``; a secret's target defaults to ``/run/secrets/<id>``.
"""

from __future__ import annotations

import csv
import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# The types whose target holds what the RUN writes there, outside the layer.
KEEPS_OUT = frozenset({"cache", "tmpfs", "bind", "secret", "ssh"})
_TARGET_KEYS = ("target", "dst", "destination")
# RUN's own flags at the head of a recorded script: --mount=..., --network=..., --security=...
# (a quoted field may hold spaces).
_RUN_FLAG_RX = re.compile(r"--(mount|network|security|device)=((?:\"[^\"]*\"|'[^']*'|\S)+)"
                          r"(?:\s+|\Z)")


@dataclass(frozen=True, slots=True)
class RunMount:
    """One ``--mount`` of a RUN: its type, where the RUN saw it, and its id."""

    type: str
    target: str  # "" when the mount names none (and has no default)
    id: str = ""

    def holds(self, path: str) -> bool:
        """Whether ``path`` is the target or below it (absolute targets only)."""
        target = self.target
        if not target.startswith("/"):
            return False
        return path == target or path.startswith(target.rstrip("/") + "/")


def parse_mount(spec: str) -> RunMount | None:
    """``type=cache,target=/x,id=y`` as a RunMount; None when it names no type we know
    or is not a CSV of fields."""
    try:
        fields = next(csv.reader([spec]), [])
    except csv.Error:
        return None
    values: dict[str, str] = {}
    for field in fields:
        key, _, value = field.strip().partition("=")
        values.setdefault(key.strip().lower(), value.strip())
    kind = values.get("type", "bind").lower()
    if kind not in KEEPS_OUT:
        return None
    target = next((values[k] for k in _TARGET_KEYS if values.get(k)), "")
    ident = values.get("id", "")
    if kind == "secret" and not target and ident:
        target = "/run/secrets/" + ident
    if target.startswith("/"):
        target = posixpath.normpath(target)
    return RunMount(kind, target, ident)


def mounts_of_flags(flags: Iterable[str]) -> tuple[RunMount, ...]:
    """The mounts among a Dockerfile RUN's flags (``--mount=...``, as the parser gives
    them)."""
    out = []
    for flag in flags:
        name, sep, value = flag.partition("=")
        if name == "--mount" and sep:
            mount = parse_mount(value)
            if mount is not None:
                out.append(mount)
    return tuple(out)


def split_run_flags(script: str) -> tuple[str, tuple[RunMount, ...]]:
    """A recorded RUN script without the RUN flags buildah writes in front of it, and the
    mounts among them: ``--mount=type=cache,target=/c make`` -> ``("make", (cache /c,))``."""
    mounts: list[RunMount] = []
    pos = 0
    while (m := _RUN_FLAG_RX.match(script, pos)) is not None:
        if m.group(1) == "mount":
            mount = parse_mount(m.group(2))
            if mount is not None:
                mounts.append(mount)
        pos = m.end()
    return (script[pos:] if pos else script), tuple(mounts)


def mounted(path: str, mounts: Sequence[RunMount], types: Iterable[str] = KEEPS_OUT) -> bool:
    """Whether ``path`` lies in one of ``mounts`` of the given types."""
    wanted = frozenset(types)
    return any(m.type in wanted and m.holds(path) for m in mounts)

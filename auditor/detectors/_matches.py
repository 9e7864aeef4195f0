"""How one executable matches a table of tools: by a name it has on the search path, by
what its content says it is, or, for a multi-call binary, by the applets it provides."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from auditor.detectors._tools import Executable, Family, ToolTable


@dataclass(frozen=True, slots=True)
class Match:
    family: Family
    path: str  # the search-path entry whose name matched (or the file its content did)
    rank: tuple[int, int]  # the family's place in the table, the command's in the family
    via: str = "path"  # how: "path", or "content:<what matched>"


def name_matches(exe: Executable, table: ToolTable) -> list[Match]:
    candidates = exe.names + ([exe.real] if exe.in_search_dir else [])
    return [Match(m[2], p, (m[0], m[1])) for p in candidates
            if (m := table.match(posixpath.basename(p))) is not None]


def content_matches(exe: Executable, table: ToolTable) -> list[Match]:
    if exe.ident is None:
        return []
    return [Match(m[2], exe.real, (m[0], m[1]), f"content:{what}")
            for command, what in exe.ident.programs
            if (m := table.match(command)) is not None]


def applets_of(exe: Executable, table: ToolTable, by_name: list[Match]
             ) -> list[tuple[str, Match]]:
    """(applet, match) of a multi-call binary: from its own applet table when its content
    gave one (exact: a link to a name it lacks runs nothing), else from its links."""
    if exe.ident is None or not exe.ident.applets:
        return [(posixpath.basename(m.path), m) for m in by_name]
    links: dict[str, str] = {}
    for path in (*exe.names, *exe.links, exe.real):
        links.setdefault(posixpath.basename(path), path)
    out: list[tuple[str, Match]] = []
    for applet in exe.ident.applets:
        m = table.exact(applet)
        if m is not None:
            out.append((applet, Match(m[2], links.get(applet, exe.real), (m[0], m[1]),
                                       "content:applet table")))
    return out

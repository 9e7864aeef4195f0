"""Path globs for image paths, compiled once into one regular expression per use.

The one glob grammar of auditor (docs/globs.md): policy allow-lists and waivers, package
rules, ``ls --glob`` and the paths detectors and catalogers declare all mean this.

- A pattern is split at ``/`` into components. ``*`` is any run of characters within one
  component, ``?`` one character, ``[abc]``, ``[a-z]``, ``[!abc]`` (or ``[^abc]``) one
  character of (not of) a class; none of them matches ``/``.
- A component that is exactly ``**`` matches zero or more whole components: ``/a/**/b``
  matches ``/a/b`` and ``/a/x/y/b``, ``/a/**`` matches ``/a`` and everything beneath it.
  ``**`` inside a component (``a**b``) is a plain ``*``.
- A pattern with no ``/`` matches a base name anywhere, as in .gitignore, so ``*.pem``
  finds every PEM file; any other pattern is anchored at the root (``etc/x`` is ``/etc/x``).
- Names (package names, base names) are matched as a path from the root, anchored at both
  ends: ``@types/*`` matches every package of the ``@types`` scope, ``*`` any unscoped name.

Matching takes time linear in the path, whatever the pattern: runs of ``*`` collapse, and
where a component holds several ``*`` (or a pattern several ``**``) the pieces between
them are matched at their earliest place and never retried (atomic groups), which finds a
match whenever one exists because every such piece has a fixed length (in characters, or
in components). A hostile allow-list of thousands of ``*`` cannot stall a scan.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

_ESCAPED: dict[str, str] = {}
_STAR = "[^/]*"
_SPAN = "**"
# The atoms a ``**`` component becomes: before the last piece of a pattern, at its end.
_SPAN_BEFORE_LAST = "(?:/|/.*/)"
_SPAN_AT_END = "(?:/.*)?"


def _class_atom(component: str, i: int, pattern: str) -> tuple[str, int]:
    """The atom for the class at ``component[i]`` (a ``[``) and the index past it."""
    negated = component[i + 1:i + 2] in ("!", "^")
    end = component.find("]", i + 2 if negated else i + 1)
    if end < 0:
        raise ValueError(f"unclosed '[' in glob {pattern!r}")
    body = component[i + (2 if negated else 1):end].replace("\\", "\\\\")
    return ("[^/" if negated else "[") + body + "]", end + 1


def _component_atoms(component: str, pattern: str) -> list[str]:
    """The atoms of one component. With two ``*`` or more, each piece between two of them
    is one atomic atom that takes the piece's earliest place (``(?>[^/]*?piece)``)."""
    pieces: list[list[str]] = [[]]
    i, n = 0, len(component)
    while i < n:
        c = component[i]
        if c == "*":
            if pieces[-1] or len(pieces) == 1:
                pieces.append([])
            i += 1
            continue
        if c == "[":
            atom, i = _class_atom(component, i, pattern)
        else:
            atom = "[^/]" if c == "?" else _ESCAPED.get(c) or _ESCAPED.setdefault(c, re.escape(c))
            i += 1
        pieces[-1].append(atom)
    out = pieces[0]
    for middle in pieces[1:-1]:
        out.append("(?>[^/]*?" + "".join(middle) + ")")
    if len(pieces) > 1:
        out.append(_STAR)
        out.extend(pieces[-1])
    return out


def _run_atoms(run: list[str], pattern: str, lead: bool) -> list[str]:
    """The atoms of components in sequence; ``lead``: a ``/`` before the first."""
    out: list[str] = []
    for k, component in enumerate(run):
        if k or lead:
            out.append("/")
        out.extend(_component_atoms(component, pattern))
    return out


def _glob_atoms(pattern: str) -> list[str]:
    """The regular expression for ``pattern``, one atom (a character, a class or a group,
    quantifier included) per item."""
    spelled = pattern if "/" in pattern else "**/" + pattern
    runs: list[list[str]] = [[]]  # the components between ``**``s
    previous = ""
    for component in spelled.removeprefix("/").split("/"):
        if component == _SPAN:
            if previous != _SPAN:
                runs.append([])
        else:
            runs[-1].append(component)
        previous = component
    out = _run_atoms(runs[0], pattern, lead=True)
    for k, run in enumerate(runs[1:], 1):
        if k < len(runs) - 1:  # between two ``**``: its earliest place, never retried
            inner = "".join(_run_atoms(run, pattern, lead=True))
            out.append("(?>(?:/.*?)??" + inner + "(?=/|\\Z))")
        elif run:
            out.append(_SPAN_BEFORE_LAST)
            out.extend(_run_atoms(run, pattern, lead=False))
        else:
            out.append(_SPAN_AT_END)
    return out


def glob_to_regex(pattern: str) -> str:
    return "".join(_glob_atoms(pattern))


# Factoring recurses once per atom: longer globs (never seen in practice) are joined plainly.
_MAX_ATOMS = 200


class _State:
    """A state of the automaton the globs spell out, atom by atom; ``None`` leads to the
    end (the pattern may stop here)."""

    __slots__ = ("edges",)

    def __init__(self) -> None:
        self.edges: dict[str | None, _State] = {}


def _minimal(state: _State, seen: dict[object, _State], order: list[_State]) -> _State:
    """``state`` with equal states merged (the tails a set of globs shares: the extension
    list after each of many directories), bottom up; ``order`` gets each state after
    all the states it leads to."""
    edges = state.edges
    key: object
    if len(edges) == 1:  # most states: one character of one glob
        [(atom, child)] = edges.items()
        child = edges[atom] = _minimal(child, seen, order)
        key = (atom, id(child))
    else:
        for atom, child in list(edges.items()):
            edges[atom] = _minimal(child, seen, order)
        key = frozenset((atom, id(child)) for atom, child in edges.items())
    same = seen.get(key)
    if same is None:
        same = seen[key] = state
        order.append(state)
    return same


class _Writer:
    """Writes the regular expression for the paths from a state to another: where all of
    a state's paths meet again (its nearest post-dominator), the alternation closes and
    the shared tail is written once."""

    def __init__(self, sink: _State, order: list[_State]) -> None:
        """``order``: every state after all the states it leads to."""
        self.ipdom: dict[int, _State] = {}
        self.depth: dict[int, int] = {id(sink): 0}
        for state in order:
            if state is not sink:
                children = iter(state.edges.values())
                meet = next(children)
                for child in children:
                    meet = self.common(meet, child)
                self.ipdom[id(state)] = meet
                self.depth[id(state)] = self.depth[id(meet)] + 1

    def common(self, a: _State, b: _State) -> _State:
        """The first state that every path from ``a`` and every path from ``b`` reaches."""
        ipdom, depth = self.ipdom, self.depth
        while a is not b:
            if depth[id(a)] >= depth[id(b)]:
                a = ipdom[id(a)]
            else:
                b = ipdom[id(b)]
        return a

    def between(self, state: _State, stop: _State) -> str:
        out = []
        while state is not stop:
            meet = self.ipdom[id(state)]
            # Branches that meet before ``meet`` (several directories with one tail) are
            # grouped, so that the tail is written once for the group.
            groups: list[tuple[_State, list[tuple[str, _State]]]] = []
            for atom, child in state.edges.items():
                for i, (at, members) in enumerate(groups):
                    shared = self.common(at, child)
                    if shared is not meet:
                        groups[i] = (shared, [*members, (atom or "", child)])
                        break
                else:
                    groups.append((child, [(atom or "", child)]))
            branches = []
            for at, members in groups:
                if len(members) == 1:
                    atom, child = members[0]
                    branches.append(atom + self.between(child, meet))
                else:
                    heads = [atom + self.between(child, at) for atom, child in members]
                    branches.append("(?:" + "|".join(heads) + ")" + self.between(at, meet))
            out.append(branches[0] if len(branches) == 1
                       else "(?:" + "|".join(branches) + ")")
            state = meet
        return "".join(out)


# An atom's mirror image, for atoms that are not their own.
_REVERSED = {_SPAN_AT_END: "(?:.*/)?"}


def union_regex(patterns: Iterable[str], reverse: bool = False) -> str | None:
    """One regular expression (no anchors) matching what any of the globs matches, with
    shared heads and tails written once: hundreds of globs that differ only in a
    directory or an extension compile many times faster than their plain alternation,
    and match faster too. None when there are no patterns.

    ``reverse``: the expression matches the paths written backwards (``path[::-1]``).
    Matched from its end, a path that no glob wants fails on its last character or two
    (its extension, its name), instead of after trying every ``**/`` at every ``/``.
    """
    spelled = [_glob_atoms(pattern) for pattern in patterns]
    if reverse:
        if any(atom.startswith("(?>") for atoms in spelled for atom in atoms):
            # The earliest-place pieces read forwards only; no glob of ours needs this.
            raise ValueError("a glob with several * in a component or several ** cannot "
                             "be matched backwards")
        spelled = [[_REVERSED.get(atom, atom) for atom in reversed(atoms)] for atoms in spelled]
    if not spelled:
        return None
    if len(spelled) == 1 or max(map(len, spelled)) > _MAX_ATOMS:
        return "|".join("".join(atoms) for atoms in spelled)
    start, sink = _State(), _State()
    for atoms in spelled:
        state = start
        for atom in atoms:
            child = state.edges.get(atom)
            if child is None:
                child = state.edges[atom] = _State()
            state = child
        state.edges[None] = sink
    order: list[_State] = []
    start = _minimal(start, {}, order)
    return _Writer(sink, order).between(start, sink)


def compile_globs(patterns: Iterable[str]) -> re.Pattern[str]:
    """One regex matching any of the patterns (never matches when there are none)."""
    body = union_regex(patterns)
    if body is None:
        return re.compile(r"(?!)")
    return re.compile("(?:" + body + r")\Z", re.DOTALL)


def glob_match(pattern: str, path: str) -> bool:
    return compile_globs([pattern]).match(path) is not None


class NameGlobs:
    """Names (base names, package names) matched whole against a set of globs: the same
    grammar, read as a path from the root, so ``*`` stays within a ``/``-separated part."""

    __slots__ = ("_rx",)

    def __init__(self, patterns: Iterable[str]) -> None:
        self._rx = compile_globs("/" + pattern for pattern in patterns)

    def match(self, name: str) -> bool:
        return self._rx.match("/" + name) is not None


@functools.lru_cache(maxsize=1024)
def _name_glob(pattern: str) -> NameGlobs:
    return NameGlobs((pattern,))


def name_match(pattern: str, name: str) -> bool:
    """Whether the glob ``pattern`` matches all of ``name`` (see ``NameGlobs``)."""
    return _name_glob(pattern).match(name)


def check_glob(pattern: str) -> None:
    """Raise ValueError, a phrase for the user, unless ``pattern`` compiles (the same
    compiler that matches it later)."""
    if not pattern:
        raise ValueError("it is empty")
    try:
        compile_globs([pattern])
    except re.error as exc:
        raise ValueError(str(exc)) from None

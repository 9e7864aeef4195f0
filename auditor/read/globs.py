"""Path globs for image paths, compiled once into one regular expression per use.

``*`` and ``?`` stay inside one path component, ``**`` spans components (``/a/**/b``
matches ``/a/b`` too), ``[...]`` is a character class. A pattern with no ``/`` matches a
base name anywhere, as in .gitignore, so ``*.pem`` finds every PEM file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# What a glob spells other than plain characters; plain characters, escaped, by character.
_SPECIAL = re.compile(r"/\*\*/|/\*\*\Z|[*?[]")
_ESCAPED: dict[str, str] = {}


def _glob_atoms(pattern: str) -> list[str]:
    """The regular expression for ``pattern``, one atom (a character, a class or a group,
    quantifier included) per item."""
    if "/" not in pattern:
        pattern = "/**/" + pattern
    elif not pattern.startswith("/"):
        pattern = "/" + pattern
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        special = _SPECIAL.search(pattern, i)
        j = special.start() if special is not None else n
        for c in pattern[i:j]:
            atom = _ESCAPED.get(c)
            if atom is None:
                atom = _ESCAPED[c] = re.escape(c)
            out.append(atom)
        if special is None:
            break
        token = special.group()
        i = special.end()
        if token == "/**/":
            out.append("(?:/|/.*/)")
        elif token == "/**":
            out.append("(?:/.*)?")
        elif token == "*":
            out.append("[^/]*")
        elif token == "?":
            out.append("[^/]")
        else:
            end = pattern.find("]", j + 2 if pattern[j + 1:j + 2] in ("!", "^") else j + 1)
            if end < 0:
                raise ValueError(f"unclosed '[' in glob {pattern!r}")
            body = pattern[j + 1:end]
            if body[:1] in ("!", "^"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end + 1
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
_REVERSED = {"(?:/.*)?": "(?:.*/)?"}


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

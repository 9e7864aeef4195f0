"""The PATH a shell script's commands are found on, read in the order the script sets it.

``export PATH=/opt/app/bin:$PATH``, ``PATH="$APP_HOME/bin:${PATH}"; export PATH``,
``readonly``/``declare -x``/``typeset``/``local`` with an assignment, and ``PATH=/x cmd``
(for that one command) change the PATH later commands are looked up on. In the value,
``$PATH``/``${PATH}`` is the PATH in effect, and ``$NAME``/``${NAME}`` a variable the
image's ENV or the script itself set to a plain value; anything else (``$(...)``,
``${X:-y}``, a variable set by ``read`` or in a branch) cannot be known without running
the script: the assignment is then said in ``unfollowed`` and the directories of the value
that can be known are searched as well as those before it.

Where an assignment may or may not happen (in an ``if``, ``case`` or loop, after ``&&`` or
``||``, in a pipeline, a subshell, a ``$(...)`` or a function body), later commands are
looked up on every PATH it may leave, the one before it among them: the closure then holds
more, never less. A function's body and a ``trap`` string run at a time the reading does
not know: their commands are looked up on every PATH the script has had (``scripts``). A
PATH a sourced file sets is added, by the follower, to every command of the script that
sources it, before the ``.`` as well as after: the two are not read in one order.

Limits, chosen: quotes are gone by the time a value is read, so a single-quoted
``'$PATH'`` is taken as the expansion; ``PATH=/x`` before a special builtin (``PATH=/x :``,
which dash keeps afterwards) is taken for that command only; ``env PATH=...`` (in
``follow``) knows the image's ENV but not the variables the script set.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

_VARIABLE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
MAX_PATHS = 16  # PATHs a command may be looked up on; past that, said in unfollowed
MAX_CHARS = 65536  # of a value once expanded: bounds a script doubling its PATH


def _expand(value: str, vars_: Mapping[str, str], path: str) -> tuple[str, bool]:
    """``value`` with ``$PATH`` and the known variables put in; whether all of it is known.
    A value that would grow past MAX_CHARS (``A=$A$A`` again and again) is not known; a
    directory named twice in a PATH is kept once (the first is the one searched)."""
    room = MAX_CHARS - len(value)

    def put(m: re.Match[str]) -> str:
        nonlocal room
        name = m.group(1) or m.group(2)
        put_in = path if name == "PATH" else vars_.get(name, m.group(0))
        room -= len(put_in)
        return put_in if room >= 0 else m.group(0)
    out = _VARIABLE.sub(put, value)
    if ":" in out:
        out = ":".join(dict.fromkeys(out.split(":")))
    if not any(c in out for c in "$`{}~"):
        return out, True
    return out, not any(_unknown(d) for d in out.split(":"))


def path_value(value: str, path: str, env: Mapping[str, str]) -> tuple[str, bool]:
    """A PATH value (``env PATH=/x:$PATH cmd``) with ``$PATH`` and ``env``'s plain
    variables put in, only the directories that can be known kept; whether all are."""
    expanded, whole = _expand(value, {k: v for k, v in env.items() if "$" not in v}, path)
    return (expanded, True) if whole else (_known_part(expanded), False)


def unknown_path(value: str) -> str:
    """The reason said when PATH is set to ``value``, which cannot be known."""
    return f"it sets PATH to what cannot be known without running it ({value})"


def _unknown(directory: str) -> bool:
    """Whether a directory of a PATH value is still an expansion: ``$``, a backtick, a
    tilde (``~/bin``, ``~app/bin``)."""
    return directory.startswith("~") or any(c in directory for c in "$`{}")


def _known_part(expanded: str) -> str:
    """The directories of a PATH value that can be known (those without an expansion left)."""
    return ":".join(d for d in expanded.split(":") if not _unknown(d))


class PathState:
    """The PATHs (most likely first) a script may be looking commands up on, the plain
    variables it knows, and every PATH it has had."""

    def __init__(self, paths: Sequence[str], env: Mapping[str, str]) -> None:
        self.unfollowed: list[str] = []  # what PATH cannot be known, why
        self.paths = self._unique(paths)
        self.vars = {k: v for k, v in env.items() if k != "PATH" and "$" not in v}
        self.seen: list[str] = list(self.paths)

    def _say(self, why: str) -> None:
        if why not in self.unfollowed:
            self.unfollowed.append(why)

    def _unique(self, paths: Sequence[str]) -> tuple[str, ...]:
        out = tuple(dict.fromkeys(paths))
        if len(out) <= MAX_PATHS:
            return out
        self._say("it may set more PATHs than are followed")
        return out[:1] + out[-(MAX_PATHS - 1):]

    def _values(self, value: str, vars_: Mapping[str, str]) -> tuple[list[str], bool]:
        known, exact = [], True
        for path in self.paths:
            expanded, whole = _expand(value, vars_, path)
            known.append(expanded if whole else _known_part(expanded))
            exact = exact and whole
        if not exact:
            self._say(unknown_path(value))
        return known, exact

    def assign(self, name: str, value: str, certain: bool) -> None:
        """``name=value`` in the script itself; ``certain``: it surely happens, and before
        everything that follows it."""
        if name != "PATH":
            expanded, whole = _expand(value, self.vars, self.paths[0])
            if certain and whole and (len(self.paths) == 1 or "PATH" not in value):
                self.vars[name] = expanded
            else:
                self.vars.pop(name, None)
            return
        new, exact = self._values(value, self.vars)
        self.paths = self._unique(new if certain and exact else [*new, *self.paths])
        self.seen = list(self._unique([*self.seen, *self.paths]))

    def forget(self, name: str) -> None:
        """A variable set in a way not read (``read``, ``for``, ``unset``)."""
        if name == "PATH":
            self._say("it unsets PATH (then each shell searches a PATH of its own)")
            return
        self.vars.pop(name, None)

    def prefixed(self, assignments: Sequence[str]) -> tuple[str, ...]:
        """The PATHs a command with these prefix assignments (``PATH=/x cmd``) is found on."""
        vars_ = dict(self.vars)
        paths: tuple[str, ...] = self.paths
        for assignment in assignments:
            name, _, value = assignment.partition("=")
            if name == "PATH":
                new, exact = self._values(value, vars_)
                paths = self._unique(new if exact else [*new, *self.paths])
            else:
                expanded, whole = _expand(value, vars_, self.paths[0])
                if whole:
                    vars_[name] = expanded
                else:
                    vars_.pop(name, None)
        return paths

"""What a shell script runs, read without running it: the commands of an entrypoint script
(``docker-entrypoint.sh``), of a ``sh -c`` string, of a file it sources.

The script is split with the one shell reader (``auditor.history.shell``), the parser of
RUN steps. Every simple command is taken, wherever it stands: in ``if``/``while``
conditions and bodies, ``case`` branches, pipelines, ``$(...)`` and backticks, function
bodies, ``trap`` strings, the body of a here-document fed to a shell. What a command names
is a builtin, a function the script defines, a file to source, the script's own
arguments (``exec "$@"``), or a program to find on PATH. What cannot be known without
running the script (``eval``, a variable as a command name) is said in ``unfollowed``.

Each command carries the PATHs it may be found on, as the script sets PATH before it
(``scriptvars``). The reading keeps no control flow beyond that: a function's body, like
a ``trap`` string, runs at a time not known, so its commands are looked up on every PATH
the script has had; what a sourced file does to PATH is applied, by the follower, to every
command of the script that sources it as well as those after.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from auditor.closure.scriptvars import PathState
from auditor.history.shell import HereDoc, Op, substitutions, tokenize

# Commands every POSIX shell (dash, bash, busybox ash) runs itself: no file is needed.
BUILTINS = frozenset({
    ":", ".", "[", "[[", "alias", "bg", "break", "cd", "command", "continue", "declare", "echo",
    "eval", "exec", "exit", "export", "false", "fg", "getopts", "hash", "jobs", "kill",
    "let", "local", "printf", "pwd", "read", "readonly", "return", "set", "shift", "source",
    "test", "times", "trap", "true", "type", "typeset", "ulimit", "umask", "unalias",
    "unset", "wait",
})
KEYWORDS = frozenset({"if", "then", "else", "elif", "fi", "do", "done", "while", "until",
                      "!", "{", "}", "time", "for", "in", "function"})
SHELLS = frozenset({"sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "yash"})
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.:-]*\Z")
# The script's own arguments used as the command: ``"$@"``, ``$*``, ``"${1}"``...
POSITIONAL = re.compile(r"\$(?:[@*1]|\{[@*1]\})\Z")
# The script itself: ``"$0"``, ``"$BASH_SOURCE"`` (an entrypoint re-running itself as
# another user: ``exec gosu app "$0" "$@"``)
SELF = re.compile(r"\$(?:0|\{0\}|BASH_SOURCE|\{BASH_SOURCE(?:\[0\])?\})\Z")
MAX_NESTING = 8  # $(...) inside $(...) inside a trap string...


_LISTS = frozenset({"&&", "||", "|", "&"})  # around a command: it may not run, or in a subshell
_OPENERS = frozenset({"if", "while", "until", "for", "{"})
_CLOSERS = frozenset({"fi", "done", "}"})
_DECLARES = frozenset({"export", "readonly", "declare", "typeset", "local"})


@dataclass(frozen=True)
class Run:
    """A command as written and the PATHs it may be looked up on, most likely first."""

    words: tuple[str, ...]
    paths: tuple[str, ...]
    anytime: bool = False  # in a function body or trap string: run at a time not known


@dataclass
class ScriptRead:
    """What one script (and the substitutions, trap strings and here-documents in it) runs."""

    commands: list[Run] = field(default_factory=list)  # programs, words as written
    functions: set[str] = field(default_factory=set)
    sourced: list[Run] = field(default_factory=list)  # files named by ``.`` or ``source``
    runs_args: bool = False  # ``exec "$@"``: the script runs its arguments
    args_paths: tuple[str, ...] = ()  # the PATHs its arguments may be looked up on
    # ``set -- node "$@"``: the words then put in front of the arguments
    arg_prefixes: list[Run] = field(default_factory=list)
    unfollowed: list[str] = field(default_factory=list)  # what cannot be followed, why
    all_paths: tuple[str, ...] = ()  # every PATH the script has had, the first first


def read_script(text: str, paths: Sequence[str], env: Mapping[str, str] | None = None
                ) -> ScriptRead:
    """Every command ``text`` may run, read as a POSIX shell reads it, when it starts with
    PATH one of ``paths`` and the (plain) variables of ``env``."""
    reader = _Reader(PathState(paths, env or {}))
    reader.read(text, 0)
    out, state = reader.out, reader.state
    everywhere = tuple(state.seen)

    def placed(runs: list[Run]) -> list[Run]:
        return [Run(r.words, tuple(dict.fromkeys([*r.paths, *everywhere]))) if r.anytime
                else r for r in runs if r.words and r.words[0] not in out.functions]
    out.commands = placed(out.commands)
    out.arg_prefixes = placed(out.arg_prefixes)
    if reader.args_late:
        out.args_paths = tuple(dict.fromkeys([*out.args_paths, *everywhere]))
    out.all_paths = everywhere
    out.unfollowed += state.unfollowed
    return out


class _Reader:
    def __init__(self, state: PathState) -> None:
        self.out = ScriptRead()
        self.state = state
        self.nest = 0  # compound commands and subshells open
        self.bodies: list[int] = []  # the nesting each open function body started at
        self.body_next = False  # a function was just named: its body opens next
        self.late = 0  # reading a trap string
        self.args_late = False  # a function body or trap string runs the arguments

    def _open(self) -> None:
        if self.body_next:
            self.bodies.append(self.nest)
            self.body_next = False
        self.nest += 1

    def _close(self) -> None:
        self.nest = max(0, self.nest - 1)
        if self.bodies and self.nest <= self.bodies[-1]:
            self.bodies.pop()

    def read(self, text: str, depth: int) -> None:
        out = self.out
        if depth > MAX_NESTING:
            out.unfollowed.append("command substitutions nest too deep to follow")
            return
        tokens = tokenize(text, heredocs=True)
        words: list[str] = []
        case = ""  # "" outside a case; "word" before its `in`; "pattern"; "body"
        before = ""  # the operator before the command being read
        defined = False  # just read `name(`: its `)` closes no subshell
        for n, token in enumerate(tokens):
            if isinstance(token, Op):
                if case == "pattern":
                    case = "body" if token == ")" else case
                elif token == "(" and words and n + 1 < len(tokens) and tokens[n + 1] == ")":
                    out.functions.add(words[-1])  # name() { ... }
                    self.body_next = defined = True
                elif token == ")" and defined:
                    defined = False
                else:
                    case = self._command(words, depth, case, before, token)
                    case = "pattern" if case == "body" and token == ";;" else case
                    if token == "(":
                        self._open()
                    elif token == ")":
                        self._close()
                words, before = [], token
                continue
            if case == "pattern":
                if token == "esac":
                    case = ""
                    self._close()
                continue
            words.append(token)
        if case != "pattern":
            self._command(words, depth, case, before, "")

    def _command(self, words: list[str], depth: int, case: str, before: str, after: str
                 ) -> str:
        """Take one simple command; the ``case`` state after it."""
        for word in words:
            if isinstance(word, HereDoc):
                continue
            for inner in substitutions(word):
                self.read(inner, depth + 1)
        i = 0
        assignments: list[str] = []
        while i < len(words) and (words[i] in KEYWORDS or _ASSIGNMENT.match(words[i])
                                  or isinstance(words[i], HereDoc)):
            word = words[i]
            if word == "function" and i + 1 < len(words):
                self.out.functions.add(words[i + 1])
                self.body_next = True
                if "{" in words[i + 2:]:
                    self._open()
                return case
            if word in _OPENERS:
                self._open()
            elif word in _CLOSERS:
                self._close()
            if word == "for" and i + 1 < len(words):
                self.state.forget(words[i + 1])
            if word in ("for", "in"):  # `for x in a b c`: the words are not commands
                return case
            if not isinstance(word, HereDoc) and word not in KEYWORDS:
                assignments.append(word)
            i += 1
        rest = words[i:]
        certain = (depth == 0 and self.nest == 0 and before not in _LISTS
                   and after not in _LISTS)
        if not rest:
            for assignment in assignments:
                name, _, value = assignment.partition("=")
                self.state.assign(name, value, certain)
            return case
        if rest[0] == "case":
            self._open()
            return "pattern" if "in" in rest else "word"
        if rest[0] == "esac":
            self._close()
            return ""
        if case == "word" and rest[0] == "in":
            return "pattern"
        paths = self.state.prefixed(assignments) if any(
            a.startswith("PATH=") for a in assignments) else self.state.paths
        self._simple([w for w in rest if not isinstance(w, HereDoc)],
                     [w for w in words if isinstance(w, HereDoc)], depth, paths, certain)
        return case

    def _simple(self, words: list[str], heredocs: list[str], depth: int,
                paths: tuple[str, ...], certain: bool, execs: bool = False) -> None:
        """One simple command; ``execs``: ``exec`` runs it, so a builtin's name is the
        program of that name."""
        out = self.out
        name = words[0]
        anytime = bool(self.bodies) or self.late > 0
        if name == "exec" or name == "command":
            rest = words[1:]
            if name == "command" and rest[:1] and rest[0] in ("-v", "-V"):
                return  # `command -v x` asks where x is; it runs nothing
            while rest and rest[0].startswith("-"):
                rest = rest[1:]
            if rest:
                self._simple(rest, heredocs, depth, paths, certain, execs or name == "exec")
            return
        if POSITIONAL.fullmatch(name):
            out.runs_args = True
            self.args_late = self.args_late or anytime
            out.args_paths = tuple(dict.fromkeys([*out.args_paths, *paths]))
            return
        if SELF.fullmatch(name):
            out.commands.append(Run(tuple(words), paths, anytime))  # the follower knows $0
            return
        if "$" in name or "`" in name:
            out.unfollowed.append(f"it runs a command whose name is an expansion ({name})")
            return
        if name == "eval":
            out.unfollowed.append("it runs eval")
            return
        if name in (".", "source"):
            self._source(words[1:], paths)
            return
        if name in _DECLARES and not execs:
            for word in words[1:]:
                if _ASSIGNMENT.match(word):
                    var, _, value = word.partition("=")
                    self.state.assign(var, value, certain and name != "local")
            return
        if name in ("unset", "read") and not execs:
            for word in words[1:]:
                if _NAME.match(word) and "=" not in word:
                    self.state.forget(word)
            return
        if name == "set" and "--" in words:
            after = words[words.index("--") + 1:]
            if after and not POSITIONAL.fullmatch(after[0]) and "$" not in after[0]:
                out.arg_prefixes.append(Run(tuple(w for w in after
                                                  if not POSITIONAL.fullmatch(w)), paths,
                                              anytime))
            return
        if name == "trap" and len(words) > 2 and words[1] != "-" and not words[1].isdigit():
            self.late += 1
            self.read(words[1], depth + 1)
            self.late -= 1
            return
        if name in BUILTINS and not execs:
            return
        if posixpath.basename(name) in SHELLS and heredocs and len(words) == 1:
            for body in heredocs:  # `sh <<EOF`: the shell runs the document
                self.read(body, depth + 1)
        out.commands.append(Run(tuple(words), paths, anytime))

    def _source(self, args: list[str], paths: tuple[str, ...]) -> None:
        if not args:
            return
        path = args[0]
        if "$" in path or "`" in path or "*" in path:
            self.out.unfollowed.append(f"it sources a file named by an expansion ({path})")
            return
        self.out.sourced.append(Run((path,), paths))

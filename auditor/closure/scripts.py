"""What a shell script runs, read without running it: the commands of an entrypoint script
(``docker-entrypoint.sh``), of a ``sh -c`` string, of a file it sources.

The script is split with the one shell reader (``auditor.history.shell``), the parser of
RUN steps. Every simple command is taken, wherever it stands: in ``if``/``while``
conditions and bodies, ``case`` branches, pipelines, ``$(...)`` and backticks, function
bodies, ``trap`` strings, the body of a here-document fed to a shell. What a command names
is a builtin, a function the script defines, a file to source, the script's own
arguments (``exec "$@"``), or a program to find on PATH. What cannot be known without
running the script (``eval``, a variable as a command name) is said in ``unfollowed``.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

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


@dataclass
class ScriptRead:
    """What one script (and the substitutions, trap strings and here-documents in it) runs."""

    commands: list[list[str]] = field(default_factory=list)  # programs, words as written
    functions: set[str] = field(default_factory=set)
    sourced: list[str] = field(default_factory=list)  # files named by ``.`` or ``source``
    runs_args: bool = False  # ``exec "$@"``: the script runs its arguments
    # ``set -- node "$@"``: the words then put in front of the arguments
    arg_prefixes: list[list[str]] = field(default_factory=list)
    unfollowed: list[str] = field(default_factory=list)  # what cannot be followed, why


def read_script(text: str) -> ScriptRead:
    """Every command ``text`` may run, read as a POSIX shell reads it."""
    out = ScriptRead()
    _read(text, out, 0)
    out.commands = [c for c in out.commands if c[0] not in out.functions]
    return out


def _read(text: str, out: ScriptRead, depth: int) -> None:
    if depth > MAX_NESTING:
        out.unfollowed.append("command substitutions nest too deep to follow")
        return
    tokens = tokenize(text, heredocs=True)
    words: list[str] = []
    case = ""  # "" outside a case; "word" before its `in`; "pattern"; "body"
    for n, token in enumerate(tokens):
        if isinstance(token, Op):
            if case == "pattern":
                case = "body" if token == ")" else case
            elif token == "(" and words and n + 1 < len(tokens) and tokens[n + 1] == ")":
                out.functions.add(words[-1])  # name() { ... }
            else:
                case = _command(words, out, depth, case)
                case = "pattern" if case == "body" and token == ";;" else case
            words = []
            continue
        if case == "pattern":
            if token == "esac":
                case = ""
            continue
        words.append(token)
    if case != "pattern":
        _command(words, out, depth, case)


def _command(words: list[str], out: ScriptRead, depth: int, case: str) -> str:
    """Take one simple command; the ``case`` state after it."""
    for word in words:
        if isinstance(word, HereDoc):
            continue
        for inner in substitutions(word):
            _read(inner, out, depth + 1)
    i = 0
    while i < len(words) and (words[i] in KEYWORDS or _ASSIGNMENT.match(words[i])
                              or isinstance(words[i], HereDoc)):
        if words[i] == "function" and i + 1 < len(words):
            out.functions.add(words[i + 1])
            return case
        if words[i] in ("for", "in"):  # `for x in a b c`: the words are not commands
            return case
        i += 1
    rest = words[i:]
    if not rest:
        return case
    if rest[0] == "case":
        return "pattern" if "in" in rest else "word"
    if rest[0] == "esac":
        return ""
    if case == "word" and rest[0] == "in":
        return "pattern"
    _simple([w for w in rest if not isinstance(w, HereDoc)],
            [w for w in words if isinstance(w, HereDoc)], out, depth)
    return case


def _simple(words: list[str], heredocs: list[str], out: ScriptRead, depth: int,
            execs: bool = False) -> None:
    """One simple command; ``execs``: ``exec`` runs it, so a builtin's name is the
    program of that name."""
    name = words[0]
    if name == "exec" or name == "command":
        rest = words[1:]
        if name == "command" and rest[:1] and rest[0] in ("-v", "-V"):
            return  # `command -v x` asks where x is; it runs nothing
        while rest and rest[0].startswith("-"):
            rest = rest[1:]
        if rest:
            _simple(rest, heredocs, out, depth, execs or name == "exec")
        return
    if POSITIONAL.fullmatch(name):
        out.runs_args = True
        return
    if SELF.fullmatch(name):
        out.commands.append(list(words))  # the follower knows the script's path
        return
    if "$" in name or "`" in name:
        out.unfollowed.append(f"it runs a command whose name is an expansion ({name})")
        return
    if name == "eval":
        out.unfollowed.append("it runs eval")
        return
    if name in (".", "source"):
        _source(words[1:], out)
        return
    if name == "set" and "--" in words:
        after = words[words.index("--") + 1:]
        if after and not POSITIONAL.fullmatch(after[0]) and "$" not in after[0]:
            out.arg_prefixes.append([w for w in after if not POSITIONAL.fullmatch(w)])
        return
    if name == "trap" and len(words) > 2 and words[1] != "-" and not words[1].isdigit():
        _read(words[1], out, depth + 1)
        return
    if name in BUILTINS and not execs:
        return
    if posixpath.basename(name) in SHELLS and heredocs and len(words) == 1:
        for body in heredocs:  # `sh <<EOF`: the shell runs the document
            _read(body, out, depth + 1)
    out.commands.append(list(words))


def _source(args: list[str], out: ScriptRead) -> None:
    if not args:
        return
    path = args[0]
    if "$" in path or "`" in path or "*" in path:
        out.unfollowed.append(f"it sources a file named by an expansion ({path})")
        return
    out.sourced.append(path)

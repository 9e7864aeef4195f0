"""The commands inside a RUN script: words (quotes removed), simple commands, wrappers.

Enough of POSIX shell for build scripts, never executed: quotes, backslashes, ``$(...)``
and backticks kept inside their word, the control operators between commands,
redirections dropped, ``sh -c '...'``, ``sudo`` and ``env`` seen through.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass

_SEPARATORS = {"&&", "||", ";", ";;", "|", "&", "\n", "(", ")"}
_KEYWORDS = frozenset({"if", "then", "else", "elif", "fi", "do", "done", "while", "until",
                       "!", "{", "}", "time", "case", "esac"})
_ASSIGNMENT_RX = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
# Commands that run the command after them; their own options are skipped.
_WRAPPERS = frozenset({"sudo", "doas", "env", "nohup", "exec", "command", "nice", "builtin"})
_WRAPPER_OPTS_WITH_ARG = {"sudo": {"-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-U"},
                          "doas": {"-u", "-C"}, "env": {"-u", "-C", "-S"}, "nice": {"-n"}}
_SHELLS = frozenset({"sh", "bash", "dash", "ash", "zsh", "ksh", "mksh"})


@dataclass(frozen=True, slots=True)
class Command:
    """One simple command of a RUN script: the program's base name and its arguments."""

    program: str
    args: tuple[str, ...]
    via_sudo: bool = False  # run through sudo or doas
    text: str = ""  # the words as written, for evidence

    def has(self, *options: str) -> bool:
        """Whether any of ``options`` is among the arguments (``--opt=value`` counts)."""
        return any(arg in options or arg.split("=", 1)[0] in options for arg in self.args)


def _read_balanced(s: str, i: int, open_c: str, close_c: str) -> int:
    """Index just past the ``close_c`` matching the ``open_c`` at ``s[i]``."""
    depth = 0
    n = len(s)
    while i < n:
        c = s[i]
        if c == "\\":
            i += 2
            continue
        if c == "'":
            end = s.find("'", i + 1)
            i = n if end < 0 else end + 1
            continue
        if c == open_c:
            depth += 1
        elif c == close_c:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return n


class Op(str):
    """A control operator between commands: ``&& || ; ;; | &``, a newline, ``(`` or ``)``."""

    __slots__ = ()


class HereDoc(str):
    """The body of a here-document (``<<EOF`` ... ``EOF``), where its redirection stood."""

    __slots__ = ()


def split_words(script: str, operators: bool = True) -> list[list[str]]:
    """Split a shell script into simple commands, each a list of words, quotes removed.

    Enough of POSIX shell for build scripts: quotes, backslashes, ``$(...)`` and backticks
    kept inside their word, the control operators ``&& || ; | & ( )`` and newlines between
    commands, redirections and their targets dropped, ``#`` comments skipped.

    ``operators=False``: words only, as in an ENV or ARG line, where ``; & | ( ) < > #``
    are ordinary characters and a newline is a space (one command comes back).
    """
    commands: list[list[str]] = []
    words: list[str] = []
    for token in tokenize(script, operators):
        if isinstance(token, Op):
            if words:
                commands.append(words)
            words = []
        else:
            words.append(token)
    if words:
        commands.append(words)
    return commands


def substitutions(word: str) -> list[str]:
    """The scripts of the command substitutions in a word: ``$(...)`` and backticks
    (``$((...))`` is arithmetic, not a command)."""
    out: list[str] = []
    i, n = 0, len(word)
    while i < n:
        if word.startswith("$((", i):
            i = _read_balanced(word, i + 1, "(", ")")
        elif word.startswith("$(", i):
            end = _read_balanced(word, i + 1, "(", ")")
            out.append(word[i + 2:end - 1] if word[end - 1:end] == ")" else word[i + 2:end])
            i = end
        elif word[i] == "`":
            end = word.find("`", i + 1)
            end = n if end < 0 else end
            out.append(word[i + 1:end])
            i = end + 1
        else:
            i += 1
    return out


def _heredoc_bodies(script: str, i: int, pending: list[tuple[str, bool]]
                    ) -> tuple[list[str], int]:
    """The bodies of the here-documents ``pending`` (delimiter, strip tabs) that start at
    ``script[i]`` (just past a newline), and where the script goes on after them."""
    bodies = []
    for delimiter, strip in pending:
        lines = []
        while i < len(script):
            end = script.find("\n", i)
            end = len(script) if end < 0 else end
            line = script[i:end]
            i = end + 1
            if (line.lstrip("\t") if strip else line) == delimiter:
                break
            lines.append(line)
        bodies.append("\n".join(lines))
    return bodies, i


def tokenize(script: str, operators: bool = True, heredocs: bool = False) -> list[str]:
    """The words of a shell script (quotes removed) with an ``Op`` between commands; see
    ``split_words``. ``heredocs=True``: a here-document's body is read as one ``HereDoc``
    token where its ``<<WORD`` stood, not as lines of the script."""
    tokens: list[str] = []
    word: list[str] = []
    in_word = False
    drop_next = False  # the next word is a redirection target
    heredoc_next: bool | None = None  # the next word is a here-document's delimiter
    pending: list[tuple[str, bool]] = []  # here-documents whose bodies follow the line
    at: list[int] = []  # where their bodies go in ``tokens``
    i, n = 0, len(script)

    def end_word() -> None:
        nonlocal word, in_word, drop_next, heredoc_next
        if in_word:
            if heredoc_next is not None:
                pending.append(("".join(word), heredoc_next))
                at.append(len(tokens))
                heredoc_next = None
                drop_next = False
            elif drop_next:
                drop_next = False
            else:
                tokens.append("".join(word))
        word, in_word = [], False

    while i < n:
        c = script[i]
        if c == "\\":
            if i + 1 < n and script[i + 1] == "\n":
                i += 2
                continue
            if i + 1 < n:
                word.append(script[i + 1])
            in_word = True
            i += 2
        elif c == "'":
            end = script.find("'", i + 1)
            end = n if end < 0 else end
            word.append(script[i + 1:end])
            in_word = True
            i = end + 1
        elif c == '"':
            i += 1
            while i < n and script[i] != '"':
                if script[i] == "\\" and i + 1 < n and script[i + 1] in '"\\$`\n':
                    if script[i + 1] != "\n":
                        word.append(script[i + 1])
                    i += 2
                elif script.startswith("$(", i):
                    end = _read_balanced(script, i + 1, "(", ")")
                    word.append(script[i:end])
                    i = end
                else:
                    word.append(script[i])
                    i += 1
            in_word = True
            i += 1
        elif script.startswith("$(", i) or script.startswith("${", i):
            end = _read_balanced(script, i + 1, script[i + 1], ")" if script[i + 1] == "("
                                 else "}")
            word.append(script[i:end])
            in_word = True
            i = end
        elif c == "`":
            end = script.find("`", i + 1)
            end = n if end < 0 else end
            word.append(script[i:end + 1])
            in_word = True
            i = end + 1
        elif c in " \t\r" or (c == "\n" and not operators):
            end_word()
            i += 1
        elif not operators:
            word.append(c)
            in_word = True
            i += 1
        elif c == "#" and not in_word:
            end = script.find("\n", i)
            i = n if end < 0 else end
        elif c in "<>" or (c == "&" and script.startswith("&>", i)):
            # A bare number just before is a file descriptor, not a word.
            if in_word and "".join(word).isascii() and "".join(word).isdigit():
                word, in_word = [], False
            end_word()
            if heredocs and script.startswith("<<", i) and not script.startswith("<<<", i):
                heredoc_next = script.startswith("<<-", i)
            i += 1
            while i < n and script[i] in "<>&|-":
                i += 1
            drop_next = True
        elif c in ";&|()\n":
            op = script[i:i + 2] if script[i:i + 2] in ("&&", "||", ";;") else c
            end_word()
            tokens.append(Op(op))
            i += len(op)
            if c == "\n" and pending:
                bodies, i = _heredoc_bodies(script, i, pending)
                for where, body in reversed(list(zip(at, bodies, strict=True))):
                    tokens.insert(where, HereDoc(body))
                pending, at = [], []
        else:
            word.append(c)
            in_word = True
            i += 1
    end_word()
    return tokens


def _command_of(words: list[str], depth: int) -> Iterator[Command]:
    i, n = 0, len(words)
    via_sudo = False
    while i < n:
        w = words[i]
        if w in _KEYWORDS or _ASSIGNMENT_RX.match(w):
            i += 1
            continue
        base = posixpath.basename(w)
        if base in _WRAPPERS:
            via_sudo = via_sudo or base in ("sudo", "doas")
            with_arg = _WRAPPER_OPTS_WITH_ARG.get(base, set())
            i += 1
            while i < n and (words[i].startswith("-") or (base == "env"
                                                          and _ASSIGNMENT_RX.match(words[i]))):
                if words[i] == "--":
                    i += 1
                    break
                i += 2 if words[i] in with_arg else 1
            if base == "nice" and i < n and words[i].lstrip("-").isascii() \
                    and words[i].lstrip("-").isdigit():
                i += 1
            continue
        break
    if i >= n:
        return
    program = posixpath.basename(words[i])
    args = tuple(words[i + 1:])
    text = " ".join(words)
    if program in _SHELLS and depth < 3:
        for j, arg in enumerate(args):
            if re.fullmatch(r"-[A-Za-z]*c", arg) and j + 1 < len(args):
                yield from iter_commands(args[j + 1], depth + 1, via_sudo)
                return
    yield Command(program, args, via_sudo, text)


def iter_commands(script: str, depth: int = 0, via_sudo: bool = False) -> Iterator[Command]:
    """Every simple command of ``script``, through ``sudo``/``env`` and ``sh -c '...'``."""
    for words in split_words(script):
        for cmd in _command_of(words, depth):
            yield Command(cmd.program, cmd.args, cmd.via_sudo or via_sudo, cmd.text) \
                if via_sudo and not cmd.via_sudo else cmd


def operands(cmd: Command, with_value: frozenset[str] = frozenset()) -> list[str]:
    """The arguments that are not options (nor the values of ``with_value`` options)."""
    out: list[str] = []
    skip = False
    for arg in cmd.args:
        if skip:
            skip = False
            continue
        if arg in with_value:
            skip = True
            continue
        if arg.startswith("-") and arg != "-":
            continue
        out.append(arg)
    return out


def brief(text: str, limit: int = 200) -> str:
    """A one-line excerpt of a command for messages."""
    one = " ".join(text.split())
    return one if len(one) <= limit else one[: limit - 3] + "..."

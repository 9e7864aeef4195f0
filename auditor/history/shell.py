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
    word: list[str] = []
    in_word = False
    drop_next = False  # the next word is a redirection target
    i, n = 0, len(script)

    def end_word() -> None:
        nonlocal word, in_word, drop_next
        if in_word:
            if drop_next:
                drop_next = False
            else:
                words.append("".join(word))
        word, in_word = [], False

    def end_command() -> None:
        nonlocal words
        end_word()
        if words:
            commands.append(words)
        words = []

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
            i += 1
            while i < n and script[i] in "<>&|-":
                i += 1
            drop_next = True
        elif c in ";&|()\n":
            op = script[i:i + 2] if script[i:i + 2] in ("&&", "||", ";;") else c
            end_command()
            i += len(op)
        else:
            word.append(c)
            in_word = True
            i += 1
    end_command()
    return commands


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

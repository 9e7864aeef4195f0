"""Build steps read back from an image's history, and the commands inside each RUN.

A built image keeps no Dockerfile, only one ``created_by`` string per instruction. The
builders write them in a few shapes:

- legacy builder, RUN: ``/bin/sh -c apt-get update && ...``; with build args in scope it
  is prefixed ``|2 A=1 B=2 ``; after a SHELL instruction the shell is the new one
  (``/bin/sh -o pipefail -c ...``); an exec-form RUN is its words joined by spaces;
- legacy builder, everything else: ``<shell> -c #(nop)  USER toor``; COPY and ADD name a
  content hash, ``ADD file:<sha256> in /dest `` (``dir:``, ``multi:``), and a remote ADD
  names a bare hash, ``ADD <sha256> in /dest `` (no ``file:`` prefix);
- BuildKit: the instruction keyword first and `` # buildkit`` last for RUN, ADD and COPY:
  ``RUN /bin/sh -c ... # buildkit``, ``ADD https://x/y /y # buildkit``, ``USER toor``.

Non-empty history entries map to layers in order; when they do not add up to the number
of layers we attribute nothing rather than guess (as ``ImageConfig.layer_history``).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from auditor.model.image import ImageConfig

INSTRUCTIONS = frozenset({
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK",
    "LABEL", "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME",
    "WORKDIR",
})

# A POSIX-ish shell and its options up to ``-c``: ``/bin/sh -c``, ``/bin/bash -o pipefail -c``,
# ``sh -exc``. The script is what follows.
_SHELL_C = (r"(?:\S*/)?(?:ba|da|a|z|k|mk)?sh"
            r"(?:\s+(?:[-+]o\s+\S+|[-+][A-Za-z]*(?<![cC])))*\s+-[A-Za-z]*c\s")
_SHELL_C_RX = re.compile(_SHELL_C)
_NOP_RX = re.compile(r"^(?:\|\d+\s.*?)?" + _SHELL_C + r"\s*#\(nop\)\s*(.*)\Z", re.DOTALL)
_ARGS_PREFIX_RX = re.compile(r"^\|(\d+)\s+")
_KEYWORD_RX = re.compile(r"^([A-Z]+)(?:\s+(.*))?\Z", re.DOTALL)
_BUILDKIT_SUFFIX = "# buildkit"


@dataclass(frozen=True, slots=True)
class Step:
    """One history entry read as a Dockerfile instruction."""

    index: int  # position in the config's history
    layer: int | None  # the layer it produced; None for empty-layer steps or when unknown
    instruction: str  # RUN, ADD, COPY, USER, ...; "" when the entry says nothing (imports)
    args: str  # the text after the keyword; for RUN, the shell script itself
    created_by: str  # the history entry as written
    buildkit: bool


def _run_script(text: str) -> str:
    """The script of a RUN, without the build-arg prefix and the ``<shell> -c``."""
    m = _ARGS_PREFIX_RX.match(text)
    if m:
        rest = text[m.end():]
        # Values may hold spaces, so find the shell rather than count the N assignments.
        sh = _SHELL_C_RX.search(rest)
        if sh is not None:
            return rest[sh.end():].lstrip()
        words = rest.split(" ")
        return " ".join(words[int(m.group(1)):]).lstrip()
    sh = _SHELL_C_RX.match(text)
    return text[sh.end():].lstrip() if sh is not None else text


def parse_created_by(created_by: str) -> tuple[str, str, bool]:
    """``(instruction, args, buildkit)`` for one ``created_by`` string."""
    text = created_by.strip()
    buildkit = text.endswith(_BUILDKIT_SUFFIX)
    if buildkit:
        text = text[: -len(_BUILDKIT_SUFFIX)].rstrip()
    if not text:
        return "", "", buildkit
    m = _NOP_RX.match(text)
    if m:
        keyword, _, rest = m.group(1).strip().partition(" ")
        return keyword.upper(), rest.strip(), buildkit
    m = _KEYWORD_RX.match(text)
    if m and m.group(1) in INSTRUCTIONS:
        keyword, rest = m.group(1), (m.group(2) or "").strip()
        return keyword, (_run_script(rest) if keyword == "RUN" else rest), buildkit
    return "RUN", _run_script(text), buildkit


def build_steps(config: ImageConfig, layer_count: int) -> list[Step]:
    producing = sum(1 for h in config.history if not h.empty_layer)
    mapped = producing == layer_count
    steps: list[Step] = []
    layer = 0
    for index, entry in enumerate(config.history):
        this_layer: int | None = None
        if not entry.empty_layer:
            this_layer = layer if mapped else None
            layer += 1
        instruction, args, buildkit = parse_created_by(entry.created_by)
        steps.append(Step(index, this_layer, instruction, args, entry.created_by, buildkit))
    return steps


def last_step(steps: Sequence[Step], instruction: str) -> Step | None:
    for step in reversed(steps):
        if step.instruction == instruction:
            return step
    return None


# -- the commands inside a RUN ----------------------------------------------------------

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


def split_words(script: str) -> list[list[str]]:
    """Split a shell script into simple commands, each a list of words, quotes removed.

    Enough of POSIX shell for build scripts: quotes, backslashes, ``$(...)`` and backticks
    kept inside their word, the control operators ``&& || ; | & ( )`` and newlines between
    commands, redirections and their targets dropped, ``#`` comments skipped.
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
        elif c in " \t\r":
            end_word()
            i += 1
        elif c == "#" and not in_word:
            end = script.find("\n", i)
            i = n if end < 0 else end
        elif c in "<>" or (c == "&" and script.startswith("&>", i)):
            # A bare number just before is a file descriptor, not a word.
            if in_word and "".join(word).isdigit():
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
            if base == "nice" and i < n and words[i].lstrip("-").isdigit():
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

"""A Dockerfile read with BuildKit's own grammar: stages, instructions, variables.

The ``dockerfile`` package wraps the parser the engine itself uses, so line
continuations, comments inside them, parser directives, JSON forms and heredocs are read
exactly as the build read them. What it leaves to us is what the builder does after
parsing: splitting the file into stages, following ``FROM <stage>`` chains, and expanding
``$VAR`` in the instructions that the builder expands (BuildKit's shell-word rules).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

from auditor.errors import UsageError
from auditor.model.dockerfile import Dockerfile, Instruction, Stage

# Instructions whose arguments the builder expands with ARG and ENV values.
EXPANDED = frozenset({"ADD", "COPY", "ENV", "EXPOSE", "FROM", "LABEL", "STOPSIGNAL", "USER",
                      "VOLUME", "WORKDIR", "ARG", "ONBUILD"})
DEFAULT_SHELL = ("/bin/sh", "-c")


def _escape_directive(text: str) -> str:
    for line in text.splitlines():
        m = re.match(r"\s*#\s*escape\s*=\s*(\S)", line, re.IGNORECASE)
        if m:
            return m.group(1)
        if not line.strip().startswith("#"):
            break
    return "\\"


def _instruction(cmd: Any) -> Instruction:
    return Instruction(
        keyword=str(cmd.cmd).upper(), args=tuple(cmd.value), flags=tuple(cmd.flags),
        json=bool(cmd.json), original=str(cmd.original), line=int(cmd.start_line),
        end_line=int(cmd.end_line),
        sub_keyword=str(cmd.sub_cmd).upper() if cmd.sub_cmd else None,
        heredoc=bool(cmd.heredocs))


def parse_dockerfile(text: str, build_args: Mapping[str, str] | None = None) -> Dockerfile:
    """Parse ``text`` into stages; global ARGs (with ``build_args``) expand FROM lines."""
    # The package is a compiled extension with no type information; imported here, as only
    # a run given a Dockerfile needs it.
    parser: Any = importlib.import_module("dockerfile")
    if "\x00" in text:  # the wrapper hands Go a C string: it would end there, silently
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise UsageError(f"the Dockerfile cannot be parsed: line {line} holds a NUL byte")
    try:
        commands = parser.parse_string(text)
    except Exception as exc:  # the Go parser's error; its text names the line
        raise UsageError(f"the Dockerfile cannot be parsed: {exc}") from None
    escape = _escape_directive(text)
    global_args: list[Instruction] = []
    stages: list[Stage] = []
    current: list[Instruction] = []
    head: Instruction | None = None
    global_vars: dict[str, str] = {}
    for cmd in commands:
        ins = _instruction(cmd)
        problem = argument_problem(ins)
        if problem is not None:
            raise UsageError(f"the Dockerfile cannot be parsed: line {ins.line}: {problem}")
        if ins.keyword == "FROM":
            if head is not None:
                stages.append(_stage(len(stages), head, current, global_vars, escape))
            head, current = ins, []
        elif head is None:
            if ins.keyword == "ARG":
                global_args.append(ins)
                for name, value in arg_pairs(ins, global_vars, escape):
                    given = (build_args or {}).get(name)
                    global_vars[name] = given if given is not None else (value or "")
            # anything else before FROM is rejected by the builder; ignoring it is enough
        else:
            current.append(ins)
    if head is None:
        raise UsageError("the Dockerfile has no FROM instruction")
    stages.append(_stage(len(stages), head, current, global_vars, escape))
    return Dockerfile(text, tuple(stages), tuple(global_args), dict(global_vars), escape)


_EXACTLY_ONE = frozenset({"MAINTAINER", "STOPSIGNAL", "USER", "WORKDIR"})
_AT_LEAST_ONE = frozenset({"ARG", "ENV", "EXPOSE", "LABEL", "VOLUME"})
_STAGE_NAME = re.compile(r"[a-z][a-z0-9_.-]*\Z")


def argument_problem(ins: Instruction) -> str | None:
    """What the builder says of an instruction whose arguments it rejects (the parser
    accepts them: the builder checks them after), or None. A file the builder rejects
    built no image, and the code after this may rely on every instruction being whole."""
    kw, args = ins.keyword, ins.args
    if kw in _EXACTLY_ONE and len(args) != 1:
        return f"{kw} requires exactly one argument"
    if kw in _AT_LEAST_ONE and not args:
        return f"{kw} requires at least one argument"
    if kw in ("ENV", "LABEL") and any(not key for key in args[::2]):
        return f"{kw} names can not be blank"
    if kw == "ARG" and any(word.startswith("=") or not word for word in args):
        return "ARG names can not be blank"
    if kw in ("ADD", "COPY") and len(args) < 2:
        return f"{kw} requires at least two arguments: the sources and the destination"
    if kw == "FROM":
        if len(args) == 3 and args[1].upper() == "AS":
            if not _STAGE_NAME.match(args[2].lower()):
                return f"invalid name for build stage: {args[2]!r}"
        elif len(args) != 1:
            return "FROM requires either one or three arguments"
    if kw == "SHELL" and not (ins.json and args):
        return "SHELL requires at least one argument, in JSON form"
    if kw == "ONBUILD" and ins.sub_keyword in (None, "ONBUILD", "FROM", "MAINTAINER"):
        return f"{ins.sub_keyword or 'nothing'} is not allowed as an ONBUILD trigger"
    if kw == "HEALTHCHECK":
        return _healthcheck_problem(ins)
    return None


def _healthcheck_problem(ins: Instruction) -> str | None:
    kind = ins.args[0].upper() if ins.args else ""
    if not kind:
        return "HEALTHCHECK requires at least one argument"
    if kind == "NONE":
        return "HEALTHCHECK NONE takes no arguments" if len(ins.args) > 1 else None
    if kind != "CMD":
        return f"unknown type {ins.args[0]!r} in HEALTHCHECK (try CMD)"
    if len(ins.args) < 2 or (not ins.json and not ins.args[1].strip()):
        return "missing command after HEALTHCHECK CMD"
    return None


def _stage(index: int, head: Instruction, body: list[Instruction], global_vars: Mapping[str, str],
           escape: str) -> Stage:
    words = list(head.args)
    name = None
    if len(words) >= 3 and words[-2].upper() == "AS":
        name = words[-1].lower()
        words = words[:-2]
    base, _ = expand(words[0] if words else "", global_vars, escape)
    return Stage(index, name, base, head.line, tuple(body), head)


def arg_pairs(ins: Instruction, scope: Mapping[str, str], escape: str = "\\"
              ) -> list[tuple[str, str | None]]:
    """``ARG A=1 B`` as ``[("A", "1"), ("B", None)]``, defaults expanded."""
    out: list[tuple[str, str | None]] = []
    for word in ins.args:
        name, sep, value = word.partition("=")
        out.append((name, expand(value, scope, escape)[0] if sep else None))
    return out


def env_pairs(ins: Instruction, scope: Mapping[str, str], escape: str = "\\"
              ) -> list[tuple[str, str, bool]]:
    """ENV/LABEL key-value pairs, expanded against ``scope`` (the values before this
    instruction, as the builder does); the flag says every variable was known."""
    out: list[tuple[str, str, bool]] = []
    words = list(ins.args)
    for i in range(0, len(words) - 1, 2):
        key, known_k = expand(words[i], scope, escape)
        value, known_v = expand(words[i + 1], scope, escape)
        out.append((key, value, known_k and known_v))
    return out


_NAME_RX = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


# How deep ``${A:-${B:-...}}`` may nest: far more than any real Dockerfile, and few enough
# that expanding a word never exhausts the stack or takes time quadratic in its length.
MAX_SUBSTITUTION_DEPTH = 32


def expand(word: str, scope: Mapping[str, str], escape: str = "\\") -> tuple[str, bool]:
    """Expand ``$VAR``, ``${VAR}``, ``${VAR:-x}``, ``${VAR:+x}`` and remove quotes, as the
    builder does for one Dockerfile word. The flag is False when a variable was not in
    ``scope`` (the builder would know it; we do not, so callers must not trust the text).
    UsageError when substitutions nest deeper than MAX_SUBSTITUTION_DEPTH."""
    return _expand(word, scope, escape, 0)


def _expand(word: str, scope: Mapping[str, str], escape: str, depth: int) -> tuple[str, bool]:
    if depth > MAX_SUBSTITUTION_DEPTH:
        raise UsageError(f"the Dockerfile nests ${{...}} substitutions more than "
                         f"{MAX_SUBSTITUTION_DEPTH} deep")
    out: list[str] = []
    known = True
    i, n = 0, len(word)
    quote: str | None = None
    while i < n:
        c = word[i]
        if c == escape and quote != "'" and i + 1 < n:
            out.append(word[i + 1])
            i += 2
        elif c in "'\"" and (quote is None or quote == c):
            quote = None if quote == c else c
            i += 1
        elif c == "$" and quote != "'" and i + 1 < n:
            value, ok, i = _variable(word, i + 1, scope, escape, depth)
            out.append(value)
            known = known and ok
        else:
            out.append(c)
            i += 1
    return "".join(out), known


def _variable(word: str, i: int, scope: Mapping[str, str], escape: str, depth: int
              ) -> tuple[str, bool, int]:
    if word[i] != "{":
        m = _NAME_RX.match(word, i)
        if m is None:
            return "$", True, i
        name = m.group(0)
        return scope.get(name, ""), name in scope, m.end()
    end = _closing_brace(word, i)
    body = word[i + 1:end]
    m = _NAME_RX.match(body)
    if m is None:
        return "${" + body + "}", False, end + 1
    name, rest = m.group(0), body[m.end():]
    value = scope.get(name)
    if not rest:
        return value or "", value is not None, end + 1
    op = rest[:2] if rest[:2] in (":-", ":+") else rest[:1]
    alt, alt_known = _expand(rest[len(op):], scope, escape, depth + 1)
    if op in (":-", "-"):
        empty = value is None or (op == ":-" and value == "")
        return (alt, alt_known, end + 1) if empty else (value or "", True, end + 1)
    if op in (":+", "+"):
        set_ = value is not None and (op == "+" or value != "")
        return (alt if set_ else ""), alt_known and name in scope, end + 1
    return value or "", False, end + 1  # ${VAR#pattern} and friends: not modelled


def _closing_brace(word: str, i: int) -> int:
    depth = 0
    for j in range(i, len(word)):
        if word[j] == "{":
            depth += 1
        elif word[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    return len(word) - 1


def shell_words(ins: Instruction, shell: Sequence[str] = DEFAULT_SHELL) -> list[str]:
    """The argv a CMD/ENTRYPOINT/RUN runs: its JSON words, or the shell and the line."""
    return list(ins.args) if ins.json else [*shell, ins.args[0] if ins.args else ""]

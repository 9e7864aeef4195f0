"""Image values written into a Dockerfile so that the builder reads back exactly that value,
in exactly the instruction meant, or not written at all.

Every writer of the rewrite goes through here. How BuildKit's parser (which the legacy
builder shares) reads a line, and what each function guards against:

- Lines end at ``\\n`` only, at most 64 KiB each. A line whose last non-blank character is
  the escape character (``\\``, or the one ``# escape=`` names) continues on the next; a
  line that starts with ``#`` is a comment, even inside a continuation. So a value holds
  no line break and no other control character, and never ends a line.
- After the keyword, leading ``--name=value`` words are flags, and ``[`` starts the JSON
  form: a value never starts an instruction's arguments with ``-`` or ``[``.
- ENV, LABEL, WORKDIR, USER, EXPOSE, STOPSIGNAL, VOLUME and COPY's paths are then
  expanded (JSON form too): ``$`` variables, quotes and the escape character. Inside
  double quotes only ``"``, ``$`` and the escape character can be escaped.
- COPY sources are patterns (``*``, ``?``, ``[``); RUN goes to the shell once the parser
  has looked for heredoc words (``<<EOF``): image words are single-quoted for the shell.

A function here returns the text to write, or None when the value cannot be written
safely: the caller leaves it out and says so, in a :func:`comment` and a note.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Sequence

from auditor.model.text import inert, shorten

# Bytes of one value; the parser refuses a physical line over 65,535 bytes.
MAX_VALUE = 16 * 1024
# Line breaks (as Go's scanner and as Python's splitlines see them), other C0 and C1
# controls, bidi overrides, lone surrogates (no UTF-8 for them). A tab is kept.
_UNWRITABLE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e"
                         "\u2066-\u2069\ud800-\udfff]")
_PLAIN_PATH = re.compile(r"/[A-Za-z0-9_./+@%,:=~-]*\Z")  # needs no quoting anywhere
_ACCOUNT = re.compile(r"[\w.][\w.-]{0,63}\Z")  # a user or group name (Unicode letters too)
_ENV_NAME = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.-]*\Z")
_PORT = re.compile(r"(\d{1,5})(?:-(\d{1,5}))?(?:/(tcp|udp|sctp))?\Z")
_SIGNAL = re.compile(r"(?:SIG)?[A-Z][A-Z0-9]{0,15}(?:[+-]\d{1,2})?\Z|\d{1,2}\Z")
_REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:@-]{0,254}\Z")
_EXPANDED = frozenset("$\"'`\\")  # what expansion would change, whatever the escape
_PATTERN = frozenset("*?[]")


def writable(text: str) -> bool:
    """``text`` can sit inside one Dockerfile line as it is."""
    return _UNWRITABLE.search(text) is None and len(text.encode()) <= MAX_VALUE


def comment(text: str) -> str:
    """A ``#`` line saying ``text`` (image text included) and nothing more: whitespace
    and line breaks folded, controls shown as ``\\x1b``, long text shortened."""
    return "# " + inert(shorten(text, 400)).replace("\u2028", "\\u2028").replace(
        "\u2029", "\\u2029")


def quoted(value: str, escape: str = "\\") -> str | None:
    """``value`` as one double-quoted word where the builder expands (ENV and LABEL keys
    and values, WORKDIR): the builder reads back ``value`` exactly."""
    if not writable(value):
        return None
    body = "".join(escape + c if c in ('"', "$", escape) else c for c in value)
    return f'"{body}"'


def env_name(name: str) -> bool:
    """An ENV name that needs no quoting: letters, digits, ``_``, ``.``, ``-``."""
    return _ENV_NAME.match(name) is not None


def env_pair(name: str, value: str, escape: str = "\\") -> str | None:
    """``NAME="value"`` for ENV, or None."""
    word = quoted(value, escape)
    ok = word is not None and env_name(name) and writable(name)
    return f"{name}={word}" if ok else None


def label_pair(key: str, value: str, escape: str = "\\") -> str | None:
    """``"key"="value"`` for LABEL, or None (the parser splits a pair at its first ``=``,
    quotes or not, so a key holds none)."""
    k, v = quoted(key, escape), quoted(value, escape)
    return f"{k}={v}" if k is not None and v is not None and key and "=" not in key else None


def workdir(path: str, escape: str = "\\") -> str | None:
    """An absolute WORKDIR, bare when it needs no quoting, or None."""
    if not path.startswith("/") or not writable(path):
        return None
    return path if _PLAIN_PATH.match(path) else quoted(path, escape)


def port(spec: str) -> str | None:
    """An EXPOSE word: ``PORT[-PORT][/tcp|udp|sctp]``, or None."""
    m = _PORT.match(spec)
    if m is None:
        return None
    low, high = int(m.group(1)), int(m.group(2) or m.group(1))
    return spec if low <= high <= 65535 else None


def stop_signal(signal: str) -> str | None:
    """A STOPSIGNAL word (``SIGTERM``, ``RTMIN+3``, ``9``), or None."""
    return signal if _SIGNAL.match(signal) else None


def account(name: str) -> bool:
    """A user or group name that is written bare: letters and digits (any script), ``_``,
    ``.``, ``-`` (not first)."""
    return _ACCOUNT.match(name) is not None


def user(spec: str) -> str | None:
    """A USER word, ``name`` or ``name:group`` (numbers are names too), or None."""
    name, sep, group = spec.partition(":")
    return spec if account(name) and (not sep or account(group)) else None


def reference(ref: str) -> str | None:
    """An image reference for FROM, or None."""
    return ref if _REFERENCE.match(ref) else None


def exec_form(argv: Sequence[str]) -> str | None:
    """A JSON (exec form) argument list for CMD, ENTRYPOINT, HEALTHCHECK CMD or RUN,
    which the builder does not expand: any text but NUL and lone surrogates (JSON escapes
    the rest, and the output is ASCII)."""
    if any(_SURROGATE.search(a) or "\x00" in a for a in argv):  # no NUL reaches execve
        return None
    text = json.dumps(list(argv))
    return text if len(text) <= MAX_VALUE else None


_SURROGATE = re.compile("[\ud800-\udfff]")


def shell_form(command: str, escape: str = "\\") -> str | None:
    """A shell-form command line (HEALTHCHECK CMD, CMD), written as it is: one line,
    not read as JSON or as a continuation, the same after the parser trims it."""
    if not command or not writable(command) or command != command.strip():
        return None
    if command.startswith(("[", "-")) or command.endswith(escape):
        return None
    return command


def json_words(words: Sequence[str]) -> str | None:
    """A JSON list for an instruction that expands it (VOLUME): words the expansion
    leaves as they are."""
    if any(not writable(w) or _EXPANDED & set(w) for w in words):
        return None
    return json.dumps(list(words))


def copy_path(path: str) -> bool:
    """An absolute path that COPY reads back as itself, as source (no pattern
    characters) and as destination (nothing expansion changes)."""
    return (path.startswith("/") and writable(path) and not (_EXPANDED & set(path))
            and not (_PATTERN & set(path)))


def copy_args(source: str, dest: str) -> str:
    """``SOURCE DEST`` for a COPY, in JSON form when a path has white space (both paths
    passed :func:`copy_path`)."""
    if re.search(r"\s", source + dest):
        return json.dumps([source, dest])
    return f"{source} {dest}"


def shell_word(word: str) -> str | None:
    """``word`` as one shell word of a generated RUN: single-quoted where needed, so that
    neither the shell nor the parser's heredoc search reads anything into it."""
    return shlex.quote(word) if writable(word) else None


def tar_name(path: str) -> str | None:
    """An image path as tar names it relative to ``/`` in a generated RUN (never an
    option: ``./-x``)."""
    rel = path.lstrip("/")
    return shell_word("./" + rel if rel.startswith("-") else rel)


def passwd_pattern(name: str) -> str | None:
    """The shell word for ``grep`` that matches the passwd line of account ``name``."""
    if not account(name):
        return None
    return shell_word("^" + name.replace(".", "\\.") + ":")

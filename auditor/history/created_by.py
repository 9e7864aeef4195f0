"""A history entry's ``created_by`` read back as the Dockerfile instruction that wrote it.

A built image keeps no Dockerfile, only one ``created_by`` string per instruction. The
builders write them in a few shapes:

- legacy builder, RUN: ``/bin/sh -c apt-get update && ...``; with build args in scope it
  is prefixed ``|2 A=1 B=2 `` (values unquoted, so they may hold spaces); after a SHELL
  instruction the shell is the new one (``/bin/sh -o pipefail -c ...``); an exec-form RUN
  is its words joined by spaces, with no shell;
- legacy builder and buildah, everything else: ``<shell> -c #(nop)  USER toor``; COPY and
  ADD name a content hash, ``ADD file:<sha256> in /dest `` (``dir:``, ``multi:``; buildah
  writes ``COPY file:<sha256> in .``), and a remote ADD names a bare hash,
  ``ADD <sha256> in /dest `` (no ``file:`` prefix);
- BuildKit: the instruction keyword first and `` # buildkit`` last for RUN, ADD and COPY:
  ``RUN /bin/sh -c ... # buildkit``, ``RUN |1 V=1 /bin/sh -c make # buildkit``,
  ``ADD https://x/y /y # buildkit``; the others bare: ``USER toor``, ``ENV A=1``, ``ARG V=1``.

A RUN's ``--mount`` flags: buildah writes them in front of the script (``/bin/sh -c
--mount=type=cache,target=/root/.cache/pip pip install x``), BuildKit leaves them out;
``mounts`` reads them off the script (see ``mounts``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from auditor.history.mounts import RunMount, split_run_flags
from auditor.history.shell import split_words

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
_NAME_RX = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass(frozen=True, slots=True)
class CreatedBy:
    """One ``created_by`` string, read.

    ``instruction``: RUN, ADD, COPY, USER, ...; "" when the entry says nothing (imports).
    ``args``: the text after the keyword; for RUN, the shell script itself.
    ``shell``: for a RUN, the ``<shell> -c`` it ran under as recorded ("" for exec form).
    ``build_args``: the ``|N A=1 ...`` build args a RUN recorded, in order.
    ``written``: the instruction as the user wrote it, for display (no builder wrapper).
    ``mounts``: a RUN's ``--mount`` flags, where the history records them (buildah).
    """

    instruction: str
    args: str
    buildkit: bool
    shell: str = ""
    build_args: tuple[tuple[str, str], ...] = ()
    written: str = ""
    mounts: tuple[RunMount, ...] = ()


def _read_run(text: str) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    """``(shell, script, build_args)`` of a RUN's recorded text."""
    m = _ARGS_PREFIX_RX.match(text)
    if m:
        count, rest = int(m.group(1)), text[m.end():]
        # Values may hold spaces, so find the shell rather than count the N assignments.
        sh = _SHELL_C_RX.search(rest)
        if sh is not None:
            pairs = _settings(rest[:sh.start()].rstrip().split(" "))
            return sh.group().strip(), rest[sh.end():].lstrip(), tuple(pairs[:count])
        words = rest.split(" ")
        pairs = _settings(words[:count])
        return "", " ".join(words[count:]).lstrip(), tuple(pairs)
    sh = _SHELL_C_RX.match(text)
    if sh is None:
        return "", text, ()
    return sh.group().strip(), text[sh.end():].lstrip(), ()


def parse_created_by(created_by: str) -> CreatedBy:
    """Read one ``created_by`` string (any shape in this module's docstring)."""
    text = created_by.strip()
    buildkit = text.endswith(_BUILDKIT_SUFFIX)
    if buildkit:
        text = text[: -len(_BUILDKIT_SUFFIX)].rstrip()
    if not text:
        return CreatedBy("", "", buildkit)
    m = _NOP_RX.match(text)
    if m:
        written = m.group(1).strip()
        keyword, _, rest = written.partition(" ")
        build_args = _read_run(text)[2] if text.startswith("|") else ()
        return CreatedBy(keyword.upper(), rest.strip(), buildkit, build_args=build_args,
                         written=written)
    m = _KEYWORD_RX.match(text)
    if m and m.group(1) in INSTRUCTIONS:
        keyword, rest = m.group(1), (m.group(2) or "").strip()
        if keyword != "RUN":
            return CreatedBy(keyword, rest, buildkit, written=text)
        shell, script, build_args = _read_run(rest)
        script, mounts = split_run_flags(script)
        return CreatedBy("RUN", script, buildkit, shell, build_args, written=text,
                         mounts=mounts)
    shell, script, build_args = _read_run(text)
    # Only a recognised shell wrapper is the builder's RUN; other text (another tool's
    # history) is shown as it is.
    written = "RUN " + script if shell or build_args else text
    script, mounts = split_run_flags(script) if shell else (script, ())
    return CreatedBy("RUN", script, buildkit, shell, build_args, written=written,
                     mounts=mounts)


def created_by_text(created_by: str | None) -> str:
    """An instruction as the user wrote it: without the legacy builder's shell wrapper."""
    if not created_by:
        return "(no history)"
    return parse_created_by(created_by).written


def _settings(words: list[str], keyword: str = "RUN") -> list[tuple[str, str]]:
    """``NAME=value`` words to ``(name, value)``. The builders record build args and the
    legacy builder ENV values unquoted (``A=two words B=1``), so there a word without
    ``NAME=`` continues the value before it; an ARG's bare word is an ARG without a default.
    ``ENV NAME value`` (no ``=``) is the old form of ``ENV NAME="value"``."""
    pairs: list[tuple[str, str]] = []
    for word in words:
        name, sep, value = word.partition("=")
        if sep and _NAME_RX.match(name):
            pairs.append((name, value))
        elif pairs and keyword != "ARG":
            pairs[-1] = (pairs[-1][0], pairs[-1][1] + " " + word)
        elif keyword == "ENV" and not pairs and len(words) >= 2:
            return [(word, " ".join(words[1:]))]
    return pairs


def recorded_settings(created_by: str) -> list[tuple[str, str]]:
    """The ``(name, value)`` pairs an instruction records: a RUN's build args, an ENV's
    variables, an ARG's defaults (an ARG without a default records no value)."""
    entry = parse_created_by(created_by)
    if entry.instruction not in ("ENV", "ARG"):
        return list(entry.build_args)
    words = [w for command in split_words(entry.args, operators=False) for w in command]
    return list(entry.build_args) + _settings(words, entry.instruction)


def recorded_env(created_by: Iterable[str]) -> dict[str, str]:
    """The ENV values a sequence of history entries sets, later ones winning."""
    env: dict[str, str] = {}
    for text in created_by:
        if parse_created_by(text).instruction == "ENV":
            env.update(recorded_settings(text))
    return env

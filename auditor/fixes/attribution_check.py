"""Whether the image's history is the record of the Dockerfile's final stage at all.

A ``--dockerfile`` of another image (or of another version, or built with other build
args) still aligns with some history entries by keyword, and then findings point at lines
that did not make them and ``fix`` copies from a stage that never built the files. The
builders record every instruction of the stage chain (BuildKit's ``RUN |N A=.. # buildkit``
and bare ``USER x``, buildah's and the legacy builder's ``#(nop)``; see
``auditor.history.created_by``), so the Dockerfile is the image's when, after the base's
entries (a history no builder we know wrote, or none, cannot be checked):

- each instruction has its history entry, in order, and no entry is left over;
- an instruction whose recorded text we can work out (RUN text, COPY destination, CMD
  argv, ENV names...) matches it exactly;
- a COPY or ADD names as many sources as the builder recorded: the legacy builder writes
  ``multi:`` for two or more, BuildKit the source paths themselves.

Anything else is a mismatch, said in one sentence, and nothing is attributed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from auditor.fixes.dockerfile import expand
from auditor.history import INSTRUCTIONS, created_by_text, parse_created_by
from auditor.model.dockerfile import Dockerfile, Instruction, Stage
from auditor.model.image import HistoryEntry
from auditor.model.text import shorten

Keys = tuple[str, frozenset[str]]
Pair = tuple[int, int, str]
# Keywords whose recorded text may legitimately differ from what we work out (a relative
# WORKDIR, a HEALTHCHECK's durations, a LABEL's quoting): matched by position is enough.
LOOSE = frozenset({"WORKDIR", "HEALTHCHECK", "LABEL", "MAINTAINER", "STOPSIGNAL", "ONBUILD",
                   "SHELL", "VOLUME"})
# ``file:<sha> in /dest``, after flags (the legacy builder glues ``--chown=1:1file:...``)
_LEGACY_COPY = re.compile(r"^(?:--\S+?(?:\s+|(?=(?:file|dir|multi):)))*(file|dir|multi)?:?"
                          r"[0-9a-f]{16,}\s+in\s")
WHY = ("the image's history does not match the Dockerfile's final stage: {what}; nothing is "
       "attributed to its lines (is it the Dockerfile, the --target and the --build-arg "
       "values that built this image?)")


def _line(ins: Instruction) -> str:
    return f"line {ins.line} ({shorten(' '.join(ins.original.split()), 50)})"


def _entry(entry: HistoryEntry) -> str:
    return shorten(" ".join(created_by_text(entry.created_by).split()), 50)


def mismatch(df: Dockerfile, instructions: Sequence[tuple[Stage, Instruction]],
             expected: Sequence[Keys], history: Sequence[HistoryEntry],
             pairs: Sequence[Pair], values: Sequence[dict[str, str]]) -> str | None:
    """The one sentence saying how ``history`` is not the record of ``instructions``
    (aligned as ``pairs``: instruction, entry, confidence), or None when it is.
    ``values`` are the variables each instruction sees, for COPY sources."""
    if not instructions or not any(_builder_shaped(h.created_by) for h in history):
        return None  # no builder we know wrote this history (an import, jib, ko): unknown
    paired = {i: (j, c) for i, j, c in pairs}
    for i, (_stage, ins) in enumerate(instructions):
        if i not in paired:
            return WHY.format(what=f"{_line(ins)} has no entry in the history")
    for i, j, confidence in pairs:
        ins = instructions[i][1]
        if confidence != "exact" and expected[i][1] and ins.keyword not in LOOSE:
            return WHY.format(what=f"{_line(ins)} is not what the history recorded there "
                                   f"({_entry(history[j])})")
        if ins.keyword in ("COPY", "ADD") and not _same_sources(df, ins, history[j],
                                                                values[i]):
            return WHY.format(what=f"{_line(ins)} copies other sources than the history "
                                   f"recorded there ({_entry(history[j])})")
    first = min(j for _, j, _ in pairs)
    made = {j for _, j, _ in pairs}
    extra = next((j for j in range(first, len(history)) if j not in made), None)
    if extra is not None:
        return WHY.format(what=f"the history's {_entry(history[extra])} is no line of "
                               "the Dockerfile")
    return None


def _builder_shaped(created_by: str) -> bool:
    """Whether a history entry has a shape a Dockerfile builder writes."""
    text = created_by.strip()
    read = parse_created_by(text)
    return read.buildkit or bool(read.shell) or "#(nop)" in text or \
        text.partition(" ")[0] in INSTRUCTIONS


def _sources(df: Dockerfile, ins: Instruction, values: dict[str, str]) -> list[str] | None:
    """The instruction's sources, expanded; None when a variable is unknown."""
    words = [w for w in ins.args if not w.startswith("--")][:-1]
    out = []
    for word in words:
        value, known = expand(word, values, df.escape)
        if not known:
            return None
        out.append(value)
    return out


def _same_sources(df: Dockerfile, ins: Instruction, entry: HistoryEntry,
                  values: dict[str, str]) -> bool:
    if ins.heredoc or any(c.isspace() for w in ins.args for c in w):
        return True
    sources = _sources(df, ins, values)
    if sources is None:
        return True
    read = parse_created_by(entry.created_by)
    legacy = _LEGACY_COPY.match(read.args.strip())
    if legacy is not None and not read.buildkit:
        if any(c in s for s in sources for c in "*?["):
            return True  # a wildcard may match one file or many
        return (legacy.group(1) == "multi") == (len(sources) > 1)
    recorded = [w for w in read.args.split() if not w.startswith("--")][:-1]
    if not read.buildkit or any("$" in w for w in recorded):
        return True
    return [_norm(s) for s in recorded] == [_norm(s) for s in sources]


def _norm(path: str) -> str:
    return path.rstrip("/") or "/"

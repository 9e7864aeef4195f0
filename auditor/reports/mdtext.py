"""Image text as GitHub-flavoured Markdown that renders as text and nothing else.

A pull-request comment is read by people who trust it, and GitHub turns much of what an
image could hold into something live: links and images (``[x](...)``, ``![](...)``), raw
HTML, autolinks (``https://``, ``www.``, e-mail addresses), ``@mentions`` that notify
someone, ``#123`` cross-references and ``:emoji:`` pictures. Two ways out, both after
:func:`~auditor.model.text.inert` (control characters shown as ``\\x1b``):

- :func:`code`: a code span, delimited by a run of backticks longer than any inside it.
  Inside one, CommonMark interprets nothing and GitHub links, mentions and emojifies
  nothing. The one thing a table still reads in a code span is ``|``, escaped as ``\\|``.
- :func:`text`: prose. The punctuation Markdown reads is backslash-escaped (inline, and
  what starts a block at the start of a line), which leaves no emphasis, link, image,
  HTML, table, math or block syntax; and since GitHub finds mentions, references, emojis
  and autolinks in the text that is left, a zero-width joiner goes after each ``@``,
  ``#`` and ``:`` that a word or a ``/`` follows, and inside ``www.``.
  Whitespace, line breaks included, collapses to single spaces.
"""

from __future__ import annotations

import re

from auditor.model.text import inert, shorten

ZWJ = "\u200d"
# What CommonMark, GFM (tables, strikethrough) and GitHub (math) read inside a line...
_INLINE = re.compile(r"([\\`*_\[\]<>!&~|$])")
# ... and at its start (headings, quotes, lists, thematic and setext lines).
_LINE_START = re.compile(r"^(\s*)([-+=>#]|\d+[.)])")
_BREAK = re.compile(r"([@#:])(?=[\w/])")
_WWW = re.compile(r"(?i)(www)\.")
_TICKS = re.compile(r"`+")


def one_line(value: str, limit: int) -> str:
    """Image text as one line of at most ``limit`` characters, controls made visible."""
    return shorten(inert(value), limit)


def text(value: str, limit: int = 500) -> str:
    """Image text as inert Markdown prose, in a table cell or out of one (a table reads
    ``\\|`` as a pipe that does not end the cell, as prose does)."""
    return escape(one_line(value, limit))


def escape(line: str) -> str:
    """One line already through :func:`inert`, as prose: punctuation escaped, mentions,
    references, emojis and autolinks broken. Its spaces are kept as they are."""
    line = _INLINE.sub(r"\\\1", _WWW.sub(rf"\1{ZWJ}.", _BREAK.sub(rf"\1{ZWJ}", line)))
    return _LINE_START.sub(lambda m: m.group(1) + m.group(2)[:-1] + "\\" + m.group(2)[-1],
                           line)


def code(value: str, limit: int = 200, *, table: bool = False) -> str:
    """Image text as one inert code span; empty text is no span at all."""
    line = one_line(value, limit)
    if not line:
        return ""
    if table:
        line = line.replace("|", "\\|")
    fence = "`" * (max((len(run) for run in _TICKS.findall(line)), default=0) + 1)
    if line.startswith(("`", " ")) or line.endswith(("`", " ")):
        line = f" {line} "  # CommonMark strips one space on each side, and only that
    return f"{fence}{line}{fence}"


def fence_for(lines: list[str]) -> str:
    """A code fence no line of the block can close: longer than any backtick run."""
    longest = max((len(run) for line in lines for run in _TICKS.findall(line)), default=0)
    return "`" * max(3, longest + 1)

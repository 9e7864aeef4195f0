"""Path globs for image paths, compiled once into one regular expression per use.

``*`` and ``?`` stay inside one path component, ``**`` spans components (``/a/**/b``
matches ``/a/b`` too), ``[...]`` is a character class. A pattern with no ``/`` matches a
base name anywhere, as in .gitignore, so ``*.pem`` finds every PEM file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable


def glob_to_regex(pattern: str) -> str:
    if "/" not in pattern:
        pattern = "/**/" + pattern
    elif not pattern.startswith("/"):
        pattern = "/" + pattern
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if pattern.startswith("/**/", i):
            out.append("(?:/|/.*/)")
            i += 4
        elif pattern.startswith("/**", i) and i + 3 == n:
            out.append("(?:/.*)?")
            i += 3
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            end = pattern.find("]", i + 2 if pattern[i + 1:i + 2] in ("!", "^") else i + 1)
            if end < 0:
                raise ValueError(f"unclosed '[' in glob {pattern!r}")
            body = pattern[i + 1:end]
            if body[:1] in ("!", "^"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end + 1
        else:
            out.append(re.escape(c))
            i += 1
    return "".join(out)


def compile_globs(patterns: Iterable[str]) -> re.Pattern[str]:
    """One regex matching any of the patterns (never matches when there are none)."""
    parts = [glob_to_regex(p) for p in patterns]
    if not parts:
        return re.compile(r"(?!)")
    return re.compile("(?:" + "|".join(parts) + r")\Z", re.DOTALL)


def glob_match(pattern: str, path: str) -> bool:
    return compile_globs([pattern]).match(path) is not None

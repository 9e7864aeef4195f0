"""Validation of one parsed policy file: read values out of it, or raise a PolicyError
sentence naming the file, the key and (best effort) the line that sets it.

tomllib reports lines for syntax errors only; for a bad value the line is found by
scanning for the key under its table header, which covers the way people write policy
files (tables and dotted keys), and says nothing rather than something wrong otherwise.
"""

from __future__ import annotations

import difflib
import math
import re
from datetime import date, datetime
from typing import Any, TypeVar

from auditor.errors import PolicyError
from auditor.policy.model import POLICY_RULES
from auditor.read.globs import check_glob

RULE_ID = re.compile(r"AUD-[A-Z0-9]+(?:-[A-Z0-9]+)*\Z")

T = TypeVar("T")


class Checker:
    """Reads values out of one parsed file, raising PolicyError sentences that name it."""

    def __init__(self, source: str, text: str) -> None:
        self.source = source
        self.text = text

    def fail(self, key: str, problem: str) -> PolicyError:
        line = locate(self.text, key)
        where = f" (line {line})" if line else ""
        return PolicyError(f"policy {self.source}: key `{key}`{where} {problem}")

    def table(self, value: Any, key: str, allowed: tuple[str, ...],
              what: str = "a policy key") -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a table, not {kind_of(value)}")
        for k in value:
            if k not in allowed:
                full = f"{key}.{k}" if key else k
                hint = did_you_mean(k, allowed) or f" (expected one of: {', '.join(allowed)})"
                raise self.fail(full, f"is not {what}{hint}")
        return value

    def typed(self, value: Any, key: str, kind: type[T], word: str) -> T:
        if (kind in (int, float) and isinstance(value, bool)) or not isinstance(value, kind):
            raise self.fail(key, f"must be {word}, not {kind_of(value)}")
        return value

    def text_(self, value: Any, key: str) -> str:
        return self.typed(value, key, str, "a string")

    def word(self, value: Any, key: str, words: tuple[str, ...]) -> str:
        text = self.text_(value, key)
        if text not in words:
            raise self.fail(key, f"must be one of {', '.join(words)}, not {text!r}"
                            + did_you_mean(text, words))
        return text

    def number(self, value: Any, key: str, low: float, high: float | None = None) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(key, f"must be a number, not {kind_of(value)}")
        if isinstance(value, float) and not math.isfinite(value):  # an int is always finite
            raise self.fail(key, f"must be a finite number, not {value}")
        if value < low or (high is not None and value > high):
            bound = (f"from {_show(low)} to {_show(high)}" if high is not None
                     else f"at least {_show(low)}")
            raise self.fail(key, f"must be {bound}, not {value}")
        return value

    def globs(self, value: Any, key: str, what: str = "path glob") -> tuple[str, ...]:
        items = self.strings(value, key)
        for i, pattern in enumerate(items):
            self.glob(pattern, f"{key}[{i}]", what)
        return items

    def glob(self, pattern: str, key: str, what: str = "path glob") -> str:
        """``pattern`` checked by the compiler that later matches it (``what``: path glob,
        or name glob for package names)."""
        try:
            check_glob(pattern)
        except ValueError as exc:
            raise self.fail(key, f"is not a valid {what} ({pattern!r}: {exc})") from None
        return pattern

    def strings(self, value: Any, key: str) -> tuple[str, ...]:
        if not isinstance(value, list):
            raise self.fail(key, f"must be a list of strings, not {kind_of(value)}")
        return tuple(self.text_(v, f"{key}[{i}]") for i, v in enumerate(value))

    def date_(self, value: Any, key: str) -> date:
        if isinstance(value, str):
            try:
                return date.fromisoformat(value)
            except ValueError:
                raise self.fail(key, f"must be a date like 2025-06-30, not {value!r}") from None
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        raise self.fail(key, f"must be a date like 2025-06-30, not {kind_of(value)}")

    def rule_id(self, value: Any, key: str) -> str:
        from auditor.detectors import iter_rules

        rule = self.text_(value, key)
        known = [*POLICY_RULES, *(r.id for r in iter_rules())]
        if not RULE_ID.match(rule):
            raise self.fail(key, f"must be a rule id like AUD-SHELL, not {rule!r}")
        if rule not in known:
            raise self.fail(key, f"names rule {rule}, which no detector or policy reports"
                            + did_you_mean(rule, known))
        return rule


def kind_of(value: Any) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string",
             list: "a list", dict: "a table", date: "a date", datetime: "a date-time"}
    return f"{names.get(type(value), type(value).__name__)} ({_short(value)})"


def _show(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else str(bound)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def did_you_mean(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


_HEADER = re.compile(r"\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?\Z")
_ASSIGN = re.compile(r"\s*([A-Za-z0-9_.\"'\- ]+?)\s*=")


def locate(text: str, key: str) -> int | None:
    """Best effort: the line that sets ``key`` (``a.b[2].c``), or its table's header line;
    None when the shape is too unusual to tell (inline tables, quoted keys)."""
    parts = [p for p in re.split(r"\.(?![^\[]*\])|(?=\[)", key) if p]
    want: list[str] = []
    index: dict[str, int] = {}
    for p in parts:
        m = re.fullmatch(r"\[(\d+)\]", p)
        if m and want:
            index[".".join(want)] = int(m[1])
        else:
            want.append(p)
    table: list[str] = []
    seen: dict[str, int] = {}
    header_line, header_depth = None, 0
    for number, line in enumerate(text.splitlines(), 1):
        h = _HEADER.match(line)
        if h:
            table = [s.strip().strip("\"'") for s in h[2].split(".")]
            name = ".".join(table)
            if h[1] == "[[":
                seen[name] = seen.get(name, -1) + 1
            if _matches(table, want, index, seen) and len(table) > header_depth:
                header_line, header_depth = number, len(table)
            continue
        a = _ASSIGN.match(line)
        if a:
            full = table + [s.strip().strip("\"'") for s in a[1].split(".")]
            # a prefix of the key: its value (an inline table or a list) holds the key
            if len(full) <= len(want) and _matches(full, want, index, seen):
                return number
    return header_line


def _matches(have: list[str], want: list[str], index: dict[str, int], seen: dict[str, int]) -> bool:
    """Whether ``have`` is ``want`` or a prefix of it, in the wanted [[array]] element."""
    if have != want[:len(have)]:
        return False
    for i in range(1, len(have) + 1):
        name = ".".join(have[:i])
        if name in index and name in seen and seen[name] != index[name]:
            return False
    return True

"""Words and numbers as people read them; shared by detectors and reports."""

from __future__ import annotations

import re


def human_bytes(n: int) -> str:
    """Sizes as docker shows them (decimal units), so users can compare at a glance."""
    value = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{n} B"  # pragma: no cover


def shorten(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def printable(text: str) -> str:
    """Valid Unicode for any name: bytes that are not UTF-8 show as ``\\xff``, and a lone
    surrogate (a JSON string may hold ``"\\ud800"``) as ``\\ud800``."""
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raw = _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text).encode(
            "utf-8", "surrogateescape")
    return raw.decode("utf-8", "backslashreplace")


# Surrogates that surrogateescape cannot turn back into a byte (it owns U+DC80..U+DCFF).
_LONE_SURROGATE = re.compile("[\ud800-\udc7f\udd00-\udfff]")


_BIDI = {*range(0x202A, 0x202F), *range(0x2066, 0x206A)}
_ESCAPES = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F, *range(0x80, 0xA0))}
_ESCAPES.update({c: f"\\u{c:04x}" for c in _BIDI})


def inert(text: str) -> str:
    """Image text made safe for a screen: control, C1 and bidi-override characters shown
    as ``\\x1b``-style escapes, bytes that are not UTF-8 as ``\\xff``. Rich markup is not
    this function's business: pass the result as a ``rich.text.Text``, never a str."""
    return printable(text).translate(_ESCAPES)

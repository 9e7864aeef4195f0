"""Words and numbers as people read them; shared by detectors and reports."""

from __future__ import annotations


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
    """Valid Unicode for any name: bytes that are not UTF-8 show as ``\\xff``."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")

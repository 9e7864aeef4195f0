"""Report formats: a closed set, one module each, every one a ``write(report, stream, opts)``."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from auditor.model.text import human_bytes, shorten

if TYPE_CHECKING:
    from auditor.model.result import Report

# Light on imports: the command line's parser names FORMATS before it asks the engine for a
# save (``engine_wire.start_early``); the model and the writers load after.
__all__ = ["FORMATS", "WriteOptions", "formats", "human_bytes", "shorten", "writer"]


@dataclass(frozen=True, slots=True)
class WriteOptions:
    color: bool = False
    width: int | None = None
    quiet: bool = False


Writer = Callable[["Report", TextIO, WriteOptions], None]


# Each format's module (auditor.reports.NAME) is imported only when that format is written:
# the terminal report needs rich and SARIF needs sarif-om, which a JSON report does not.
FORMATS = ("terminal", "json", "sarif", "markdown", "codequality", "junit", "cyclonedx",
           "html")


def writer(name: str) -> Writer:
    """The ``write`` of format ``name`` (one of ``FORMATS``)."""
    if name not in FORMATS:
        raise KeyError(name)
    write: Writer = importlib.import_module(f"auditor.reports.{name}").write
    return write


def formats() -> dict[str, Writer]:
    return {name: writer(name) for name in FORMATS}

"""The errors a user sees: each one is a sentence, caught once in cli.main (exit code 2)."""

from __future__ import annotations


class AuditorError(Exception):
    """A fatal error: the scan cannot run. ``str()`` is the sentence for the user."""

    tip: str | None = None

    def __init__(self, message: str, tip: str | None = None) -> None:
        super().__init__(message)
        if tip is not None:
            self.tip = tip


class UsageError(AuditorError):
    """The command line asks for something that cannot be done."""


class SourceError(AuditorError):
    """The image source cannot be read: unknown image, missing path, unreachable engine."""


class EngineUnreachable(SourceError):
    tip = "start a Docker Engine, or point DOCKER_HOST at one: DOCKER_HOST=unix:///path/docker.sock"


class ImageNotFound(SourceError):
    """The engine, archive or layout has no image by that name."""


class FormatError(AuditorError):
    """The input is not an image, or is corrupt, truncated or hostile."""


class DigestMismatch(FormatError):
    """A blob's content does not match the digest that names it."""


class UnsupportedMediaType(FormatError):
    """A manifest names a layer or config type that auditor cannot read."""


class PolicyError(AuditorError):
    """A policy file is missing or invalid."""

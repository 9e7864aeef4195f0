"""What can go wrong talking to a registry: each a one-line sentence (exit 2)."""

from __future__ import annotations

from auditor.errors import ImageNotFound, SourceError


class RegistryError(SourceError):
    """The registry could not be read: unreachable, refused, or stopped mid-answer."""


class Unauthorized(RegistryError):
    """The registry refused the credentials (or their absence)."""


class TLSFailure(RegistryError):
    """The registry's certificate is not trusted, or TLS failed."""


class UnknownImage(ImageNotFound):
    """The registry has no such repository, tag or digest."""

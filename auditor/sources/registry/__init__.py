"""``registry:HOST[:PORT]/REPO[:TAG|@DIGEST]``: images read from a registry, no daemon.

The modules: ``reference`` (names), ``credentials`` (docker and podman credential
files and helpers), ``auth`` (the challenge and the token flow), ``tls`` (trust,
certs.d), ``client`` (HTTP: retries, redirects, streamed bodies), ``source`` (manifests,
indexes, blobs into the layer reader). The command line sets :data:`SETTINGS` once.
"""

from __future__ import annotations

from auditor.model.image import Image
from auditor.sources.common import ScanOptions
from auditor.sources.registry.client import Settings
from auditor.sources.registry.reference import parse_reference

SETTINGS: list[Settings] = [Settings()]  # the last one wins; the command line appends


def configure(settings: Settings) -> None:
    SETTINGS.append(settings)


def announce(line: str) -> None:
    """One line on stderr for the user, unless the command line said -q."""
    if SETTINGS[-1].announce:
        import sys

        print(line, file=sys.stderr)


def open_registry_image(name: str, options: ScanOptions) -> Image:
    """The image ``name`` (``HOST[:PORT]/REPO[:TAG|@DIGEST]``) names, from its registry."""
    from auditor.sources.registry.source import open_registry_image as read

    return read(parse_reference(name), "registry", options, SETTINGS[-1])


__all__ = ["Settings", "announce", "configure", "open_registry_image"]

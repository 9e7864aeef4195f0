"""``registry:HOST[:PORT]/REPO[:TAG|@DIGEST]``: images read from a registry, no daemon.

The modules: ``reference`` (names), ``credentials`` (docker and podman credential
files and helpers), ``auth`` (the challenge and the token flow), ``tls`` (trust,
certs.d), ``client`` (HTTP: retries, redirects, streamed bodies), ``source`` (manifests,
indexes, blobs into the layer reader). The command line's flags are in
:mod:`auditor.source_flags`.
"""

from __future__ import annotations

from auditor import source_flags
from auditor.model.image import Image
from auditor.sources.common import ScanOptions
from auditor.sources.registry.reference import parse_reference


def open_registry_image(name: str, options: ScanOptions) -> Image:
    """The image ``name`` (``HOST[:PORT]/REPO[:TAG|@DIGEST]``) names, from its registry."""
    from auditor.sources.registry.source import open_registry_image as read

    return read(parse_reference(name), "registry", options, source_flags.REGISTRY[-1])


__all__ = ["open_registry_image"]

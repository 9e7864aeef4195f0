"""Which certificates to trust for a registry, as docker and podman choose them.

The system roots, plus ``--ca-cert``, plus every ``*.crt`` in ``certs.d/HOST/`` of docker
(``/etc/docker/certs.d``) and podman (``/etc/containers/certs.d``); a ``*.cert`` with its
``*.key`` there is a client certificate. ``--insecure`` alone turns verification off.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass

from auditor.errors import UsageError

CERTS_DIRS = ["/etc/docker/certs.d", "/etc/containers/certs.d"]


@dataclass(frozen=True, slots=True)
class TrustChoice:
    context: ssl.SSLContext
    verify: bool
    extra_roots: tuple[str, ...]  # the files added to the system roots, for error messages


def _certs_d_files(host: str) -> tuple[list[str], list[tuple[str, str]]]:
    roots: list[str] = []
    clients: list[tuple[str, str]] = []
    for base in CERTS_DIRS:
        folder = os.path.join(base, host)  # HOST:PORT, as docker names the folder
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            continue
        for name in names:
            path = os.path.join(folder, name)
            if name.endswith(".crt"):
                roots.append(path)
            elif name.endswith(".cert"):
                key = path[: -len(".cert")] + ".key"
                if os.path.exists(key):
                    clients.append((path, key))
    return roots, clients


def trust_for(host: str, ca_cert: str | None, insecure: bool) -> TrustChoice:
    context = ssl.create_default_context()
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    roots, clients = _certs_d_files(host)
    if ca_cert:
        roots.insert(0, ca_cert)
    for path in roots:
        try:
            context.load_verify_locations(cafile=path)
        except (OSError, ssl.SSLError) as exc:
            raise UsageError(f"cannot load CA certificate {path}: {exc}") from None
    for cert, key in clients:
        try:
            context.load_cert_chain(cert, key)
        except (OSError, ssl.SSLError) as exc:
            raise UsageError(f"cannot load client certificate {cert}: {exc}") from None
    return TrustChoice(context, not insecure, tuple(roots))

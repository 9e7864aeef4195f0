"""Image references as the docker CLI reads them: ``[HOST[:PORT]/]REPO[:TAG][@DIGEST]``."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from auditor.errors import UsageError

DOCKER_HUB = "docker.io"
# Docker Hub's API host and the key its credentials are stored under (docker CLI habit).
DOCKER_HUB_API = "registry-1.docker.io"
DOCKER_HUB_AUTH_KEY = "https://index.docker.io/v1/"

_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_TAG = re.compile(r"[\w][\w.-]{0,127}")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128}")


@dataclass(frozen=True, slots=True)
class Reference:
    """One image in one registry: ``host`` as written (with its port), ``repository``
    as the API names it, and a tag or a digest (a digest wins when both are given)."""

    host: str
    repository: str
    tag: str | None
    digest: str | None

    @property
    def api_host(self) -> str:
        return DOCKER_HUB_API if self.host == DOCKER_HUB else self.host

    @property
    def credential_key(self) -> str:
        """The server name credential stores and helpers know this registry by."""
        return DOCKER_HUB_AUTH_KEY if self.host == DOCKER_HUB else self.host

    @property
    def manifest_ref(self) -> str:
        return self.digest or self.tag or "latest"

    def __str__(self) -> str:
        text = f"{self.host}/{self.repository}"
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def _looks_like_host(first: str) -> bool:
    # docker's rule: the first component is a registry when it has a dot or a port, or is
    # localhost; anything else is a Docker Hub namespace
    return "." in first or ":" in first or first == "localhost" or first.startswith("[")


def parse_reference(text: str) -> Reference:
    """``registry:`` references; a bare name means Docker Hub, ``library/`` for one part."""
    name, at, digest = text.partition("@")
    if at and not _DIGEST.fullmatch(digest):
        raise UsageError(f"{text!r}: the digest must be sha256:<64 hex digits>")
    tag = None
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name, _, tag = name.rpartition(":")
        if not _TAG.fullmatch(tag):
            raise UsageError(f"{text!r}: {tag!r} is not a valid tag")
    first, slash, rest = name.partition("/")
    if slash and _looks_like_host(first):
        host, path = first, rest
    else:
        host, path = DOCKER_HUB, name
        if "/" not in path:
            path = "library/" + path
    if not path or not all(_COMPONENT.fullmatch(part) for part in path.split("/")):
        raise UsageError(f"{text!r} is not an image reference "
                         "(HOST[:PORT]/REPOSITORY[:TAG|@sha256:DIGEST])")
    return Reference(host, path, tag, digest or None)


def is_loopback(host: str) -> bool:
    """``localhost``, 127.0.0.0/8 and ::1, with or without a port: the registries that
    docker lets speak plain HTTP without being told."""
    name = host
    if name.startswith("["):
        name = name[1:].partition("]")[0]
    elif name.count(":") == 1:
        name = name.partition(":")[0]
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False

"""Where a registry's credentials come from, in the order docker and podman look.

``--username``/``--password-stdin`` first; then ``REGISTRY_AUTH_FILE`` when set; then the
docker CLI's ``$DOCKER_CONFIG/config.json`` (``credHelpers`` for this host, else
``credsStore``, else ``auths``), helpers run as the docker CLI runs them (``get``, the
server on stdin) through the ``docker`` package's credential-store support; then podman's
``${XDG_RUNTIME_DIR}/containers/auth.json`` and ``~/.config/containers/auth.json``.
A credential's secret is never printed: only where it came from (``source``).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import warnings
from dataclasses import dataclass, field
from typing import Any

from auditor.errors import UsageError


@dataclass(frozen=True, slots=True)
class Credential:
    username: str
    secret: str = field(repr=False)
    source: str  # where it came from, for the one line the user sees
    identity_token: bool = False  # an OAuth2 refresh token, not a password


@dataclass
class Lookup:
    """The credential found (or None) and every place that was asked, for messages."""

    credential: Credential | None = None
    tried: list[str] = field(default_factory=list)

    def describe(self) -> str:
        if self.credential is not None:
            return f"credentials from {self.credential.source}"
        return "no credentials found (looked in " + (", ".join(self.tried) or "nothing") + ")"


def _strip_server(key: str) -> str:
    for scheme in ("https://", "http://"):
        key = key.removeprefix(scheme)
    return key.split("/", 1)[0]


def _server_names(server: str) -> set[str]:
    names = {_strip_server(server)}
    if names & {"index.docker.io", "docker.io", "registry-1.docker.io"}:
        names |= {"index.docker.io", "docker.io", "registry-1.docker.io"}
    return names


def _read_json(path: str) -> dict[str, Any] | None:
    try:
        with open(path, "rb") as fh:
            doc = json.loads(fh.read(1 << 20))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read credentials file {path}: {exc}") from None
    if not isinstance(doc, dict):
        raise UsageError(f"credentials file {path} is not a JSON object")
    return doc


def _from_auths(doc: dict[str, Any], server: str, source: str) -> Credential | None:
    auths = doc.get("auths")
    if not isinstance(auths, dict):
        return None
    names = _server_names(server)
    for key, entry in auths.items():
        if not isinstance(entry, dict) or _strip_server(str(key)) not in names:
            continue
        if isinstance(entry.get("identitytoken"), str) and entry["identitytoken"]:
            return Credential("", entry["identitytoken"], source, identity_token=True)
        user, secret = entry.get("username"), entry.get("password")
        if isinstance(entry.get("auth"), str) and entry["auth"]:
            try:
                user, _, secret = base64.b64decode(entry["auth"]).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                raise UsageError(f"{source}: the 'auth' entry for {key} is not "
                                 "base64 user:password") from None
        if isinstance(user, str) and isinstance(secret, str) and user:
            return Credential(user, secret, source)
    return None


def _from_helper(helper: str, server: str, source: str) -> Credential | None:
    from docker.credentials import Store
    from docker.credentials.errors import CredentialsNotFound, StoreError

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a missing helper is reported by get() below
        store = Store(helper)
    try:
        found = store.get(server)  # type: ignore[no-untyped-call]
    except CredentialsNotFound:
        return None
    except StoreError as exc:
        raise UsageError(f"credential helper docker-credential-{helper} failed for "
                         f"{server}: {str(exc).splitlines()[0] if str(exc) else 'error'}"
                         ) from None
    except ValueError:
        raise UsageError(f"credential helper docker-credential-{helper} answered no JSON"
                         ) from None
    user, secret = str(found.get("Username", "")), str(found.get("Secret", ""))
    if user == "<token>":  # the helpers' convention for an identity token
        return Credential("", secret, source, identity_token=True)
    return Credential(user, secret, source)


def _docker_config(server: str, lookup: Lookup) -> Credential | None:
    folder = os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"),
                                                             ".docker")
    path = os.path.join(folder, "config.json")
    doc = _read_json(path)
    lookup.tried.append(path)
    if doc is None:
        return None
    helpers = doc.get("credHelpers")
    names = _server_names(server)
    if isinstance(helpers, dict):
        for key, helper in helpers.items():
            if _strip_server(str(key)) in names and isinstance(helper, str):
                return _from_helper(helper, server,
                                    f"docker-credential-{helper} (credHelpers in {path})")
    if isinstance(doc.get("credsStore"), str) and doc["credsStore"]:
        helper = doc["credsStore"]
        return _from_helper(helper, server, f"docker-credential-{helper} (credsStore in {path})")
    return _from_auths(doc, server, f"auths in {path}")


def _podman_files() -> list[str]:
    files = []
    if os.environ.get("XDG_RUNTIME_DIR"):
        files.append(os.path.join(os.environ["XDG_RUNTIME_DIR"], "containers", "auth.json"))
    files.append(os.path.join(os.path.expanduser("~"), ".config", "containers", "auth.json"))
    return files


def find_credential(server: str, username: str | None = None,
                    password: str | None = None) -> Lookup:
    """The first credential for ``server`` (a host[:port], or Docker Hub's key)."""
    lookup = Lookup()
    if username is not None:
        lookup.credential = Credential(username, password or "", "--username/--password-stdin")
        return lookup
    auth_file = os.environ.get("REGISTRY_AUTH_FILE")
    if auth_file:
        lookup.tried.append(f"REGISTRY_AUTH_FILE={auth_file}")
        doc = _read_json(auth_file)
        if doc is not None:
            lookup.credential = _from_auths(doc, server, f"REGISTRY_AUTH_FILE={auth_file}")
            if lookup.credential:
                return lookup
    lookup.credential = _docker_config(server, lookup)
    if lookup.credential:
        return lookup
    for path in _podman_files():
        lookup.tried.append(path)
        doc = _read_json(path)
        if doc is not None:
            lookup.credential = _from_auths(doc, server, f"auths in {path}")
            if lookup.credential:
                return lookup
    return lookup

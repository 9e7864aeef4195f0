"""The registry's challenge answered as the docker CLI answers it.

No challenge: anonymous. ``Basic``: the credential, if any. ``Bearer realm=...,
service=..., scope=...``: a token from the realm (``token`` or ``access_token``), asked
with the credential as basic auth, or with an identity token as an OAuth2 refresh grant;
a 401 later brings a new challenge (another scope, an expired token) and a new token.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import Any

from auditor.sources.registry.credentials import Lookup
from auditor.sources.registry.errors import Unauthorized

_PARAM = re.compile(r'\s*([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?')


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="...",service="..."`` -> ("bearer", {realm:..., service:...})."""
    scheme, _, rest = header.strip().partition(" ")
    params = {m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3))
              .replace('\\"', '"') for m in _PARAM.finditer(rest)}
    return scheme.lower(), params


class Authenticator:
    """The Authorization header for one registry, renewed on each challenge.

    ``fetch_token(url, params, basic, form)`` asks the realm and returns its JSON answer;
    ``lookup`` finds the credential, called once, only when the registry first asks.
    """

    def __init__(self, host: str, scope: str, lookup: Callable[[], Lookup],
                 fetch_token: Callable[[str, dict[str, str], str | None,
                                        dict[str, str] | None], Any],
                 announce: Callable[[str], None]) -> None:
        self._host = host
        self._scope = scope
        self._lookup_fn = lookup
        self._lookup: Lookup | None = None
        self._fetch_token = fetch_token
        self._announce = announce
        self._header: str | None = None
        self._tries = 0

    @property
    def lookup(self) -> Lookup:
        if self._lookup is None:
            self._lookup = self._lookup_fn()
            self._announce(f"registry {self._host}: {self._lookup.describe()}")
        return self._lookup

    def headers(self) -> dict[str, str]:
        return {"Authorization": self._header} if self._header else {}

    def unauthorized(self, what: str) -> Unauthorized:
        return Unauthorized(f"registry {self._host} refused access to {what} "
                            f"({self.lookup.describe()})",
                            tip="log in with `docker login`, or pass --username and "
                            "--password-stdin")

    def answer(self, challenge: str | None, what: str) -> None:
        """A 401 came with this ``WWW-Authenticate``: make a new header or refuse."""
        self._tries += 1
        if not challenge or self._tries > 3:
            raise self.unauthorized(what)
        scheme, params = parse_challenge(challenge)
        credential = self.lookup.credential
        basic = None
        if credential is not None and not credential.identity_token:
            basic = base64.b64encode(f"{credential.username}:{credential.secret}".encode()
                                     ).decode()
        if scheme == "basic":
            if basic is None or self._header == f"Basic {basic}":
                raise self.unauthorized(what)
            self._header = f"Basic {basic}"
        elif scheme == "bearer" and params.get("realm"):
            self._header = f"Bearer {self._token(params, basic, what)}"
        else:
            raise self.unauthorized(f"{what} (unsupported challenge {scheme!r})")

    def _token(self, params: dict[str, str], basic: str | None, what: str) -> str:
        query = {"service": params["service"]} if params.get("service") else {}
        query["scope"] = params.get("scope") or self._scope
        form = None
        credential = self.lookup.credential
        if credential is not None and credential.identity_token:
            form = {"grant_type": "refresh_token", "refresh_token": credential.secret,
                    "client_id": "auditor", **query}
        answer = self._fetch_token(params["realm"], query, basic, form)
        token = None
        if isinstance(answer, dict):
            token = answer.get("token") or answer.get("access_token")
        if not isinstance(token, str) or not token:
            raise self.unauthorized(what)
        return token

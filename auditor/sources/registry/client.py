"""HTTP to one registry: scheme and trust, auth, retries, redirects, streamed blobs.

``requests`` (already installed with the ``docker`` package) carries it: it honours
HTTPS_PROXY/NO_PROXY as CD runners expect, pools connections, and its raw urllib3
response streams a body in the chunks we ask for, undecoded, while http.client underneath
checks the Content-Length. Redirects are followed here, not by requests, so that the
registry's Authorization header never goes to another host (blob storage, a CDN).
"""

from __future__ import annotations

import io
import json
import time
import urllib.parse
from typing import IO, Any

from auditor.errors import AuditorError, DigestMismatch
from auditor.source_flags import RegistrySettings as Settings
from auditor.source_flags import announce
from auditor.sources.registry.auth import Authenticator
from auditor.sources.registry.credentials import find_credential
from auditor.sources.registry.errors import RegistryError, TLSFailure, UnknownImage
from auditor.sources.registry.reference import Reference, is_loopback
from auditor.sources.registry.tls import trust_for

ATTEMPTS = 4  # each request, on 429, 5xx or a refused connection
MAX_RETRY_AFTER = 30.0  # seconds: a registry asking for longer is not waited for
MAX_REDIRECTS = 5
_RETRY_STATUS = {429, 500, 502, 503, 504}


def _retry_after(resp: Any, attempt: int) -> float:
    value = resp.headers.get("Retry-After", "")
    try:
        wait = float(value)
    except ValueError:
        wait = 0.5 * 2 ** attempt
    return min(max(wait, 0.0), MAX_RETRY_AFTER)


class RegistryClient:
    def __init__(self, ref: Reference, settings: Settings) -> None:
        import requests
        import requests.adapters

        self.ref = ref
        self.settings = settings
        self._requests = requests
        trust = trust_for(ref.host, settings.ca_cert, settings.insecure)
        self._trust = trust

        class _Adapter(requests.adapters.HTTPAdapter):
            def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
                kwargs["ssl_context"] = trust.context
                super().init_poolmanager(*args, **kwargs)

        self._session = requests.Session()
        self._session.mount("https://", _Adapter())
        self._session.headers["User-Agent"] = "auditor"
        # bodies as stored: digests, sizes and Content-Length all speak of the same bytes
        self._session.headers["Accept-Encoding"] = "identity"
        if not trust.verify:
            import urllib3

            # the user asked for it by name: no warning per request on stderr
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        self._base = ""
        self.auth = Authenticator(
            ref.host, f"repository:{ref.repository}:pull",
            lambda: find_credential(ref.credential_key, settings.username, settings.password),
            self._fetch_token, announce)

    def close(self) -> None:
        self._session.close()

    # --- the connection -------------------------------------------------------------
    def _tls_error(self, exc: BaseException) -> TLSFailure:
        text = str(exc)
        reason = "certificate verify failed" if "CERTIFICATE_VERIFY_FAILED" in text \
            else text.splitlines()[0][:160] if text else type(exc).__name__
        return TLSFailure(f"TLS with registry {self.ref.host} failed ({reason})",
                          tip=f"trust its CA with --ca-cert FILE (or put it in "
                          f"/etc/docker/certs.d/{self.ref.host}/ca.crt), or pass --insecure")

    def connect(self) -> None:
        """Ping /v2/ over HTTPS; a loopback registry (or --insecure) may answer in HTTP."""
        host = self.ref.api_host
        try:
            resp = self._raw("GET", f"https://{host}/v2/", {}, True)
            self._base = f"https://{host}"
        except TLSFailure as tls:
            if not (is_loopback(host) or self.settings.insecure):
                raise
            try:
                resp = self._raw("GET", f"http://{host}/v2/", {}, True)
            except RegistryError:
                raise tls from None
            if resp.status_code not in (200, 401):  # a TLS port answering plain HTTP: 400
                raise tls from None
            self._base = f"http://{host}"
        if resp.status_code == 401:
            self.auth.answer(resp.headers.get("WWW-Authenticate"), self.ref.repository)
        elif resp.status_code != 200 and resp.status_code != 404:
            raise RegistryError(f"{host} does not answer as a registry (GET /v2/: HTTP "
                                f"{resp.status_code})")
        resp.close()

    def _raw(self, method: str, url: str, headers: dict[str, str], stream: bool,
             **extra: Any) -> Any:
        """One request, retried on 429, 5xx and refused connections, with backoff."""
        exceptions = self._requests.exceptions
        if not self._trust.verify:
            extra["verify"] = False  # per request: REQUESTS_CA_BUNDLE would win over the session
        for attempt in range(ATTEMPTS):
            last = attempt == ATTEMPTS - 1
            try:
                resp = self._session.request(method, url, headers=headers, stream=stream,
                                             timeout=self.settings.timeout,
                                             allow_redirects=False, **extra)
            except exceptions.SSLError as exc:
                raise self._tls_error(exc) from None
            except (exceptions.ConnectionError, exceptions.Timeout) as exc:
                if last or _why(exc) == "unknown host":
                    raise RegistryError(f"cannot reach registry {self.ref.host} "
                                        f"({_why(exc)})") from None
                time.sleep(0.5 * 2 ** attempt)
                continue
            if resp.status_code in _RETRY_STATUS and not last:
                wait = _retry_after(resp, attempt)
                resp.close()
                time.sleep(wait)
                continue
            return resp
        raise AssertionError("unreachable")

    def _fetch_token(self, realm: str, query: dict[str, str], basic: str | None,
                     form: dict[str, str] | None) -> Any:
        headers = {"Authorization": f"Basic {basic}"} if basic else {}
        if form is not None:
            resp = self._raw("POST", realm, headers, True, data=form)
        else:
            resp = self._raw("GET", realm, headers, True, params=query)
        if resp.status_code in (401, 403):
            return None
        if resp.status_code != 200:
            resp.close()
            raise RegistryError(f"the token server {urllib.parse.urlsplit(realm).netloc} "
                                f"answered HTTP {resp.status_code}")
        answer = small_json(resp)
        if answer is None:
            raise RegistryError("the token server answered no JSON")
        return answer

    # --- requests to the registry ---------------------------------------------------
    def get(self, path: str, what: str, accept: str | None = None) -> Any:
        """GET ``/v2/<repo>/<path>`` with auth, following redirects; a 2xx response whose
        body is not read yet (the caller reads it, bounded), or an error."""
        if not self._base:
            self.connect()
        url = f"{self._base}/v2/{self.ref.repository}/{path}"
        registry = urllib.parse.urlsplit(url).netloc
        for _ in range(4):
            resp = self._follow(url, registry, accept)
            if resp.status_code != 401:
                break
            challenge = resp.headers.get("WWW-Authenticate")
            resp.close()
            self.auth.answer(challenge, what)
        if resp.status_code == 401:
            raise self.auth.unauthorized(what)
        if 200 <= resp.status_code < 300:
            return resp
        raise self._refusal(resp, what)

    def _follow(self, url: str, registry: str, accept: str | None) -> Any:
        for _ in range(MAX_REDIRECTS + 1):
            headers = {"Accept": accept} if accept else {}
            if urllib.parse.urlsplit(url).netloc == registry:
                headers.update(self.auth.headers())  # never to storage on another host
            resp = self._raw("GET", url, headers, True)
            if resp.status_code not in (301, 302, 303, 307, 308) or \
                    "Location" not in resp.headers:
                return resp
            url = urllib.parse.urljoin(url, resp.headers["Location"])
            resp.close()
        raise RegistryError(f"registry {self.ref.host}: too many redirects")

    def _refusal(self, resp: Any, what: str) -> AuditorError:
        codes = _error_codes(resp)
        where = f"registry {self.ref.host}"
        if "NAME_UNKNOWN" in codes:
            return UnknownImage(f"{where} has no repository {self.ref.repository!r}")
        if resp.status_code == 404 or "MANIFEST_UNKNOWN" in codes or "BLOB_UNKNOWN" in codes:
            return UnknownImage(f"{where} has no {what}")
        if resp.status_code == 403 or "DENIED" in codes:
            return self.auth.unauthorized(what)
        return RegistryError(f"{where} answered HTTP {resp.status_code} for {what}"
                             + (f" ({', '.join(sorted(codes))})" if codes else ""))

    def blob_stream(self, digest: str, size: int | None, what: str) -> IO[bytes]:
        resp = self.get(f"blobs/{digest}", what)
        sent = resp.headers.get("Content-Length")
        if size is not None and sent is not None and sent.isascii() \
                and sent.isdigit() and int(sent) != size:
            resp.close()
            raise DigestMismatch(f"registry {self.ref.host}: {what} is {sent} bytes, not the "
                                 f"{size} its descriptor says: it does not match its digest")
        return io.BufferedReader(BodyReader(resp, size, f"registry {self.ref.host}: {what}",
                                            self._requests), 1 << 20)


def small_json(resp: Any, limit: int = 1 << 20) -> Any:
    """A small JSON body read at most ``limit`` bytes far (None if larger or not JSON):
    a hostile registry's endless error page is never held in memory."""
    try:
        raw = resp.raw.read(limit + 1, decode_content=True)
        return json.loads(raw) if len(raw) <= limit else None
    except (ValueError, RecursionError, OSError):
        return None
    finally:
        resp.close()


def _error_codes(resp: Any) -> set[str]:
    doc = small_json(resp, 1 << 16)
    errors = doc.get("errors") if isinstance(doc, dict) else None
    return {str(e.get("code")) for e in errors if isinstance(e, dict)} if isinstance(
        errors, list) else set()


def _why(exc: BaseException) -> str:
    text = str(exc)
    for needle, words in (("Connection refused", "connection refused"),
                          ("timed out", "timed out"), ("Read timed out", "timed out"),
                          ("Name or service not known", "unknown host"),
                          ("Failed to resolve", "unknown host"),
                          ("Temporary failure in name resolution", "unknown host")):
        if needle in text:
            return words
    return type(exc).__name__


class BodyReader(io.RawIOBase):
    """A response body, undecoded, that fails in one sentence when the registry stops."""

    def __init__(self, resp: Any, size: int | None, what: str, requests: Any) -> None:
        self._resp = resp
        self._raw = resp.raw
        self._size = size
        self._what = what
        self._count = 0
        import urllib3.exceptions

        self._errors = (urllib3.exceptions.HTTPError, requests.exceptions.RequestException,
                        OSError)

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        try:
            data = self._raw.read(len(b), decode_content=False)
        except self._errors as exc:
            raise RegistryError(f"{self._what}: the registry stopped mid-blob after "
                                f"{self._count} bytes ({_why(exc)})") from None
        n = len(data)
        if n == 0 and self._size is not None and self._count < self._size:
            raise RegistryError(f"{self._what}: the registry stopped mid-blob after "
                                f"{self._count} of {self._size} bytes")
        b[:n] = data
        self._count += n
        return n

    def close(self) -> None:
        if not self.closed:
            self._resp.close()
        super().close()

"""A real registry on 127.0.0.1 for the tests: Debian's docker-registry (distribution
2.8), run from its binary with a config written here, plain, with TLS and htpasswd, or
with Bearer tokens from a small token server signing JWTs with a key made here. Images
are pushed with skopeo. Nothing here touches the system's registry service."""

from __future__ import annotations

import base64
import contextlib
import datetime
import hashlib
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REGISTRY_BIN = shutil.which("docker-registry") or "/usr/bin/docker-registry"
USER, PASSWORD = "auditor", "s3cret-pass"
SERVICE, ISSUER = "auditor-test-registry", "auditor-test-issuer"


def need_tools() -> None:
    """Skip without the registry or skopeo, unless CI says they must be there."""
    missing = [t for t in ("docker-registry", "skopeo", "htpasswd") if not shutil.which(t)]
    if missing:
        if os.environ.get("AUDITOR_REQUIRE_REGISTRY") == "1":
            pytest.fail(f"AUDITOR_REQUIRE_REGISTRY=1 but {', '.join(missing)} missing "
                        "(bash .ci/registry.sh installs them)")
        pytest.skip(f"{', '.join(missing)} not installed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes] | None = None,
                  log: Path | None = None) -> None:
    for _ in range(200):
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"registry exited: {log.read_text()[-2000:] if log else ''}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


class _QuietServer(http.server.ThreadingHTTPServer):
    """A test server whose client may hang up on it: the scan under test stops reading the
    moment it has its error, so a handler still writing gets a broken pipe or a reset.
    socketserver would print that traceback to stderr, where the tests look for one from
    auditor; any other error in a handler is still printed."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


def serve_in_thread(handler: type[http.server.BaseHTTPRequestHandler]
                    ) -> http.server.ThreadingHTTPServer:
    server = _QuietServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def stop_server(server: http.server.ThreadingHTTPServer) -> None:
    server.shutdown()
    server.server_close()


# --- certificates and tokens ------------------------------------------------------------
def make_ca(folder: Path) -> tuple[Path, Path, Path]:
    """A CA, and a server certificate for 127.0.0.1 it signed: (ca.crt, server.crt, key)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "auditor test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
                critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    (folder / "ca.crt").write_bytes(ca.public_bytes(pem))
    (folder / "server.crt").write_bytes(cert.public_bytes(pem))
    (folder / "server.key").write_bytes(key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return folder / "ca.crt", folder / "server.crt", folder / "server.key"


class TokenSigner:
    """RS256 JWTs with the signing certificate in ``x5c``, which distribution 2.8 checks
    against its ``rootcertbundle`` (the same self-signed certificate)."""

    def __init__(self, folder: Path) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID

        now = datetime.datetime.now(datetime.UTC)
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "auditor token signer")])
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(self._key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=2))
                .sign(self._key, hashes.SHA256()))
        self.bundle = folder / "token-root.pem"
        self.bundle.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self._x5c = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()

    def sign(self, subject: str, access: list[dict[str, Any]], ttl: int = 300) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        def b64(raw: bytes) -> str:
            return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self._x5c]}
        claims = {"iss": ISSUER, "sub": subject, "aud": SERVICE, "exp": now + ttl,
                  "nbf": now - 10, "iat": now, "jti": os.urandom(8).hex(), "access": access}
        signing_input = (b64(json.dumps(header).encode()) + "." +
                         b64(json.dumps(claims).encode()))
        sig = self._key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + b64(sig)


@dataclass
class TokenServer:
    """GET /token?service=&scope=: a token for USER:PASSWORD (basic auth), 401 without."""

    signer: TokenSigner
    port: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)
    key: str = "token"  # or access_token, as some servers answer

    def start(self) -> None:
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                import urllib.parse

                query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
                authorized = self.headers.get("Authorization") == expected
                outer.requests.append({"query": query, "authorized": authorized})
                if not authorized:
                    self.send_response(401)
                    self.end_headers()
                    return
                access = []
                for scope in query.get("scope", []):
                    kind, name, actions = scope.split(":")
                    access.append({"type": kind, "name": name, "actions": actions.split(",")})
                body = json.dumps({outer.key: outer.signer.sign(USER, access),
                                   "expires_in": 300}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = serve_in_thread(Handler)
        self.port = self._server.server_address[1]

    def stop(self) -> None:
        stop_server(self._server)


# --- the registry ---------------------------------------------------------------------
@dataclass
class Registry:
    root: Path
    mode: str  # "plain", "tls-basic" or "token"
    port: int = 0
    ca: Path | None = None
    token: TokenServer | None = None
    _proc: subprocess.Popen[bytes] | None = None
    _pushed: set[str] = field(default_factory=set)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def storage(self) -> Path:
        return self.root / "storage"

    def start(self) -> None:
        self.port = free_port()
        lines = ["version: 0.1", "log:", "  level: error", "storage:", "  filesystem:",
                 f"    rootdirectory: {self.storage}", "  delete:", "    enabled: true",
                 "http:", f"  addr: 127.0.0.1:{self.port}",
                 f"  secret: {os.urandom(8).hex()}"]
        if self.mode == "tls-basic":
            self.ca, cert, key = make_ca(self.root)
            lines += ["  tls:", f"    certificate: {cert}", f"    key: {key}"]
            htpasswd = self.root / "htpasswd"
            out = subprocess.run(["htpasswd", "-Bbn", USER, PASSWORD], check=True,
                                 capture_output=True).stdout
            htpasswd.write_bytes(out)
            lines += ["auth:", "  htpasswd:", "    realm: auditor-test", f"    path: {htpasswd}"]
        elif self.mode == "token":
            self.token = TokenServer(TokenSigner(self.root))
            self.token.start()
            lines += ["auth:", "  token:",
                      f"    realm: http://127.0.0.1:{self.token.port}/token",
                      f"    service: {SERVICE}", f"    issuer: {ISSUER}",
                      f"    rootcertbundle: {self.token.signer.bundle}"]
        config = self.root / "config.yml"
        config.write_text("\n".join(lines) + "\n")
        log = self.root / "registry.log"
        self._proc = subprocess.Popen([REGISTRY_BIN, "serve", str(config)],
                                      stdout=log.open("wb"), stderr=subprocess.STDOUT)
        wait_for_port(self.port, self._proc, log)

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self.token is not None:
            self.token.stop()

    # --- pushing and reading, as a client with full rights -------------------------
    def tls_flags(self, prefix: str) -> list[str]:
        if self.mode == "tls-basic":
            assert self.ca is not None
            return [f"--{prefix}-cert-dir={self.ca.parent}/skopeo-certs"]
        return [f"--{prefix}-tls-verify=false"]

    def push(self, archive: str, repo: str, fmt: str = "v2s2",
             compress: str | None = None) -> str:
        """Push once per session; the reference as the registry: source names it."""
        if repo in self._pushed:
            return f"registry:{self.host}/{repo}"
        cmd = ["skopeo", "copy", "--quiet", "--format", fmt, *self.tls_flags("dest")]
        if self.mode != "plain":
            cmd.append(f"--dest-creds={USER}:{PASSWORD}")
        if compress:
            cmd += ["--dest-compress", f"--dest-compress-format={compress}"]
        cmd += [f"docker-archive:{archive}", f"docker://{self.host}/{repo}"]
        subprocess.run(cmd, check=True, capture_output=True, timeout=600)
        self._pushed.add(repo)
        return f"registry:{self.host}/{repo}"

    def prepare_skopeo_certs(self) -> None:
        if self.ca is not None:
            folder = self.ca.parent / "skopeo-certs"
            folder.mkdir(exist_ok=True)
            shutil.copy(self.ca, folder / "ca.crt")

    def api(self, method: str, path: str, body: bytes | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        """One request with full rights (plain registries only)."""
        import http.client

        assert self.mode == "plain"
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, dict(resp.headers), resp.read()
        finally:
            conn.close()

    def manifest(self, repo: str, ref: str) -> tuple[bytes, str]:
        accept = ("application/vnd.oci.image.manifest.v1+json, "
                  "application/vnd.docker.distribution.manifest.v2+json")
        status, _headers, body = self.api("GET", f"/v2/{repo}/manifests/{ref}",
                                         headers={"Accept": accept})
        assert status == 200, body
        return body, "sha256:" + hashlib.sha256(body).hexdigest()

    def blob_file(self, digest: str) -> Path:
        hexpart = digest.partition(":")[2]
        return (self.storage / "docker/registry/v2/blobs/sha256" / hexpart[:2] / hexpart
                / "data")


@contextlib.contextmanager
def running(root: Path, mode: str) -> Iterator[Registry]:
    registry = Registry(root, mode)
    registry.start()
    registry.prepare_skopeo_certs()
    try:
        yield registry
    finally:
        registry.stop()

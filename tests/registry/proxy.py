"""A small HTTP server in front of a plain test registry that misbehaves on purpose:
``cut`` closes the connection partway through every layer blob (``stall`` goes
silent there instead), ``redirect`` sends blob
requests to "storage" on another host name (``localhost`` instead of ``127.0.0.1``) and
records the headers that storage saw, ``busy`` answers 429 or 503 with Retry-After first."""

from __future__ import annotations

import contextlib
import http.client
import http.server
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.registry.kit import Registry, serve_in_thread, stop_server

HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}


@dataclass
class Proxy:
    upstream_port: int
    storage: Path  # the registry's storage root, for the redirect target
    mode: str  # "cut", "redirect", "busy"
    cut_after: int = 64 * 1024
    stall_seconds: float = 12.0  # well past the --timeout the test gives
    busy_answers: list[int] = field(default_factory=lambda: [429, 503])
    storage_headers: list[dict[str, str]] = field(default_factory=list)
    registry_headers: list[dict[str, str]] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)
    port: int = 0

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                outer.handle(self)

        self._server = serve_in_thread(Handler)
        self.port = self._server.server_address[1]

    def stop(self) -> None:
        stop_server(self._server)

    def handle(self, req: http.server.BaseHTTPRequestHandler) -> None:
        self.seen.append(req.path)
        if req.path.startswith("/storage/"):
            self._serve_storage(req)
            return
        if self.mode == "busy" and self.busy_answers and "/manifests/" in req.path:
            req.send_response(self.busy_answers.pop(0))
            req.send_header("Retry-After", "1")
            req.send_header("Content-Length", "0")
            req.end_headers()
            return
        is_blob = "/blobs/" in req.path
        if self.mode == "redirect" and is_blob:
            digest = req.path.rsplit("/", 1)[1]
            req.send_response(307)
            req.send_header("Location", f"http://localhost:{self.port}/storage/{digest}")
            req.send_header("Content-Length", "0")
            req.end_headers()
            return
        self._forward(req, cut=self.mode in ("cut", "stall") and is_blob)

    def _forward(self, req: http.server.BaseHTTPRequestHandler, cut: bool) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=30)
        headers = {k: v for k, v in req.headers.items() if k.lower() not in HOP | {"host"}}
        self.registry_headers.append(headers)
        conn.request("GET", req.path, headers=headers)
        resp = conn.getresponse()
        body = resp.read()
        conn.close()
        req.send_response(resp.status)
        for key, value in resp.getheaders():
            if key.lower() not in HOP:
                req.send_header(key, value)
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        if cut and len(body) > self.cut_after:
            req.wfile.write(body[: self.cut_after])
            req.wfile.flush()
            if self.mode == "stall":  # then silence, the connection open
                time.sleep(self.stall_seconds)
            req.close_connection = True
            return
        req.wfile.write(body)

    def _serve_storage(self, req: http.server.BaseHTTPRequestHandler) -> None:
        self.storage_headers.append(dict(req.headers.items()))
        hexpart = req.path.rsplit(":", 1)[-1]
        path = self.storage / "docker/registry/v2/blobs/sha256" / hexpart[:2] / hexpart / "data"
        body = path.read_bytes()
        req.send_response(200)
        req.send_header("Content-Type", "application/octet-stream")
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        req.wfile.write(body)


@contextlib.contextmanager
def proxied(registry: Registry, mode: str) -> Iterator[Proxy]:
    """A proxy in ``mode`` in front of ``registry`` (plain HTTP ones)."""
    proxy = Proxy(registry.port, registry.storage, mode)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()

"""Credentials and trust against real registries: TLS from a CA made here with htpasswd
basic auth, and Bearer tokens from a token server signing JWTs with a key made here."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import pytest

from auditor.cli import main
from auditor.sources.registry import tls
from tests.registry.kit import PASSWORD, SERVICE, USER, Registry
from tests.registry.proxy import proxied


def run(argv: list[str], capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch, stdin: str | None = None) -> tuple[int, str, str]:
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(argv)
    out, err = capsys.readouterr()
    assert PASSWORD not in out + err  # never a credential in any output
    return code, out, err


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty home for credentials: no config.json, no auth.json, no certs.d."""
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setattr(tls, "CERTS_DIRS", [str(tmp_path / "certs.d")])
    return tmp_path


def test_tls_unknown_ca_names_the_flag(tls_registry: Registry, no_credentials: Path,
                                       capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    code, _out, err = run(["ls", f"registry:{tls_registry.host}/busybox:v1"], capsys,
                          monkeypatch)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "certificate verify failed" in err and "--ca-cert" in err and "--insecure" in err


def test_basic_auth_with_username_and_password_stdin(
        tls_registry: Registry, no_credentials: Path, capsys: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = run(["ls", f"registry:{tls_registry.host}/busybox:v1", "--ca-cert",
                          str(tls_registry.ca), "--username", USER, "--password-stdin"],
                         capsys, monkeypatch, stdin=PASSWORD + "\n")
    assert code == 0, err
    assert "/bin/busybox" in out
    assert err.strip() == (f"registry {tls_registry.host}: credentials from "
                           "--username/--password-stdin")
    code, _out, err = run(["scan", "-q", f"registry:{tls_registry.host}/busybox:v1",
                           "--ca-cert", str(tls_registry.ca), "--username", USER,
                           "--password-stdin"], capsys, monkeypatch, stdin=PASSWORD + "\n")
    assert code in (0, 1) and "credentials from" not in err  # -q: the verdict line alone


def test_no_or_wrong_credentials_are_refused_naming_the_source(
        tls_registry: Registry, no_credentials: Path, capsys: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    source = f"registry:{tls_registry.host}/busybox:v1"
    code, _out, err = run(["ls", source, "--ca-cert", str(tls_registry.ca)], capsys,
                          monkeypatch)
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2 and len(errors) == 1 and "refused" in errors[0]
    assert "no credentials found" in errors[0] and "config.json" in errors[0]
    code, _out, err = run(["ls", source, "--ca-cert", str(tls_registry.ca), "--username", USER,
                           "--password-stdin"], capsys, monkeypatch, stdin="wrong\n")
    assert code == 2 and "refused" in err and "--username/--password-stdin" in err


def test_certs_d_and_a_credential_helper(tls_registry: Registry, no_credentials: Path,
                                         capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """docker's certs.d/HOST/ca.crt is trusted; credHelpers runs docker-credential-NAME
    `get` with the server on stdin, as the docker CLI does."""
    certs = no_credentials / "certs.d" / tls_registry.host
    certs.mkdir(parents=True)
    assert tls_registry.ca is not None
    (certs / "ca.crt").write_bytes(tls_registry.ca.read_bytes())
    bindir = no_credentials / "bin"
    bindir.mkdir()
    asked = no_credentials / "asked"
    helper = bindir / "docker-credential-auditortest"
    helper.write_text("#!/bin/sh\n"
                      f'[ "$1" = get ] || exit 1\ncat > {asked}\n'
                      f'echo \'{{"ServerURL":"x","Username":"{USER}","Secret":"{PASSWORD}"}}\'\n')
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{__import__('os').environ['PATH']}")
    config = no_credentials / "docker"
    config.mkdir()
    (config / "config.json").write_text(json.dumps(
        {"auths": {tls_registry.host: {}}, "credHelpers": {tls_registry.host: "auditortest"}}))
    code, _out, err = run(["ls", f"registry:{tls_registry.host}/busybox:v1"], capsys,
                         monkeypatch)
    assert code == 0, err
    assert asked.read_text().strip() == tls_registry.host
    assert "docker-credential-auditortest (credHelpers in" in err


def test_podman_auth_file(tls_registry: Registry, no_credentials: Path, capsys: Any,
                          monkeypatch: pytest.MonkeyPatch) -> None:
    auth = no_credentials / "auth.json"
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    auth.write_text(json.dumps({"auths": {f"https://{tls_registry.host}/v2/": {"auth": token}}}))
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(auth))
    code, _out, err = run(["ls", f"registry:{tls_registry.host}/busybox:v1", "--insecure"],
                          capsys, monkeypatch)
    assert code == 0, err
    assert f"REGISTRY_AUTH_FILE={auth}" in err


@pytest.mark.parametrize("key", ["token", "access_token"])
def test_bearer_token_flow(token_registry: Registry, no_credentials: Path, capsys: Any,
                           monkeypatch: pytest.MonkeyPatch, key: str) -> None:
    assert token_registry.token is not None
    token_registry.token.key = key
    token_registry.token.requests.clear()
    code, out, err = run(["ls", f"registry:{token_registry.host}/busybox:v1", "--username",
                          USER, "--password-stdin"], capsys, monkeypatch, stdin=PASSWORD)
    token_registry.token.key = "token"
    assert code == 0, err
    assert "/bin/busybox" in out
    asked = [r for r in token_registry.token.requests if r["authorized"]]
    assert asked and asked[0]["query"]["service"] == [SERVICE]
    assert asked[0]["query"]["scope"] == ["repository:busybox:pull"]


def test_bearer_without_credentials_is_refused(token_registry: Registry, no_credentials: Path,
                                               capsys: Any,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    code, _out, err = run(["ls", f"registry:{token_registry.host}/busybox:v1"], capsys,
                          monkeypatch)
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2 and len(errors) == 1 and "refused access" in errors[0]
    assert "no credentials found" in errors[0]


def test_blob_redirects_do_not_carry_the_registry_authorization(
        token_registry: Registry, no_credentials: Path, capsys: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Blobs redirected to storage on another host (localhost, not 127.0.0.1) are fetched
    without the registry's Bearer token, which the registry's own requests carry."""
    with proxied(token_registry, "redirect") as proxy:
        code, out, err = run(["ls", f"registry:{proxy.host}/busybox:v1", "--username", USER,
                              "--password-stdin"], capsys, monkeypatch, stdin=PASSWORD)
    assert code == 0, err
    assert "/bin/busybox" in out
    assert any(h.get("Authorization", "").startswith("Bearer ")
               for h in proxy.registry_headers)
    assert proxy.storage_headers, "no blob went through the redirect"
    assert all("Authorization" not in h for h in proxy.storage_headers)

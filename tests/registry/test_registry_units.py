"""Names, challenges and credential files, without a registry."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from auditor.errors import UsageError
from auditor.sources.registry.auth import Authenticator, parse_challenge
from auditor.sources.registry.credentials import Credential, Lookup, find_credential
from auditor.sources.registry.errors import Unauthorized
from auditor.sources.registry.reference import is_loopback, parse_reference


@pytest.mark.parametrize(("text", "host", "repo", "tag", "digest"), [
    ("alpine", "docker.io", "library/alpine", None, None),
    ("alpine:3.19", "docker.io", "library/alpine", "3.19", None),
    ("user/app:v1", "docker.io", "user/app", "v1", None),
    ("127.0.0.1:5000/team/app", "127.0.0.1:5000", "team/app", None, None),
    ("localhost/app:dev", "localhost", "app", "dev", None),
    ("ghcr.io/o/r@sha256:" + "a" * 64, "ghcr.io", "o/r", None, "sha256:" + "a" * 64),
    ("reg.example:443/a/b:t@sha256:" + "b" * 64, "reg.example:443", "a/b", "t",
     "sha256:" + "b" * 64),
])
def test_references_read_as_docker_reads_them(text: str, host: str, repo: str,
                                              tag: str | None, digest: str | None) -> None:
    ref = parse_reference(text)
    assert (ref.host, ref.repository, ref.tag, ref.digest) == (host, repo, tag, digest)
    assert ref.manifest_ref == (digest or tag or "latest")


@pytest.mark.parametrize("text", ["", "UPPER/case", "host:5000/", "a@sha256:short",
                                  "a:bad tag", "a//b"])
def test_bad_references_are_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError):
        parse_reference(text)


def test_docker_hub_names() -> None:
    ref = parse_reference("alpine")
    assert ref.api_host == "registry-1.docker.io"
    assert ref.credential_key == "https://index.docker.io/v1/"


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1:5000", True), ("127.1.2.3", True), ("localhost:80", True), ("[::1]:5000", True),
    ("10.0.0.1:5000", False), ("registry.example", False), ("example.localhost", True)])
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_challenges_parse() -> None:
    scheme, params = parse_challenge('Bearer realm="https://auth.example/token",'
                                     'service="registry.example",scope="repository:a/b:pull"')
    assert scheme == "bearer"
    assert params == {"realm": "https://auth.example/token", "service": "registry.example",
                      "scope": "repository:a/b:pull"}
    assert parse_challenge('Basic realm="x"') == ("basic", {"realm": "x"})


def _auth(credential: Credential | None, answers: list[Any]) -> tuple[Authenticator, list[Any]]:
    asked: list[Any] = []

    def fetch(realm: str, query: dict[str, str], basic: str | None,
              form: dict[str, str] | None) -> Any:
        asked.append((realm, query, basic, form))
        return answers.pop(0)

    lookup = Lookup(credential, ["somewhere"])
    return Authenticator("reg.example", "repository:a:pull", lambda: lookup, fetch,
                         lambda line: None), asked


def test_a_new_challenge_brings_a_new_token() -> None:
    auth, asked = _auth(Credential("u", "p", "test"), [{"token": "one"},
                                                       {"access_token": "two"}])
    auth.answer('Bearer realm="https://t/token",service="s"', "a")
    assert auth.headers() == {"Authorization": "Bearer one"}
    assert asked[0][1] == {"service": "s", "scope": "repository:a:pull"}
    assert base64.b64decode(asked[0][2]) == b"u:p"
    auth.answer('Bearer realm="https://t/token",service="s",scope="repository:a:pull,push"',
                "a")
    assert auth.headers() == {"Authorization": "Bearer two"}
    assert asked[1][1]["scope"] == "repository:a:pull,push"


def test_an_identity_token_is_an_oauth2_refresh_grant() -> None:
    auth, asked = _auth(Credential("", "refresh-me", "test", identity_token=True),
                        [{"access_token": "t"}])
    auth.answer('Bearer realm="https://t/token",service="s"', "a")
    _realm, _query, basic, form = asked[0]
    assert basic is None and form["grant_type"] == "refresh_token"
    assert form["refresh_token"] == "refresh-me"


def test_basic_without_credentials_is_refused_once() -> None:
    auth, _asked = _auth(None, [])
    with pytest.raises(Unauthorized, match="no credentials found"):
        auth.answer('Basic realm="r"', "a")
    auth, _asked = _auth(Credential("u", "p", "test"), [])
    auth.answer('Basic realm="r"', "a")
    with pytest.raises(Unauthorized, match="credentials from test"):
        auth.answer('Basic realm="r"', "a")  # the same credential refused twice


@pytest.fixture
def homes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    for sub in ("docker", "home", "run/containers"):
        (tmp_path / sub).mkdir(parents=True)
    return tmp_path


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_docker_config_auths_and_docker_hub_key(homes: Path) -> None:
    (homes / "docker" / "config.json").write_text(json.dumps({"auths": {
        "https://index.docker.io/v1/": {"auth": _b64("hub:pw")},
        "reg.example:5000": {"username": "u", "password": "p"},
        "id.example": {"identitytoken": "tok"}}}))
    hub = find_credential("https://index.docker.io/v1/").credential
    assert hub is not None and (hub.username, hub.secret) == ("hub", "pw")
    other = find_credential("reg.example:5000").credential
    assert other is not None and (other.username, other.secret) == ("u", "p")
    ident = find_credential("id.example").credential
    assert ident is not None and ident.identity_token and ident.secret == "tok"
    assert "pw" not in repr(hub)  # the secret is not in its repr


def test_podman_runtime_auth_file_and_order(homes: Path, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    (homes / "run" / "containers" / "auth.json").write_text(json.dumps(
        {"auths": {"reg.example": {"auth": _b64("podman:pw")}}}))
    found = find_credential("reg.example")
    assert found.credential is not None and found.credential.username == "podman"
    first = homes / "first.json"
    first.write_text(json.dumps({"auths": {"reg.example": {"auth": _b64("first:pw")}}}))
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(first))
    found = find_credential("reg.example")
    assert found.credential is not None and found.credential.username == "first"
    assert find_credential("reg.example", "flag", "pw").credential == Credential(
        "flag", "pw", "--username/--password-stdin")
    missing = find_credential("nowhere.example")
    assert missing.credential is None and "config.json" in missing.describe()


def test_a_missing_credential_helper_is_one_sentence(homes: Path) -> None:
    (homes / "docker" / "config.json").write_text(json.dumps({"credsStore": "nonexistent"}))
    with pytest.raises(UsageError, match="docker-credential-nonexistent"):
        find_credential("reg.example")

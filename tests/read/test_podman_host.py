"""Where podman's Docker-compatible API is looked for, and how errors name it."""

import socket

import pytest

from auditor.errors import EngineUnreachable
from auditor.read import engine_wire as wire


def test_container_host_wins(monkeypatch):
    monkeypatch.setenv("CONTAINER_HOST", "unix:///somewhere/podman.sock")
    assert wire.podman_host() == "unix:///somewhere/podman.sock"
    assert wire.engine_name("unix:///somewhere/podman.sock") == "podman"


def test_rootless_socket_first_when_not_root(monkeypatch, tmp_path):
    monkeypatch.delenv("CONTAINER_HOST", raising=False)
    monkeypatch.setattr(wire.os, "getuid", lambda: 1000)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    rootless = tmp_path / "podman" / "podman.sock"
    # neither exists: the rootless one is named (that is where the user would start it)
    assert wire.podman_host() == f"unix://{rootless}"
    rootless.parent.mkdir()
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(rootless))
        assert wire.podman_host() == f"unix://{rootless}"


def test_root_asks_the_rootful_socket(monkeypatch):
    monkeypatch.delenv("CONTAINER_HOST", raising=False)
    monkeypatch.setattr(wire.os, "getuid", lambda: 0)
    assert wire.podman_host() == "unix://" + wire.PODMAN_ROOTFUL


def test_a_bare_reference_falls_back_to_podman_only_without_docker(monkeypatch, tmp_path):
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    podman = tmp_path / "podman.sock"
    monkeypatch.setenv("CONTAINER_HOST", f"unix://{podman}")
    monkeypatch.setattr(wire, "DOCKER_DEFAULT", str(tmp_path / "docker.sock"))
    assert wire.docker_host() == f"unix://{tmp_path / 'docker.sock'}"  # podman has none
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(podman))
        assert wire.docker_host() == f"unix://{podman}"
        (tmp_path / "docker.sock").touch()
        assert wire.docker_host() == f"unix://{tmp_path / 'docker.sock'}"


def test_unreachable_podman_says_how_to_start_it(monkeypatch, tmp_path):
    monkeypatch.setenv("CONTAINER_HOST", f"unix://{tmp_path / 'none.sock'}")
    host = wire.podman_host()
    with pytest.raises(EngineUnreachable, match="podman's API") as info:
        wire.request_save(host, "busybox")
    assert "podman system service" in (info.value.tip or "")

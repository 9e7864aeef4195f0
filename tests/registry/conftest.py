"""Session registries: plain on loopback, TLS with htpasswd, Bearer tokens."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.registry.kit import Registry, need_tools, running

# A developer may point AUDITOR_SNAPSHOTS at saved fixture archives to skip docker save.
SNAP = Path(os.environ.get("AUDITOR_SNAPSHOTS") or "/nonexistent")


@pytest.fixture(scope="session")
def archive(request: pytest.FixtureRequest) -> Callable[[str], str]:
    """The ``docker save`` archive of a fixture image: the machine's snapshot when it has
    one, else saved from the engine (CI builds the fixtures there)."""

    def path(name: str) -> str:
        snap = SNAP / f"{name}.tar"
        if snap.exists():
            return str(snap)
        saved = request.getfixturevalue("saved_images")
        return str(saved(f"auditor-fixture/{name}:latest"))

    return path


def _registry(factory: pytest.TempPathFactory, mode: str,
              first: str | None = None) -> Iterator[Registry]:
    need_tools()
    with running(factory.mktemp(f"registry-{mode}"), mode) as registry:
        if first is not None:
            registry.push(first, "busybox:v1")
        yield registry


@pytest.fixture(scope="session")
def plain_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    yield from _registry(tmp_path_factory, "plain")


@pytest.fixture(scope="session")
def zstd_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """A second plain registry for zstd layers: skopeo, finding the gzip variant of a layer
    already in a registry, would reuse it whatever --dest-compress-format says."""
    yield from _registry(tmp_path_factory, "plain")


@pytest.fixture(scope="session")
def tls_registry(tmp_path_factory: pytest.TempPathFactory,
                 archive: Callable[[str], str]) -> Iterator[Registry]:
    yield from _registry(tmp_path_factory, "tls-basic", archive("busybox-app"))


@pytest.fixture(scope="session")
def token_registry(tmp_path_factory: pytest.TempPathFactory,
                   archive: Callable[[str], str]) -> Iterator[Registry]:
    yield from _registry(tmp_path_factory, "token", archive("busybox-app"))

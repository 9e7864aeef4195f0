"""Every fixture image against every fixture's Dockerfile, on the 20.10 engine (legacy
builder), and the images the newer engines build (BuildKit, buildah) against theirs: its
own Dockerfile matches its history, with no false mismatch; another fixture's is a
mismatch, said in one sentence, with nothing attributed.

Needs the engine and the fixture images (``fixtures/build.sh``); ``pytest -m engine``.
The newer engines are those of tests/e2e/test_engines.py (skipped unless they are up, or
failing when AUDITOR_REQUIRE_ENGINES=1).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from auditor.audit import scan
from auditor.fixes.attribution import attribute
from auditor.model.image import HistoryEntry
from tests.conftest import FIXTURES, ROOT
from tests.e2e.test_engines import _build, _connect, _host_of

pytestmark = pytest.mark.engine

NAMES = sorted(p.parent.name for p in FIXTURES.glob("*/Dockerfile"))
# Two final stages the legacy builder records alike: `COPY --from=build <one file> /hello`,
# USER 65532:65532, ENTRYPOINT ["/hello"]. Only the COPY's content hash differs, and it
# covers the builder stage's file (its path there, header and bytes), which is not in the
# image. BuildKit records the source path, and the unit tests check that it tells them apart.
RECORDED_ALIKE = {frozenset({"c-multi-scratch", "go-multi-scratch"})}


def _history(engine: Any, image: str) -> list[HistoryEntry]:
    """The image's history as the engine reports it (created_by is the config's; which
    entries made a layer does not change whether the history is this Dockerfile's, so
    each is taken as one: no multi-GB save needed)."""
    return [HistoryEntry(h.get("CreatedBy") or "", False, comment=h.get("Comment") or None)
            for h in reversed(engine.api.history(image))]


@pytest.fixture(scope="module")
def histories(engine: Any) -> dict[str, list[HistoryEntry]]:
    return {name: _history(engine, f"auditor-fixture/{name}:latest") for name in NAMES}


@pytest.mark.parametrize("image", NAMES)
def test_each_fixture_matches_its_own_dockerfile_and_no_other(
        image: str, histories: dict[str, list[HistoryEntry]]) -> None:
    history = histories[image]
    for name in NAMES:
        a = attribute((FIXTURES / name / "Dockerfile").read_text(), history, len(history))
        if name == image:
            assert a.mismatch is None, a.mismatch
            assert {s.confidence for s in a.steps} <= {"exact", "order"}
            assert all(s.history_index is not None for s in a.steps)
        elif frozenset({name, image}) in RECORDED_ALIKE:
            assert a.mismatch is None and {s.confidence for s in a.steps} == {"exact"}
        else:
            assert a.mismatch is not None, f"{image} with {name}'s Dockerfile"
            assert "\n" not in a.mismatch
            assert all(o.dockerfile_line is None and not o.from_base for o in a.layers)


BUILT = {"busybox-app": FIXTURES / "busybox-app", "multi": ROOT / "tests" / "e2e" / "engines"
         / "multi"}


@pytest.fixture(scope="module", params=["docker26", "docker26c", "podman"])
def newer_engine(request: pytest.FixtureRequest) -> Iterator[tuple[str, dict[str, str]]]:
    name = request.param
    client = _connect(name)
    tags = {key: f"auditor-closure-match/{key}:latest" for key in BUILT}
    try:
        for key, context in BUILT.items():
            _build(name, tags[key], context)
        yield name, tags
    finally:
        for tag in tags.values():
            with contextlib.suppress(Exception):  # not built: nothing to remove
                client.images.remove(tag, force=True)
        client.close()


def test_buildkit_and_buildah_histories_match_their_dockerfiles(
        newer_engine: tuple[str, dict[str, str]], monkeypatch: pytest.MonkeyPatch) -> None:
    name, tags = newer_engine
    monkeypatch.setenv("CONTAINER_HOST" if name == "podman" else "DOCKER_HOST", _host_of(name))
    prefix = "podman:" if name == "podman" else "docker:"
    for key, tag in tags.items():
        image = scan(prefix + tag, detect=False).image
        for other, context in BUILT.items():
            a = attribute((context / "Dockerfile").read_text(), image.config.history,
                          len(image.layers))
            if other == key:
                assert a.mismatch is None, (name, key, a.mismatch)
                assert {o.confidence for o in a.layers if not o.from_base} == {"exact"}
            else:
                assert a.mismatch is not None, (name, key, other)

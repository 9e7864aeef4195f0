"""Shared test setup: the real Docker Engine and the fixture images built from fixtures/.

Tests marked ``engine`` need both. They skip when the engine is not reachable, except
where AUDITOR_REQUIRE_ENGINE=1 (CI sets it): there a missing engine fails the run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"


def fixture_names() -> list[str]:
    return sorted(p.parent.name for p in FIXTURES.glob("*/expected.json"))


def expected_of(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name / "expected.json").read_text())
    return data


def _engine_problem() -> str | None:
    try:
        import docker

        client = docker.from_env(timeout=10)
        client.ping()
        missing = [n for n in fixture_names()
                   if not client.images.list(name=f"auditor-fixture/{n}")]
        client.close()
    except Exception as exc:
        return f"no Docker Engine ({type(exc).__name__}); set DOCKER_HOST"
    if missing:
        return f"fixture images not built: {', '.join(missing)} (run fixtures/build.sh)"
    return None


@pytest.fixture(autouse=True)
def _json_reports_match_their_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every JSON report any test writes is validated against docs/report.schema.json."""
    from tests.reports.schema_check import check_every_json_report

    check_every_json_report(monkeypatch)


@pytest.fixture(scope="session")
def engine() -> Any:
    problem = _engine_problem()
    if problem:
        if os.environ.get("AUDITOR_REQUIRE_ENGINE") == "1":
            pytest.fail(problem)
        pytest.skip(problem)
    import docker

    client = docker.from_env(timeout=300)
    yield client
    client.close()


@pytest.fixture(scope="session")
def saved_images(engine: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """``docker save`` archives of fixture images, made once per session on demand."""
    cache: dict[str, Path] = {}
    root = tmp_path_factory.mktemp("saved")

    def save(image: str) -> Path:
        if image not in cache:
            path = root / (image.replace("/", "_").replace(":", "_") + ".tar")
            with open(path, "wb") as fh:
                for chunk in engine.api.get_image(image, chunk_size=1 << 20):
                    fh.write(chunk)
            cache[image] = path
        return cache[image]

    return save


@pytest.fixture(scope="session")
def audited(engine: Any) -> Any:
    """``scan("docker:IMAGE")`` of fixture images, once per session (they are large)."""
    from auditor.audit import scan

    cache: dict[str, Any] = {}

    def get(image: str) -> Any:
        if image not in cache:
            cache[image] = scan(f"docker:{image}")
        return cache[image]

    return get

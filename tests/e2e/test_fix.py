"""``auditor fix`` on the real engine: attribution against the fixtures' known lines, and for
each single-stage fixture the suggested Dockerfile built with the legacy builder, run, audited
again, weighed against the size the suggestion predicted, and checked for everything its first
suggestion claims to remove (``fix_claims``; more fixtures in ``test_fix_proof.py``).

Needs the engine and the fixture images (``fixtures/build.sh``); ``pytest -m engine``.
Every image these tests build is removed afterwards, intermediate ones included.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from docker.errors import APIError

from auditor.audit import AuditRequest, fix, judge, scan
from auditor.fixes.attribution import attribute
from auditor.fixes.bases import engine_bases
from auditor.fixes.rewrite import LocalBase
from auditor.model.findings import SEVERITY_RANK
from auditor.model.image import ImageConfig
from auditor.policy import load_policy
from tests.conftest import FIXTURES, expected_of
from tests.e2e.fix_claims import broken_claims, claims_of

pytestmark = pytest.mark.engine

SINGLE = ["c-single", "go-single", "python-single", "node-single"]
# Also rewritten: a multi-stage build onto a full base (named user, HEALTHCHECK) and the
# image with everything wrong (secrets in files and ENV, a uid-0 USER, EXPOSE 22).
REWRITTEN = [*SINGLE, "c-multi-slim", "trouble"]
# Per fixture: the layers the base image made, and layer -> Dockerfile line for the rest.
KNOWN = {
    "c-single": (3, {3: 4, 4: 5}),
    "go-single": (3, {3: 5, 4: 6}),
    "python-single": (3, {3: 5, 4: 6, 5: 7}),
    "node-single": (3, {3: 5, 4: 6, 5: 7, 6: 8}),
    "c-multi-slim": (1, {1: 9, 2: 10}),
    "c-multi-scratch": (0, {0: 8}),
    "busybox-app": (1, {1: 3}),
    "entrypoint-script": (1, {1: 3}),  # COPY --chown
    "trouble": (1, {1: 6, 2: 7, 3: 10, 4: 13, 5: 16, 6: 19, 7: 22, 8: 25, 9: 26, 10: 29,
                    11: 30, 12: 31, 13: 34, 14: 39}),
}
MUST_BE_GONE = ("compiler", "network-tool", "root-user", "leftover-source")
SIZE_TOLERANCE = 0.10


def saved_config(archive: Path) -> tuple[ImageConfig, int]:
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
        raw = tar.extractfile(manifest[0]["Config"]).read()  # type: ignore[union-attr]
        return ImageConfig.from_json(raw), len(manifest[0]["Layers"])


@pytest.mark.parametrize("name", list(KNOWN), ids=list(KNOWN))
def test_attribution_matches_the_fixture_dockerfiles(name: str, saved_images: Any) -> None:
    config, layers = saved_config(saved_images(f"auditor-fixture/{name}:latest"))
    text = (FIXTURES / name / "Dockerfile").read_text()
    a = attribute(text, config.history, layers)
    base_layers, lines = KNOWN[name]
    assert a.base_layers == base_layers
    assert {o.layer: o.dockerfile_line for o in a.layers if not o.from_base} == lines
    assert all(o.confidence == "exact" for o in a.layers), a.layers
    assert a.unmatched == ()


@pytest.fixture(scope="module")
def local_bases(engine: Any) -> list[LocalBase]:
    out = []
    for image in engine.images.list():
        for tag in image.tags:
            out.append(LocalBase(tag, tuple(image.attrs["RootFS"].get("Layers") or ()),
                                 image.attrs.get("Size")))
    return out


@contextmanager
def built(engine: Any, tag: str, dockerfile: Path, context: Path) -> Iterator[str]:
    """Build with the legacy builder, then remove every image the build made."""
    if shutil.which("docker") is None:
        pytest.skip("the docker command line is not installed")
    before = set(engine.api.images(all=True, quiet=True))
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}
    try:
        proc = subprocess.run(["docker", "build", "-q", "--force-rm", "--network", "host",
                               "-t", tag, "-f", str(dockerfile), str(context)],
                              env=env, capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}\n{dockerfile.read_text()}"
        yield tag
    finally:
        made = [i for i in engine.api.images(all=True, quiet=True) if i not in before]
        for ref in [tag, *made]:
            with contextlib.suppress(APIError):  # already gone with its child
                engine.images.remove(ref, force=True)


def test_the_engine_bases_are_what_the_docker_package_lists(
        local_bases: list[LocalBase]) -> None:
    # scan and fix list them over the standard-library wire, as the docker package would
    # (images created in the same second come in either order)
    def key(b: LocalBase) -> tuple[str, tuple[str, ...]]:
        return b.name, b.layers

    assert sorted(engine_bases(), key=key) == sorted(local_bases, key=key)


@pytest.mark.parametrize("name", REWRITTEN, ids=REWRITTEN)
def test_the_suggested_dockerfile_builds_runs_and_passes(
        name: str, engine: Any, saved_images: Any, local_bases: list[LocalBase],
        tmp_path: Path) -> None:
    archive = saved_images(f"auditor-fixture/{name}:latest")
    text = (FIXTURES / name / "Dockerfile").read_text()
    policy = load_policy("default")
    done = fix(AuditRequest(str(archive), policy=policy, dockerfile_text=text,
                            bases=lambda: local_bases))
    result, fixed, attribution = done.report.result, done.rewrite, done.report.attribution
    assert attribution is not None
    # The first suggestion is the stage fix; it predicts the size the rewrite predicts.
    first = done.report.suggestions[0]
    image_bytes = sum(s.added_bytes for s in result.tree.layers)
    assert image_bytes - first.saves_bytes == fixed.expected_bytes
    assert first.dockerfile_line == attribution.from_line  # the base brings the problem

    out = tmp_path / "Dockerfile.suggested"
    out.write_text(fixed.text)
    tag = f"auditor-fix-e2e/{name}:{os.getpid()}"
    with built(engine, tag, out, FIXTURES / name):
        output = engine.containers.run(tag, remove=True, network_mode="none")
        assert output.decode() == expected_of(name)["run_output"]
        size = engine.images.get(tag).attrs["Size"]
        assert abs(size - fixed.expected_bytes) <= SIZE_TOLERANCE * fixed.expected_bytes, (
            size, fixed.expected_bytes, fixed.text)
        rebuilt = scan(f"docker:{tag}")
    high = [f for f in rebuilt.findings if f.category in MUST_BE_GONE
            or (f.category == "shell" and SEVERITY_RANK[f.severity] >= SEVERITY_RANK["high"])]
    assert high == [], [(f.rule_id, f.path) for f in high]
    # every category and path the first suggestion claims to remove is gone (fix_claims)
    broken = broken_claims(claims_of(first, result), rebuilt)
    assert not broken, (broken, first.text)
    verdict = judge(rebuilt, policy)
    assert verdict.passed, verdict.reasons
    predicted = done.expected
    assert predicted is not None and predicted.passed and abs(predicted.score - verdict.score) <= 10


def test_auditor_fix_command_writes_the_dockerfile_and_the_expected_result(
        engine: Any, tmp_path: Path, capsys: Any) -> None:
    from auditor.cli import main

    out = tmp_path / "Dockerfile.suggested"
    code = main(["fix", "auditor-fixture/go-single", "--dockerfile",
                 str(FIXTURES / "go-single" / "Dockerfile"), "-o", str(out), "--no-progress"])
    printed = capsys.readouterr().out
    assert code == 0
    text = out.read_text()
    assert "AS build" in text and "COPY --from=build" in text and "USER 65532" in text
    assert printed.startswith("expected: ") and "passes policy default" in printed

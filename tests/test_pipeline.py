"""audit(request) and fix(request): the whole pipeline, as `scan` and `fix` run it, on a
docker-save archive written by the test."""

from __future__ import annotations

import importlib
import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from auditor.audit import AuditRequest, audit, fix
from auditor.fixes.bases import LocalBase
from auditor.policy import load_policy
from tests.fixes.fixkit import APP, BASE, DOCKERFILE, HISTORY
from tests.imagekit import docker_save, sha
from tests.layerkit import F, layer


class Bases:
    """The engine's images, as a pipeline asks for them: counted."""

    def __init__(self, bases: Sequence[LocalBase]) -> None:
        self.bases, self.asked = list(bases), 0

    def __call__(self) -> Sequence[LocalBase]:
        self.asked += 1
        return self.bases


@pytest.fixture
def archive(tmp_path: Path) -> tuple[Path, list[str]]:
    # a compiler in the app's layer: the stage fix names the final stage and its base
    layers = [layer(*BASE), layer(*APP, F("/usr/bin/gcc-12", b"\x7fELF" + b"g" * 4000,
                                          mode=0o755))]
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["/src/hello"], "WorkingDir": "/src"},
        "rootfs": {"type": "layers", "diff_ids": [sha(x) for x in layers]},
        "history": [{"created_by": h.created_by, "empty_layer": h.empty_layer}
                    for h in HISTORY]}).encode()
    path = docker_save(tmp_path / "image.tar", layers, config=config)
    return path, [sha(x) for x in layers]


def request_for(path: Path, bases: Bases) -> AuditRequest:
    return AuditRequest(str(path), policy=load_policy("default"), dockerfile_text=DOCKERFILE,
                        dockerfile="Dockerfile", bases=bases)


def test_audit_runs_every_step_into_one_report(archive: tuple[Path, list[str]]) -> None:
    path, _ = archive
    report = audit(request_for(path, Bases([])))
    assert report.verdict is not None and report.policy_name == "default"
    assert report.closure is not None and report.closure.entry == "/src/hello"
    assert report.attribution is not None and report.attribution.from_line == 2
    assert report.dockerfile_lines == {0: 2, 1: 4}  # the base's layer is its FROM line
    assert report.dockerfile == "Dockerfile"
    assert report.result.findings and report.suggestions


def test_scan_and_fix_choose_the_same_base_from_one_listing(
        archive: tuple[Path, list[str]]) -> None:
    path, diff_ids = archive
    # The closure of a program that is not a readable ELF is incomplete: the final stage
    # starts from the smallest local image this one was built on.
    base = LocalBase("base:1", (diff_ids[0],), 1000)
    scanned = Bases([LocalBase("other:1", ("sha256:" + "0" * 64,)), base])
    report = audit(request_for(path, scanned))
    assert scanned.asked == 1
    fixing = Bases(scanned.bases)
    done = fix(request_for(path, fixing))
    assert fixing.asked == 1  # the suggestions and the rewrite share one listing
    assert done.rewrite.base == "base:1"
    assert "FROM base:1" in done.rewrite.text
    stage = [s for s in report.suggestions if "FROM base:1" in s.text]
    assert stage and stage == [s for s in done.report.suggestions if "FROM base:1" in s.text]
    # the shell is in base:1's layer, which the final stage starts from: only the compiler
    # goes (a stage fix never claims to remove what it keeps)
    assert stage[0].rule_ids == ("AUD-COMPILER",)


def test_without_a_policy_or_dockerfile_there_is_no_verdict_and_no_attribution(
        archive: tuple[Path, list[str]]) -> None:
    path, _ = archive
    report = audit(AuditRequest(str(path), bases=Bases([])))
    assert report.verdict is None and report.attribution is None
    assert report.dockerfile_lines == {} and report.closure is not None


@pytest.mark.parametrize(("module", "name", "where"), [
    ("auditor.closure.compute", "compute_closure", "runtime closure"),
    ("auditor.fixes.suggestions", "suggest", "suggestions"),
], ids=["closure", "suggestions"])
def test_a_failing_late_step_is_recorded_and_the_report_still_made(
        archive: tuple[Path, list[str]], monkeypatch: pytest.MonkeyPatch, module: str,
        name: str, where: str) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(importlib.import_module(module), name, broken)
    path, _ = archive
    report = audit(request_for(path, Bases([])))
    assert report.verdict is not None and report.result.findings  # the findings stand
    assert [s.where for s in report.result.skipped if "boom" in s.reason] == [where]
    if where == "runtime closure":
        assert report.closure is None
    else:
        assert report.suggestions == ()


def test_an_unknown_target_stops_the_pipeline(archive: tuple[Path, list[str]]) -> None:
    from auditor.errors import UsageError

    path, _ = archive
    with pytest.raises(UsageError, match="no stage"):
        audit(AuditRequest(str(path), dockerfile_text=DOCKERFILE, target="nope",
                           bases=Bases([])))

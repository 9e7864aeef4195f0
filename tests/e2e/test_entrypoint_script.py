"""The entrypoint-script fixture on the real engine: an entrypoint script that runs ``id``
and ``basename`` (busybox applets) and then ``exec "$@"``. Its runtime closure holds what
the script runs, the suggestion says busybox stays and why, and both ``auditor fix``'s
Dockerfile and the stage rewrite onto scratch, built and run, print what the original
printed (before scripts were followed, the rewrite printed ``id: not found``).

Needs the engine and the fixture images (``fixtures/build.sh``); ``pytest -m engine``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from auditor.audit import AuditRequest, audit, fix, scan
from auditor.fixes.bases import engine_bases
from auditor.fixes.rewrite import LocalBase, rewrite
from auditor.policy import load_policy
from tests.conftest import FIXTURES, expected_of
from tests.e2e.test_fix import built

pytestmark = pytest.mark.engine

NAME = "entrypoint-script"
APPLETS = {"id", "basename", "echo", "sh"}


@pytest.fixture(scope="module")
def local_bases(engine: Any) -> list[LocalBase]:
    return engine_bases()


def request(archive: Path, bases: list[LocalBase]) -> AuditRequest:
    return AuditRequest(str(archive), policy=load_policy("default"),
                        dockerfile_text=(FIXTURES / NAME / "Dockerfile").read_text(),
                        bases=lambda: bases)


def run_output(engine: Any, tag: str) -> str:
    return str(engine.containers.run(tag, remove=True, network_mode="none").decode())


def test_the_closure_holds_what_the_script_runs(saved_images: Any,
                                                local_bases: list[LocalBase]) -> None:
    report = audit(request(saved_images(f"auditor-fixture/{NAME}:latest"), local_bases))
    c = report.closure
    assert c is not None and c.entry == "/usr/local/bin/entrypoint.sh"
    assert {"/bin/id", "/bin/basename", "/bin/echo", "/bin/sh", "/bin/busybox",
            "/usr/local/bin/entrypoint.sh"} <= set(c.files)
    assert set(c.applets_of("/bin/busybox")) >= APPLETS and c.unfollowed == ()
    assert "/bin/wget" not in c.files  # an applet the script does not run
    text = " ".join(s.text for s in report.suggestions)
    assert "/bin/busybox stays" in text and "id" in text and "basename" in text


def test_fix_and_the_stage_rewrite_print_what_the_original_printed(
        engine: Any, saved_images: Any, local_bases: list[LocalBase], tmp_path: Path) -> None:
    archive = saved_images(f"auditor-fixture/{NAME}:latest")
    want = expected_of(NAME)["run_output"]
    assert run_output(engine, f"auditor-fixture/{NAME}:latest") == want
    done = fix(request(archive, local_bases))
    assert "COPY --chown=65534:65534" in done.rewrite.text
    assert "USER nobody" in done.rewrite.text
    # the stage fix itself, as `fix` would write it were busybox not needed: onto scratch,
    # with only the closure
    report = done.report
    assert report.attribution is not None
    staged = rewrite((FIXTURES / NAME / "Dockerfile").read_text(), report.attribution,
                     report.closure, image_user=report.result.image.config.user,
                     result=report.result, available_bases=local_bases)
    assert "FROM scratch" in staged.text
    for which, text in (("fix", done.rewrite.text), ("stage", staged.text)):
        out = tmp_path / f"Dockerfile.{which}"
        out.write_text(text)
        tag = f"auditor-closure-e2e/{NAME}-{which}:{os.getpid()}"
        with built(engine, tag, out, FIXTURES / NAME):
            assert run_output(engine, tag) == want, text
            if which == "stage":
                rebuilt = scan(f"docker:{tag}")
                assert rebuilt.image.config.user == "65534:65534"
                assert not any(f.path == "/bin/wget" for f in rebuilt.findings)

"""``auditor fix`` writes Dockerfiles that build the same image under BuildKit and under
the legacy builder: the rewrite of two fixtures built on Docker 26 with BuildKit (buildx)
and on 20.10 with ``DOCKER_BUILDKIT=0``, run with no network, prints what the original
prints, with the owner, mode and user the original had; and image values full of the
characters the parser treats specially reach both builders' image configs as they were.

Docker 26 has only the bases .ci/engines.sh loads (debian:bookworm and
auditor-fixture/busybox), so the fixtures here are the two built on busybox; their rewrite
is built there from the fixture's own folder, nothing else is loaded. An engine that is not
up is skipped, unless AUDITOR_REQUIRE_ENGINES=1 (CI): then it fails.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from auditor.audit import AuditRequest, audit, read_tree
from auditor.fixes.bases import engine_bases
from auditor.fixes.rewrite import LocalBase, rewrite
from auditor.model.image import HistoryEntry, ImageConfig
from tests.conftest import FIXTURES, expected_of
from tests.e2e.test_engines import _chroot_cli, _connect, _host_of
from tests.e2e.test_fix import built
from tests.fixes.fixkit import attribution_of, result_of

pytestmark = pytest.mark.engine

ON_BUSYBOX = ["busybox-app", "entrypoint-script"]
BUSYBOX = "auditor-fixture/busybox:latest"


@pytest.fixture(scope="module")
def docker26() -> Iterator[Any]:
    client = _connect("docker26")
    yield client
    client.close()


@contextmanager
def built_with_buildkit(client: Any, tag: str, context: Path) -> Iterator[str]:
    """Build on Docker 26 with BuildKit (the chroot's buildx), then remove the image."""
    try:
        _chroot_cli("docker26", "docker", "buildx", "build", "--network", "host", "-q",
                    "--output", f"type=image,name={tag}", "-", context=context)
        yield tag
    finally:
        with contextlib.suppress(Exception):  # not made, or already gone
            client.images.remove(tag, force=True)


def _context(tmp_path: Path, fixture: str | None, dockerfile: str) -> Path:
    ctx = tmp_path / "context"
    if fixture is not None:
        shutil.copytree(FIXTURES / fixture, ctx)
    else:
        ctx.mkdir()
    (ctx / "Dockerfile").write_text(dockerfile)
    return ctx


def _rewrite_of(name: str, saved_images: Any) -> str:
    """The rewrite ``fix`` computes for the fixture (written even where ``fix`` would say
    there is nothing to fix: it is the rewrite that must build)."""
    text = (FIXTURES / name / "Dockerfile").read_text()
    report = audit(AuditRequest(str(saved_images(f"auditor-fixture/{name}:latest")),
                                dockerfile_text=text, bases=engine_bases))
    assert report.attribution is not None
    return rewrite(text, report.attribution, report.closure,
                   image_user=report.result.image.config.user, result=report.result,
                   available_bases=engine_bases).text


def _tree_on(host: str, tag: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    with monkeypatch.context() as m:
        m.setenv("DOCKER_HOST", host)
        return read_tree(f"docker:{tag}")


@pytest.mark.parametrize("name", ON_BUSYBOX)
def test_the_rewrite_builds_and_runs_alike_under_both_builders(
        name: str, engine: Any, docker26: Any, saved_images: Any, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    original = f"auditor-fixture/{name}:latest"
    printed = engine.containers.run(original, remove=True, network_mode="none").decode()
    assert printed == expected_of(name)["run_output"]
    before_image, tree = read_tree(f"docker:{original}")
    ctx = _context(tmp_path, name, _rewrite_of(name, saved_images))
    tag = f"auditor-fix-builders/{name}:{os.getpid()}"
    with built(engine, tag, ctx / "Dockerfile", ctx), \
            built_with_buildkit(docker26, tag, ctx):
        for client, host in ((engine, _host_of("docker20")), (docker26, _host_of("docker26"))):
            ran = client.containers.run(tag, remove=True, network_mode="none").decode()
            assert ran == printed, (host, ran, (ctx / "Dockerfile").read_text())
            image, rebuilt = _tree_on(host, tag, monkeypatch)
            assert image.config.user == "65534:65534", host  # USER nobody, by number
            assert (image.config.entrypoint, image.config.cmd) == (
                before_image.config.entrypoint, before_image.config.cmd), host
            for path in ("/app/app.sh", "/usr/local/bin/entrypoint.sh"):
                before, after = tree.get(path), rebuilt.get(path)
                if before is not None:  # the owner and mode the original had
                    assert after is not None, (host, path)
                    assert (after.uid, after.gid, after.mode) == (
                        before.uid, before.gid, before.mode), (host, path)


# -- image values through both builders -----------------------------------------------------

HARD = 'a $HOME "q" \'s\' \\ \\\\ ` # <<EOF ${A:-x}\tend é'
VALUES = [HARD, "x\\", "<<EOF", "--flag", "a=b", "# escape=`", "[\"json\"]", ""]
LABELLED = f'FROM {BUSYBOX}\nLABEL k=v org.example.x=y\nCMD ["true"]\n'
LABEL_HISTORY = (HistoryEntry("", False),
                 HistoryEntry("/bin/sh -c #(nop)  LABEL k=v org.example.x=y", True),
                 HistoryEntry('/bin/sh -c #(nop)  CMD ["true"]', True))
PAYLOAD = ImageConfig(
    env=(*(f"V{i}={v}" for i, v in enumerate(VALUES)), "a.b-c=1"),
    working_dir='/srv/a b/$x/"q"/`/\\', labels={"k": HARD, "org.example.x": "x\\"},
    exposed_ports=("53/udp", "8080/tcp"), stop_signal="SIGQUIT", user="1000:1000",
    healthcheck=("CMD-SHELL", "echo hi\nexit 0"),
    entrypoint=("/bin/echo", HARD, "\n"), cmd=("a\nRUN touch /tmp/pwned", "x\\"))


@pytest.mark.parametrize("escape", ["\\", "`"], ids=["backslash", "backtick"])
def test_image_values_reach_both_builders_as_they_were(
        escape: str, engine: Any, docker26: Any, tmp_path: Path) -> None:
    text = LABELLED if escape == "\\" else f"# escape={escape}\n{LABELLED}"
    result = result_of(config=PAYLOAD, history=LABEL_HISTORY)
    busybox = LocalBase(BUSYBOX)
    fixed = rewrite(text, attribution_of(result, text), None, runtime_base=BUSYBOX,
                    image_user=PAYLOAD.user, result=result, available_bases=[busybox])
    ctx = _context(tmp_path, None, fixed.text)
    tag = f"auditor-fix-builders/values:{os.getpid()}"
    with built(engine, tag, ctx / "Dockerfile", ctx), \
            built_with_buildkit(docker26, tag, ctx):
        for client in (engine, docker26):
            config = client.api.inspect_image(tag)["Config"]
            assert set(PAYLOAD.env) <= set(config["Env"]), (config["Env"], fixed.text)
            assert config["WorkingDir"] == PAYLOAD.working_dir
            assert {k: config["Labels"][k] for k in PAYLOAD.labels} == dict(PAYLOAD.labels)
            assert sorted(config["ExposedPorts"]) == list(PAYLOAD.exposed_ports)
            assert config["StopSignal"] == PAYLOAD.stop_signal
            assert config["User"] == PAYLOAD.user
            # a shell command with a line break: the same command, through the shell
            assert config["Healthcheck"]["Test"] == ["CMD", "/bin/sh", "-c", "echo hi\nexit 0"]
            assert tuple(config["Entrypoint"]) == PAYLOAD.entrypoint
            assert tuple(config["Cmd"]) == PAYLOAD.cmd
            history = client.api.history(tag)
            assert not any("pwned" in (h.get("CreatedBy") or "") and "RUN" in h["CreatedBy"]
                           and "CMD" not in h["CreatedBy"] for h in history), history

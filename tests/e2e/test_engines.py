"""Every engine and image store a user runs, read as a user reads them.

The engines: the 20.10 engine (DOCKER_HOST, legacy builder) and those .ci/engines.sh
starts under AUDITOR_ENGINES_DIR: Docker 26 with the classic store, Docker 26 with the
containerd image store (both building with BuildKit), and podman's Docker-compatible API
(building with buildah). On each, the images are read from the engine, from a pipe
(``docker save | auditor scan docker-archive:-``) and from a saved file, and each read
gives exactly the tree ``docker export`` gives, the engine's Id and the config's diff_ids,
and the fixture's expected findings. An engine that is not up is skipped, unless
AUDITOR_REQUIRE_ENGINES=1 (CI sets it): then it fails.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from auditor.audit import read_tree, scan
from tests.conftest import ROOT, expected_of
from tests.e2e.test_exactness import ENGINE_ADDED, export_listing, tree_listing
from tests.e2e.test_fixture_findings import _covers, _names

pytestmark = pytest.mark.engine

ENGINES_DIR = Path(os.environ.get("AUDITOR_ENGINES_DIR", "/tmp/auditor-engines"))
MULTI = ROOT / "tests" / "e2e" / "engines" / "multi"
MULTI_TAG = "auditor-test/engines-multi:latest"
BUILDKIT = ROOT / "tests" / "e2e" / "engines" / "buildkit"
BUILDKIT_TAG = "auditor-test/engines-buildkit:latest"
# handed to the build as a mounted secret only: it must reach no layer, no history, no report
NPMRC = "//registry.npmjs.org/:_authToken=npm_" + "Zq7xWv3Ty9Ub1Rc5Nd8Me2Lf4Kg6Jh0Pi3Oa"
BUSYBOX_APP = "auditor-fixture/busybox-app:latest"
ZSTD_TAG = "auditor-test/engines-zstd:latest"


@dataclass
class Engine:
    name: str
    host: str  # unix:///...
    client: Any
    prefix: str  # how a SOURCE names this engine's images
    images: tuple[str, ...]  # the images its tests read

    def env(self) -> dict[str, str]:
        key = "CONTAINER_HOST" if self.prefix == "podman:" else "DOCKER_HOST"
        return {key: self.host}


def _host_of(name: str) -> str:
    if name == "docker20":
        return os.environ.get("DOCKER_HOST") or "unix:///tmp/auditor-engine/docker.sock"
    return f"unix://{ENGINES_DIR / name}.sock"


def _connect(name: str) -> Any:
    import docker

    host = _host_of(name)
    try:
        client = docker.DockerClient(base_url=host, timeout=300)
        client.ping()
    except Exception as exc:  # the docker package raises many kinds here
        message = f"engine {name} is not up at {host} ({type(exc).__name__}); run .ci/engines.sh"
        if os.environ.get("AUDITOR_REQUIRE_ENGINES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return client


def _chroot_cli(name: str, *command: str, context: Path) -> None:
    """Build with the chroot's own CLI (buildx, or the legacy API for podman)."""
    with io.BytesIO() as buf:
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
            tf.add(context, arcname=".")
        proc = subprocess.run(["bash", str(ROOT / ".ci" / "engines.sh"), "cli", name, *command],
                              input=buf.getvalue(), capture_output=True, check=False)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-2000:]


def _build(name: str, tag: str, context: Path, zstd: bool = False,
           secret: str | None = None) -> None:
    if name == "podman":
        _chroot_cli(name, "env", "DOCKER_BUILDKIT=0", "docker", "build", "-q", "-t", tag, "-",
                    context=context)
        return
    # BuildKit; RUN has no bridge on these engines (--bridge=none)
    output = f"type=image,name={tag}" + (",compression=zstd,force-compression=true"
                                          if zstd else "")
    # a secret comes in through the environment: nothing of it is written to a file
    given = ["env", f"AUDITOR_SECRET={secret}"] if secret is not None else []
    flags = ["--secret", "id=npmrc,env=AUDITOR_SECRET"] if secret is not None else []
    _chroot_cli(name, *given, "docker", "buildx", "build", "--network", "host", "-q",
                *flags, "--output", output, "-", context=context)


@pytest.fixture(scope="module", params=["docker20", "docker26", "docker26c", "podman"])
def engine_under_test(request: pytest.FixtureRequest) -> Iterator[Engine]:
    name = request.param
    client = _connect(name)
    built: list[str] = []
    if name == "docker20":  # its fixtures are built already, by the legacy builder
        images: tuple[str, ...] = (BUSYBOX_APP, "auditor-fixture/c-multi-scratch:latest")
    else:
        plan = [(BUSYBOX_APP, ROOT / "fixtures" / "busybox-app", False),
                (MULTI_TAG, MULTI, False)]
        if name == "docker26c":  # the containerd store keeps zstd layers as built
            plan.append((ZSTD_TAG, MULTI, True))
        for tag, context, zstd in plan:
            _build(name, tag, context, zstd)
            built.append(tag)
        images = tuple(tag for tag, _, _ in plan)
    prefix = "podman:" if name == "podman" else "docker:"
    yield Engine(name, _host_of(name), client, prefix, images)
    for tag in built:
        client.images.remove(tag, force=True)
    client.close()


def _save(engine: Engine, image: str, path: Path) -> Path:
    with open(path, "wb") as fh:
        subprocess.run(["docker", "-H", engine.host, "save", image], stdout=fh, check=True)
    return path


def _reads(engine: Engine, image: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
           verify: bool | None = None) -> Iterator[tuple[str, Any, Any]]:
    """(how, image, tree) read from the engine, from a pipe and from a file."""
    for key, value in engine.env().items():
        monkeypatch.setenv(key, value)
    yield "engine", *read_tree(engine.prefix + image, verify=verify)
    proc = subprocess.Popen(["docker", "-H", engine.host, "save", image],
                            stdout=subprocess.PIPE)
    assert proc.stdout is not None
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(proc.stdout))
    try:
        yield "pipe", *read_tree("docker-archive:-", verify=verify)
    finally:
        proc.stdout.close()
        assert proc.wait() == 0
    yield "file", *read_tree(str(_save(engine, image, tmp_path / "saved.tar")), verify=verify)


def test_every_read_equals_what_the_runtime_exports(engine_under_test, tmp_path, monkeypatch):
    engine = engine_under_test
    for image in engine.images:
        theirs = export_listing(engine.client, image)  # --network none
        for how, _img, tree in _reads(engine, image, tmp_path, monkeypatch):
            ours = {p: v for p, v in tree_listing(tree).items()
                    if p not in ENGINE_ADDED and not p.startswith(("/dev/", "/proc/", "/sys/"))}
            expected = dict(theirs)
            if "/etc" not in ours:  # the engine makes /etc to hold /etc/hosts and friends
                expected.pop("/etc", None)
            assert ours == expected, (engine.name, image, how,
                                      sorted(set(ours) ^ set(expected))[:10],
                                      [p for p in ours if ours[p] != expected.get(p)][:10])


def test_ids_and_layer_digests_are_the_engines(engine_under_test, tmp_path, monkeypatch):
    engine = engine_under_test
    for image in engine.images:
        inspected = engine.client.api.inspect_image(image)["Id"]
        for how, img, _tree in _reads(engine, image, tmp_path, monkeypatch, verify=True):
            if how == "engine":
                assert img.id == inspected, (engine.name, image)
            assert [scan.digest for scan in img.layers] == list(img.config.diff_ids), (
                engine.name, image, how)


def test_each_store_saves_the_shape_it_should(engine_under_test, monkeypatch):
    """The shapes these tests are meant to cover are the ones the engines wrote."""
    engine = engine_under_test
    for key, value in engine.env().items():
        monkeypatch.setenv(key, value)
    for image in engine.images:
        media = {scan.media_type.rpartition(".")[2]
                 for scan in read_tree(engine.prefix + image)[0].layers}
        if engine.name != "docker26c":
            assert media == {"tar"}, (engine.name, image, media)  # saved uncompressed
        elif image == ZSTD_TAG:
            assert media == {"zstd"}, media
        else:  # the loaded base stays a tar, what BuildKit made is gzip
            assert media == {"tar", "gzip"}, (image, media)


def test_the_fixture_findings_hold_on_every_engine(engine_under_test, monkeypatch):
    engine = engine_under_test
    for key, value in engine.env().items():
        monkeypatch.setenv(key, value)
    expected = expected_of("busybox-app")
    result = scan(engine.prefix + BUSYBOX_APP)
    categories = {f.category for f in result.findings}
    for category, listed in expected["present"].items():
        assert category in categories, (engine.name, category)
        found = [n for f in result.findings if f.category == category for n in _names(f)]
        assert all(any(_covers(p, n) for n in found) for p in listed), (engine.name, category)
    for category in expected["absent"]:
        assert not [f for f in result.findings if f.category == category
                    and f.severity in ("high", "critical")], (engine.name, category)
    assert result.image.config.user == expected["user"]


def _cli(engine: Engine, *args: str, stdin: Any = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **engine.env(), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "auditor", *args], stdin=stdin, env=env,
                          capture_output=True, text=True, check=False, cwd=ROOT)


def test_scan_ls_and_fix_from_the_command_line(engine_under_test, tmp_path):
    """What a user types, on each engine: the commands the issue saw fail."""
    engine = engine_under_test
    source = engine.prefix + BUSYBOX_APP
    scan = _cli(engine, "scan", source, "--format", "json", "--no-progress")
    assert scan.returncode in (0, 1), scan.stderr
    report = json.loads(scan.stdout)
    assert report["image"]["id"] == engine.client.api.inspect_image(BUSYBOX_APP)["Id"]
    listing = _cli(engine, "ls", source)
    assert listing.returncode == 0 and "/app/app.sh" in listing.stdout, listing.stderr
    fixed = _cli(engine, "fix", source, "--dockerfile",
                 str(ROOT / "fixtures" / "busybox-app" / "Dockerfile"), "--no-progress",
                 "-o", str(tmp_path / "Dockerfile.suggested"))
    assert fixed.returncode == 0, fixed.stderr
    assert (tmp_path / "Dockerfile.suggested").read_text().startswith(("#", "FROM", "ARG"))
    saver = subprocess.Popen(["docker", "-H", engine.host, "save", BUSYBOX_APP],
                             stdout=subprocess.PIPE)
    piped = _cli(engine, "scan", "docker-archive:-", "--format", "json", "--no-progress",
                 stdin=saver.stdout)
    assert saver.wait() == 0
    assert piped.returncode in (0, 1), piped.stderr
    assert {f["category"] for f in json.loads(piped.stdout)["findings"]} == {
        f["category"] for f in report["findings"]}


def test_a_missing_image_names_the_engine_and_its_store(engine_under_test):
    engine = engine_under_test
    missing = _cli(engine, "scan", engine.prefix + "auditor-test/no-such-image:latest",
                   "--no-progress")
    assert missing.returncode == 2
    line = missing.stderr.strip()
    assert line.count("\n") == 0 and line.startswith("error: ")
    assert engine.host in line
    if engine.name == "docker26c":
        assert "containerd image store" in line
    if engine.name == "podman":
        assert "podman" in line and "podman images" in line


# -- BuildKit: attribution lines and confidence, cache and secret mounts ----------------------

@pytest.fixture(scope="module", params=["docker26", "docker26c"])
def buildkit_image(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """tests/e2e/engines/buildkit built by buildx, with the secret mounted."""
    name = request.param
    client = _connect(name)
    _build(name, BUILDKIT_TAG, BUILDKIT, secret=NPMRC)
    try:
        yield Engine(name, _host_of(name), client, "docker:", (BUILDKIT_TAG,))
    finally:
        client.images.remove(BUILDKIT_TAG, force=True)
        client.close()


def _buildkit_report(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Any:
    from auditor.audit import AuditRequest, audit

    monkeypatch.setenv("DOCKER_HOST", engine.host)
    text = (BUILDKIT / "Dockerfile").read_text()
    return audit(AuditRequest("docker:" + BUILDKIT_TAG, dockerfile_text=text,
                              dockerfile="Dockerfile", bases=lambda: ())), text


def _line_of(text: str, start: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if line.startswith(start))


def test_buildkit_attribution_is_exact_for_every_step_and_finding(buildkit_image, monkeypatch):
    """Heredoc COPY, ARG with quoted values, ENV PATH=...:$PATH, RUN with mounts, COPY
    --chmod, in the final stage of a multi-stage file: every step matches BuildKit's
    history exactly, and every finding points at its instruction's line (a base layer's
    and a config finding's: the final stage's FROM, not the first stage's)."""
    report, text = _buildkit_report(buildkit_image, monkeypatch)
    attribution = report.attribution
    assert attribution.unmatched == ()
    assert [(s.instruction.keyword, s.confidence) for s in attribution.steps] == [
        (kw, "exact") for kw in ("ARG", "ENV", "COPY", "COPY", "RUN", "RUN", "COPY", "CMD")]
    final_from = attribution.target.from_line
    assert final_from == [n for n, line in enumerate(text.splitlines(), 1)
                          if line.startswith("FROM ")][-1]
    assert report.result.findings
    for f in report.result.findings:
        origin = attribution.origin(f.layer)
        line = report.finding_line(f)
        if origin is None or origin.from_base:
            assert line == final_from, (buildkit_image.name, f.rule_id, line)
            continue
        assert origin.confidence == "exact", (buildkit_image.name, f.rule_id)
        ins = next(s.instruction for s in attribution.steps if s.layer == f.layer)
        assert line == ins.line, (buildkit_image.name, f.rule_id, line)
    lines = {f.rule_id: report.finding_line(f) for f in report.result.findings}
    assert lines["AUD-LANG-PKG-MANAGER"] == _line_of(text, "COPY --from=tools")


def test_buildkit_cache_and_secret_mounts_are_the_right_way(buildkit_image, monkeypatch):
    """The RUN that mounted the pip cache and the secret is not reported; the RUN that
    filled the same cache without the mount is, at its line; the secret is nowhere."""
    report, text = _buildkit_report(buildkit_image, monkeypatch)
    caches = [f for f in report.result.findings if f.rule_id in ("AUD-CACHE", "AUD-PIP-CACHE")]
    unmounted = _line_of(text, "RUN pip install requests")
    assert sorted((f.rule_id, report.finding_line(f)) for f in caches) == [
        ("AUD-CACHE", unmounted), ("AUD-PIP-CACHE", unmounted)]
    [cache] = [f for f in caches if f.rule_id == "AUD-CACHE"]
    assert cache.evidence["files"] == 1 and cache.bytes == len("downloaded requests\n")
    assert not [f for f in report.result.findings if f.category == "secret"]
    tree = report.result.tree
    assert tree.get("/root/.npmrc") is None
    written = tree.get("/opt/npmrc-bytes")  # what the RUN read from the mounted secret
    assert written is not None and written.size == len(f"{len(NPMRC)}\n")
    cli = _cli(buildkit_image, "scan", "docker:" + BUILDKIT_TAG, "--format", "json",
               "--no-progress", "--dockerfile", str(BUILDKIT / "Dockerfile"))
    assert cli.returncode in (0, 1), cli.stderr
    assert NPMRC.rpartition("_")[2] not in cli.stdout
    assert {f["dockerfile_line"] for f in json.loads(cli.stdout)["findings"]
            if f["rule_id"] == "AUD-CACHE"} == {unmounted}

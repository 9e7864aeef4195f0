"""Fuzz targets: the real command line on mutated images, streams, layouts, policies,
baselines and Dockerfiles, each run bounded and held to the contract in harness.py.

CI runs a fixed, small set of examples (derandomized: the same inputs every run); a
developer runs many more by hand: tests/fuzz/README.md.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from tests.fuzz import known
from tests.fuzz.harness import Outcome, contract_problem, run_cli
from tests.fuzz.mutate import mutated_bytes, mutated_json, mutated_tar
from tests.fuzz.seeds import (
    DOCKERFILE,
    POLICY,
    config,
    docker_archive,
    layers,
    members,
    oci_layout,
    tar_of,
)
from tests.fuzz.text import mutated_dockerfile, mutated_policy
from tests.imagekit import sha
from tests.layerkit import F, layer

pytestmark = pytest.mark.fuzz

# Examples per target: CI's budget by default (the whole suite in about a minute on two
# cores), AUDITOR_FUZZ_EXAMPLES for a long run; AUDITOR_FUZZ_RANDOM=1 draws new inputs
# instead of the fixed ones.
LONG = int(os.environ.get("AUDITOR_FUZZ_EXAMPLES", "0"))
RANDOM = os.environ.get("AUDITOR_FUZZ_RANDOM") == "1"


def budget(examples: int) -> Callable[[Any], Any]:
    return settings(max_examples=LONG or examples, derandomize=not RANDOM, deadline=None,
                    database=None, suppress_health_check=list(HealthCheck),
                    phases=(Phase.explicit, Phase.generate) if not LONG else tuple(Phase))


LAYERS = layers()
CONFIG = config(LAYERS)


@pytest.fixture(scope="module")
def seed_archive(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = docker_archive(tmp_path_factory.mktemp("seed") / "seed.tar", LAYERS, CONFIG)
    return path.read_bytes()


@pytest.fixture(scope="module")
def seed_path(tmp_path_factory: pytest.TempPathFactory, seed_archive: bytes) -> Path:
    path = tmp_path_factory.mktemp("seed") / "image.tar"
    path.write_bytes(seed_archive)
    return path


@pytest.fixture(scope="module")
def seed_report(seed_path: Path) -> dict[str, Any]:
    out = run_cli(["scan", str(seed_path), "--format", "json"])
    assert out.code in (0, 1), out.describe()
    report: dict[str, Any] = json.loads(out.stdout)
    assert report["findings"], "the seed image must give findings to mutate"
    return report


@contextmanager
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="auditor-fuzz-") as tmp:
        yield Path(tmp)


KEEP = Path(os.environ.get("AUDITOR_FUZZ_KEEP")
            or Path(tempfile.gettempdir(), "auditor-fuzz-failures"))


class Target:
    """One target's runs: breaches of the contract by known defects (owned elsewhere) and
    by anything else, each kept once per signature with the input that showed it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.known: dict[str, known.Defect] = {}
        self.failures: dict[str, str] = {}  # signature -> where its input is kept

    def check(self, out: Outcome, inputs: Path | bytes, report: str | None = "json") -> None:
        problem = contract_problem(out, report)
        if problem is not None:
            self.breach(problem, out, inputs)

    def breach(self, problem: str, out: Outcome, inputs: Path | bytes) -> None:
        defect = known.match(self.name, problem, out)
        if defect is not None:
            self.known[defect.id] = defect
            return
        signature = out.signature(problem)
        if signature not in self.failures:
            self.failures[signature] = self._keep(out, inputs)

    def _keep(self, out: Outcome, inputs: Path | bytes) -> str:
        place = KEEP / f"{self.name}-{len(self.failures)}-{os.getpid()}"
        shutil.rmtree(place, ignore_errors=True)
        if isinstance(inputs, Path):
            shutil.copytree(inputs, place, symlinks=True)
        else:
            place.mkdir(parents=True)
            (place / "stdin").write_bytes(inputs)
        (place / "run.txt").write_text(out.describe(), encoding="utf-8")
        return str(place)

    def finish(self) -> None:
        """Fail on any unknown breach; xfail when only known defects were met."""
        if self.failures:
            raise AssertionError(f"{len(self.failures)} distinct breaches of the contract "
                                 "(inputs kept):\n" + "\n".join(
                                     f"- {sig}\n  {where}" for sig, where in self.failures.items()))
        if self.known:
            pytest.xfail("issue 11, owned by other helpers (tests/fuzz/known.py): " + "; ".join(
                f"{d.id} ({d.owner})" for d in sorted(self.known.values(), key=lambda d: d.id)))


SCANS = [["scan", "{}", "--format", "json"], ["ls", "{}", "--format", "json"],
         ["scan", "{}", "--format", "json", "--verify"],
         ["scan", "{}", "--format", "terminal", "--color", "always"],
         ["scan", "{}", "--format", "sarif"], ["scan", "{}", "--format", "markdown"],
         ["fix", "{}", "--dockerfile", "{dockerfile}", "--no-progress"]]
REPORTS = {"ls": "jsonl", "fix": None, "terminal": None, "markdown": None, "sarif": "sarif"}


def scan_argv(draw: st.DrawFn, source: str, tmp: Path) -> tuple[list[str], str | None]:
    """A command that reads the whole image: scan, ls or fix; and what its stdout holds."""
    argv = draw(st.sampled_from(SCANS))
    if argv[0] == "fix":
        (tmp / "Dockerfile").write_text(DOCKERFILE)
    words = [a.format(source, dockerfile=tmp / "Dockerfile") for a in argv]
    return words, report_of(argv)


def report_of(argv: list[str]) -> str | None:
    return REPORTS.get(argv[0], REPORTS.get(argv[3], "json"))


# -- images --------------------------------------------------------------------------------

def test_docker_archive_with_a_mutated_layer() -> None:
    target = Target("archive")

    @budget(20)
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        which = data.draw(st.integers(0, len(LAYERS) - 1))
        lays = list(LAYERS)
        lays[which] = data.draw(mutated_tar(lays[which]))
        with workdir() as tmp:
            path = docker_archive(tmp / "image.tar", lays, config(lays))
            argv, report = scan_argv(data.draw, str(path), tmp)
            target.check(run_cli(argv), tmp, report)

    run()
    target.finish()


def test_docker_archive_with_mutated_json(seed_archive: bytes) -> None:
    target = Target("archive")

    @budget(20)
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        files = members(seed_archive)
        manifest = json.loads(files["manifest.json"])
        name = data.draw(st.sampled_from(["manifest.json", manifest[0]["Config"]]))
        files[name] = data.draw(mutated_json(json.loads(files[name])))
        if name != "manifest.json" and data.draw(st.booleans()):
            # the config renamed to its new digest, so the digest check lets it through
            new = sha(files[name])[7:] + ".json"
            files[new] = files.pop(name)
            manifest[0]["Config"] = new
            files["manifest.json"] = json.dumps(manifest).encode()
        with workdir() as tmp:
            path = tmp / "image.tar"
            path.write_bytes(tar_of(files))
            argv, report = scan_argv(data.draw, str(path), tmp)
            target.check(run_cli(argv), tmp, report)

    run()
    target.finish()


@pytest.mark.parametrize("way", ["file", "stdin"])
def test_docker_archive_with_mutated_bytes_or_outer_headers(seed_archive: bytes,
                                                            way: str) -> None:
    """The archive's own bytes and tar headers, read from a file or streamed on stdin."""
    target = Target("archive" if way == "file" else "stream")

    @budget(15)
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        raw = data.draw(mutated_bytes(seed_archive, within=1 << 16) | mutated_tar(seed_archive))
        with workdir() as tmp:
            (tmp / "image.tar").write_bytes(raw)
            source = f"docker-archive:{tmp / 'image.tar'}" if way == "file" else "docker-archive:-"
            argv, report = scan_argv(data.draw, source, tmp)
            target.check(run_cli(argv, stdin=raw if way == "stdin" else b""), tmp, report)

    run()
    target.finish()


def test_oci_layout_dir_and_archive() -> None:
    target = Target("oci")

    @budget(25)
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        compression = data.draw(st.sampled_from(["gzip", "zstd", "none"]))
        lays, cfg = list(LAYERS), json.dumps(CONFIG).encode()
        part = data.draw(st.sampled_from(["layer", "compressed", "config", "index", "oci-layout"]))
        if part == "layer":
            lays[0] = data.draw(mutated_tar(lays[0]))
        elif part == "config":
            cfg = data.draw(mutated_json(CONFIG))
        with workdir() as tmp:
            root = oci_layout(tmp / "layout", lays, cfg, compression)
            if part == "compressed":
                _mutate_a_layer_blob(data, root)
            elif part in ("index", "oci-layout"):
                name = "index.json" if part == "index" else "oci-layout"
                doc = json.loads((root / name).read_bytes())
                (root / name).write_bytes(data.draw(mutated_json(doc)))
            if data.draw(st.booleans()):
                from tests.imagekit import OciLayout

                source = f"oci-archive:{OciLayout(root).archive(tmp / 'layout.tar')}"
            else:
                source = f"oci-dir:{root}"
            argv, report = scan_argv(data.draw, source, tmp)
            target.check(run_cli(argv), tmp, report)

    run()
    target.finish()


def _mutate_a_layer_blob(data: st.DataObject, root: Path) -> None:
    """Bytes of a compressed layer changed, and the blob renamed to its new digest (the
    manifest updated too), so decompression, not the digest check, meets them."""
    index = json.loads((root / "index.json").read_bytes())
    blobs = root / "blobs" / "sha256"
    desc = index["manifests"][0]
    manifest = json.loads((blobs / desc["digest"][7:]).read_bytes())
    layer = manifest["layers"][0]
    raw = data.draw(mutated_bytes((blobs / layer["digest"][7:]).read_bytes()))
    layer["digest"], layer["size"] = sha(raw), len(raw)
    (blobs / layer["digest"][7:]).write_bytes(raw)
    new = json.dumps(manifest).encode()
    (blobs / sha(new)[7:]).write_bytes(new)
    desc["digest"], desc["size"] = sha(new), len(new)
    (root / "index.json").write_text(json.dumps(index))


# -- the files beside the image -------------------------------------------------------------

def test_policy_files(seed_path: Path) -> None:
    target = Target("policy")

    @budget(25)
    @given(text=mutated_policy(POLICY))
    @example(text=POLICY.replace('"/bin/*"', '"' + "*" * 5000 + '"').encode())  # issue 11
    def run(text: bytes) -> None:
        with workdir() as tmp:
            policy = tmp / "policy.toml"
            policy.write_bytes(text)
            checked = run_cli(["policy", "check", str(policy)])
            target.check(checked, tmp, report=None)
            scanned = run_cli(["scan", str(seed_path), "--policy", str(policy), "--format", "json"])
            target.check(scanned, tmp)
            if checked.code == 0 and scanned.code == 2:
                # a policy `policy check` passes must not stop the scan it was checked for
                # (a scan that broke the contract otherwise is a breach already)
                target.breach("passed policy check, then failed the scan", scanned, tmp)

    run()
    target.finish()


def test_baselines(seed_path: Path, seed_report: dict[str, Any]) -> None:
    target = Target("baseline")

    @budget(20)
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        doc: dict[str, Any] = seed_report
        if data.draw(st.booleans()):
            doc = {"version": "2.1.0", "runs": [{"results": [
                {"ruleId": f["rule_id"], "partialFingerprints": {
                    "auditorFingerprint/v1": f["fingerprint"]}} for f in seed_report["findings"]]}]}
        elif data.draw(st.booleans()):
            doc = {"findings": [{k: v for k, v in f.items() if k != "fingerprint"}
                                for f in seed_report["findings"]]}
        with workdir() as tmp:
            baseline = tmp / "baseline.json"
            baseline.write_bytes(data.draw(mutated_json(doc)))
            target.check(run_cli(["scan", str(seed_path), "--baseline", str(baseline),
                                  "--format", "json"]), tmp)

    run()
    target.finish()


def test_dockerfiles_in_scan_and_fix(seed_path: Path) -> None:
    target = Target("dockerfile")

    @budget(30)
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        text = data.draw(mutated_dockerfile(DOCKERFILE))
        stage = data.draw(st.none() | st.sampled_from(["build", "final", "0", "1", "²", "x"]))
        extra = ["--target", stage] if stage is not None else []
        with workdir() as tmp:
            dockerfile = tmp / "Dockerfile"
            dockerfile.write_bytes(text)
            if data.draw(st.booleans()):
                argv = ["scan", str(seed_path), "--dockerfile", str(dockerfile), "--format", "json"]
                target.check(run_cli([*argv, *extra]), tmp)
            else:
                argv = ["fix", str(seed_path), "--dockerfile", str(dockerfile), "--no-progress"]
                target.check(run_cli([*argv, *extra]), tmp, report=None)

    run()
    target.finish()


# -- the harness itself: it must see what it is there to see ---------------------------------

def test_the_harness_sees_a_run_past_its_bound_and_a_traceback(seed_path: Path) -> None:
    slow = run_cli(["scan", str(seed_path), "--format", "json"], seconds=0.01)
    assert slow.code is None and (contract_problem(slow) or "").startswith("still running")
    broken = run_cli(["scan", str(seed_path), "--format", "json", "--fail-under", "x"])
    assert contract_problem(broken) is None  # argparse: one error line, exit 2
    crashed = Outcome(("scan",), 1, b"", b"Traceback (most recent call last):\n  boom\n", 0.1, 1)
    assert contract_problem(crashed) == "a traceback"
    oom = Outcome(("scan",), 2, b"", b"error: out of memory while reading the image\n", 0.1, 1)
    assert "address space" in (contract_problem(oom) or "")
    two = Outcome(("scan",), 2, b"", b"error: a\nerror: b\n", 0.1, 1)
    assert "not one `error:` line" in (contract_problem(two) or "")
    assert "not json" in (contract_problem(Outcome(("scan",), 0, b"{", b"", 0.1, 1)) or "")


# -- the issue's own cases: the inputs the fuzzing that opened issue 11 found, every run ----

def _config_with(**changes: Any) -> dict[str, Any]:
    cfg = json.loads(json.dumps(CONFIG))
    for dotted, value in changes.items():
        node = cfg
        *parents, last = dotted.split("__")
        for key in parents:
            node = node[key]
        node[last] = value
    return cfg


ISSUE_IMAGES: dict[str, tuple[list[bytes], dict[str, Any], dict[str, Any]]] = {
    # name: (layers, config, changes to manifest.json's first entry)
    "user-with-rich-markup": (LAYERS, _config_with(config__User="[/x]"), {}),
    "cmd-with-rich-markup": (LAYERS, _config_with(config__Cmd=["[/x]"],
                                                  config__Entrypoint=["[/x]"]), {}),
    "user-that-looks-numeric": (LAYERS, _config_with(config__User="²"), {}),
    "history-true": (LAYERS, _config_with(history=True), {}),
    "repotags-a-number": (LAYERS, CONFIG, {"RepoTags": 5}),
    "path-1500-deep": ([*LAYERS, layer(F("/d" * 1500 + "/f", "x"))], CONFIG, {}),
}


@pytest.mark.parametrize("case", sorted(ISSUE_IMAGES))
def test_the_issue_cases(case: str) -> None:
    target = Target("archive")
    lays, cfg, manifest_changes = ISSUE_IMAGES[case]
    cfg = {**cfg, "rootfs": {"type": "layers", "diff_ids": [sha(x) for x in lays]}}
    with workdir() as tmp:
        files = members(docker_archive(tmp / "seed.tar", lays, cfg).read_bytes())
        manifest = json.loads(files["manifest.json"])
        manifest[0].update(manifest_changes)
        files["manifest.json"] = json.dumps(manifest).encode()
        (tmp / "image.tar").write_bytes(tar_of(files))
        (tmp / "Dockerfile").write_text(DOCKERFILE)
        for argv in SCANS:
            words = [a.format(tmp / "image.tar", dockerfile=tmp / "Dockerfile") for a in argv]
            target.check(run_cli(words), tmp, report_of(argv))
    target.finish()

"""Proof of ``auditor fix`` on the images shaped like the ones teams ship (Alpine, the
official python image, temurin): the rewrite is built with the legacy builder, run with no
network, and rescanned; it prints what the original prints, and everything its first
suggestion claims to remove (every category and every path) is gone from it.

The other rewritten fixtures get the same claim check in ``test_fix.py``, on the image that
test builds anyway. ``distroless-base`` is not here: nothing in it is claimed removed.
Where a rescan cannot see what is left, the rewrite is asked to do it: a JDK rewrite keeps
the compiler module inside ``lib/modules``, so it must say the compiler stays, and it does.
Each rewrite is built once for the module; the images its build made, and only those
(``rebuild.built``: the engine is shared), are removed at the module's end.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import pytest

from auditor.audit import AuditRequest, fix, scan
from auditor.fixes.bases import engine_bases
from auditor.policy import load_policy
from tests.conftest import FIXTURES, expected_of
from tests.e2e.fix_claims import Claims, broken_claims, claims_of
from tests.e2e.rebuild import built, made_by

pytestmark = pytest.mark.engine

PROVED = ["alpine-musl", "python-slim", "temurin-jdk"]


def _run(engine: Any, image: str, command: list[str] | None = None) -> str:
    out: bytes = engine.containers.run(image, command, remove=True, network_mode="none")
    return out.decode()


@dataclass
class Proved:
    done: Any  # the FixResult
    tag: str  # the rewrite, built
    claims: Claims


@pytest.fixture(scope="module")
def rewrites(engine: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The rewrite of a fixture, built once for this module and removed at its end."""
    cache: dict[str, Proved] = {}
    bases = engine_bases()
    with ExitStack() as stack:
        def get(name: str) -> Proved:
            if name not in cache:
                done = fix(AuditRequest(
                    f"docker:{expected_of(name)['image']}", policy=load_policy("default"),
                    dockerfile_text=(FIXTURES / name / "Dockerfile").read_text(),
                    bases=lambda: bases))
                out = tmp_path_factory.mktemp(name) / "Dockerfile.suggested"
                out.write_text(done.rewrite.text)
                tag = stack.enter_context(built(
                    engine, f"auditor-fix-proof/{name}:{os.getpid()}", out, FIXTURES / name))
                first = done.report.suggestions[0]
                cache[name] = Proved(done, tag, claims_of(first, done.report.result))
            return cache[name]

        yield get


@pytest.mark.parametrize("name", PROVED, ids=PROVED)
def test_the_rewrite_removes_what_it_claims_and_prints_the_same(
        name: str, engine: Any, rewrites: Any) -> None:
    image = expected_of(name)["image"]
    original = _run(engine, image)
    assert original == expected_of(name)["run_output"]
    proved = rewrites(name)
    first = proved.done.report.suggestions[0]
    assert proved.claims.findings, f"{name}: the first suggestion claims nothing: {first.text}"
    assert _run(engine, proved.tag) == original, proved.done.rewrite.text
    broken = broken_claims(proved.claims, scan(f"docker:{proved.tag}"))
    assert not broken, (broken, first.text)


def test_a_jdk_rewrite_says_the_compiler_stays_and_it_does(engine: Any, rewrites: Any) -> None:
    """The rewrite drops ``bin/javac`` but must copy ``lib/modules`` for ``java``, and the
    ``jdk.compiler`` module in it still compiles: the suggestion must not claim the
    compiler removed, and must say why it stays."""
    proved = rewrites("temurin-jdk")
    assert "compiler" not in proved.claims.categories
    first = proved.done.report.suggestions[0]
    assert "jdk.compiler" in first.text and "jlink" in first.text
    out = _run(engine, proved.tag, ["java", "-m", "jdk.compiler/com.sun.tools.javac.Main",
                                    "-version"])
    assert out.startswith("javac 17"), out


def test_claims_are_read_from_the_suggestion_text() -> None:
    from types import SimpleNamespace as NS

    def finding(rule: str, category: str, path: str, package: str = "") -> Any:
        return NS(rule_id=rule, category=category, path=path, paths=(), title="t",
                  package=NS(name=package) if package else None)

    bash = finding("AUD-SHELL", "shell", "/usr/bin/bash", "bash")
    dash = finding("AUD-SHELL", "shell", "/usr/bin/dash", "dash")
    gcc = finding("AUD-COMPILER", "compiler", "/usr/bin/gcc-12", "gcc-12")
    root = finding("AUD-ROOT-USER", "root-user", "")
    text = ("... removes: compiler (gcc-12); shell (bash) [AUD-COMPILER, AUD-SHELL]. It keeps "
            "what the program itself needs: shell (dash) [AUD-SHELL].\nName the stage")
    claims = claims_of(NS(text=text, rule_ids=("AUD-COMPILER", "AUD-SHELL")),
                       NS(findings=[bash, dash, gcc, root]))
    assert claims.categories == {"compiler"}  # shell: dash stays
    assert claims.findings == (bash, gcc)
    rebuilt = NS(tree={"/usr/bin/dash": NS(kind="file")},
                 findings=[dash, finding("AUD-COMPILER", "compiler", "/usr/bin/cc")])
    assert broken_claims(claims, NS(tree=rebuilt.tree, findings=[dash])) == []
    assert broken_claims(claims, rebuilt) == [
        "compiler was claimed removed: AUD-COMPILER /usr/bin/cc"]
    assert broken_claims(claims, NS(tree={"/usr/bin/bash": NS(kind="file")}, findings=[bash])) == [
        "/usr/bin/bash is still in the image", "AUD-SHELL still names /usr/bin/bash"]
    src = finding("AUD-LEFTOVER-SOURCE", "leftover-source", "/src")
    src.paths = ("/src", "/src/hello.c")
    claims = Claims(frozenset({"leftover-source"}), (src,))
    assert broken_claims(claims, NS(tree={"/src": NS(kind="dir")}, findings=[])) == []
    assert broken_claims(claims, NS(tree={"/src": NS(kind="dir"), "/src/hello.c": NS(kind="file")},
                                    findings=[])) == ["/src/hello.c is still in the image"]


def test_the_images_a_build_made_are_read_from_its_output() -> None:
    output = """Step 1/4 : FROM debian:bookworm-slim AS python
 ---> 12adc9132a25
Step 2/4 : RUN apt-get update
 ---> Running in 5c2f0a63a355
Get:1 http://deb.example bookworm InRelease
Removing intermediate container 5c2f0a63a355
 ---> 5dbbe3fdf513
Step 3/4 : COPY wheels/ /wheels/
 ---> Using cache
 ---> 038cbe3e7d94
Step 4/4 : COPY app.py ./
 ---> 38808fa8282a
Successfully built 38808fa8282a
"""
    assert made_by(output) == ["5dbbe3fdf513", "38808fa8282a"]  # not the base, not the cache
    assert made_by("Step 1/2 : FROM scratch\n ---> \nStep 2/2 : RUN false\n") == []

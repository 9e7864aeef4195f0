from __future__ import annotations

import pytest

from auditor.detectors.leftover_source import (
    BUILD_FILE,
    CONTAINERS,
    DOCKERFILE,
    GIT_DIR,
    LEFTOVER_SOURCE,
    OBJECT_FILES,
    detect,
    project_root,
)
from auditor.inventory import Package
from auditor.model.findings import Finding
from tests.detectors.configkit import context_of
from tests.detectors.toolkit import ELF, package
from tests.layerkit import D, F, Spec


def scan(*specs: Spec, packages: tuple[Package, ...] = ()) -> list[Finding]:
    return list(detect(context_of(list(specs), packages=packages)))


def rules(found: list[Finding]) -> list[tuple[str, str | None]]:
    return [(f.rule_id, f.path) for f in found]


def test_a_c_build_tree_is_one_finding_naming_source_and_makefile_but_not_the_binary():
    found = scan(F("/src/hello.c", "int main(){}\n"), F("/src/Makefile", "hello: hello.c\n"),
                 F("/src/hello", ELF, mode=0o755))
    assert rules(found) == [(LEFTOVER_SOURCE.id, "/src")]
    f = found[0]
    assert f.paths == ("/src", "/src/Makefile", "/src/hello.c")
    assert f.bytes == len("int main(){}\n") + len("hello: hello.c\n")
    assert f.message.startswith("/src: 1 C source file, Makefile; ")
    assert f.evidence["languages"] == {"C": 1}
    assert f.category == "leftover-source"


def test_a_project_in_a_home_is_grouped_at_its_top_directory():
    found = scan(F("/home/dev/proj/src/main.rs", "fn main(){}"),
                 F("/home/dev/proj/src/util.rs", "//"), F("/home/dev/proj/Cargo.toml", "[x]"),
                 F("/home/dev/proj/target/debug/deps/x.rlib", "r"))
    assert rules(found) == [(LEFTOVER_SOURCE.id, "/home/dev/proj")]
    assert "2 Rust source files" in found[0].message
    assert "1 object file" in found[0].message
    assert "Cargo.toml" in found[0].message


@pytest.mark.parametrize("specs", [
    pytest.param([F("/app/app.py", "print()"), F("/app/requirements.txt", "six\n")],
                 id="python-app"),
    pytest.param([F("/app/app.js", "console.log(1)"), F("/app/package.json", "{}"),
                  F("/app/package-lock.json", "{}")], id="node-app-with-package-json"),
    pytest.param([F("/app/node_modules/x/index.ts", "export {}"),
                  F("/app/node_modules/x/index.js", "x"),
                  F("/app/node_modules/x/tsconfig.json", "{}")], id="typescript-in-node-modules"),
    pytest.param([F("/usr/local/lib/python3.11/site-packages/pkg/_speedups.c", "c"),
                  F("/usr/lib/python3/dist-packages/pkg/ext.c", "c")],
                 id="c-in-python-packages"),
    pytest.param([F("/app/types/index.d.ts", "declare x"), F("/app/index.js", "x")],
                 id="declaration-files"),
    pytest.param([F("/app/server.ts", "x")], id="typescript-run-directly"),
    pytest.param([F("/usr/local/go/src/fmt/print.go", "package fmt")], id="go-toolchain"),
    pytest.param([F("/root/go/pkg/mod/example.com/x@v1/x.go", "package x")],
                 id="go-module-cache"),
    pytest.param([F("/usr/include/stdio.h", "h"), F("/usr/local/include/foo.h", "h")],
                 id="headers"),
    pytest.param([F("/usr/local/bundle/gems/nokogiri-1.16/ext/nokogiri/xml.c", "c"),
                  F("/usr/local/bundle/gems/nokogiri-1.16/ext/nokogiri/Makefile", "m")],
                 id="ruby-gem-extension-sources"),
    pytest.param([F("/usr/local/cargo/registry/src/x/lib.rs", "r"),
                  F("/usr/lib/jvm/java-17/lib/src/Main.java", "j")], id="toolchain-trees"),
    pytest.param([F("/app/libfoo.a", "!<arch>"), F("/app/classes/Main.class", "cafe")],
                 id="runtime-jars-and-archives-alone"),
])
def test_not_leftover(specs):
    assert scan(*specs) == []


def test_declaration_files_are_not_source_even_beside_a_tsconfig():
    found = scan(F("/app/types/index.d.ts", "declare x"), F("/app/tsconfig.json", "{}"))
    assert [(f.rule_id, f.paths) for f in found] == [
        (BUILD_FILE.id, ("/app", "/app/tsconfig.json"))]


def test_package_owned_sources_are_the_package_s():
    found = scan(F("/usr/share/foo/src/a.c", "c"), F("/usr/share/foo/src/Makefile", "m"),
                 packages=(package("foo-src", "/usr/share/foo/src/a.c",
                                   "/usr/share/foo/src/Makefile"),))
    assert found == []


@pytest.mark.parametrize("specs, expected", [
    pytest.param([F("/app/src/index.ts", "x"), F("/app/src/index.js", "y")],
                 "1 TypeScript source file", id="js-beside-it"),
    pytest.param([F("/app/src/lib/a.ts", "x"), F("/app/tsconfig.json", "{}"),
                  F("/app/dist/lib/a.js", "y")], "tsconfig.json", id="tsconfig-above-it"),
])
def test_compiled_typescript_is_source(specs, expected):
    found = scan(*specs)
    assert rules(found) == [(LEFTOVER_SOURCE.id, "/app")]
    assert expected in found[0].message


def test_git_directory_is_one_finding_with_its_size():
    found = scan(F("/app/.git/HEAD", "ref: refs/heads/main\n"), F("/app/.git/config", "[core]\n"),
                 F("/app/.git/objects/ab/cdef", "o" * 100), F("/app/.git/hooks/pre-commit.c",
                                                             "int x;"),
                 F("/app/.git/modules/sub/HEAD", "x"), D("/app/.git/modules/sub/.git"),
                 F("/app/app.py", "print()"))
    assert rules(found) == [(GIT_DIR.id, "/app/.git")]
    assert found[0].evidence["files"] == 5
    assert found[0].bytes == 21 + 7 + 100 + 6 + 1


def test_dockerfile_and_dockerignore_are_their_own_finding():
    found = scan(F("/app/Dockerfile", "FROM x"), F("/app/.dockerignore", ".git"),
                 F("/app/docker-compose.yml", "services: {}"), F("/app/main.py", "x"))
    assert rules(found) == [(DOCKERFILE.id, "/app")]
    assert found[0].evidence["names"] == [".dockerignore", "Dockerfile", "docker-compose.yml"]


def test_ci_ide_and_test_folders_are_build_files_of_their_tree():
    found = scan(F("/app/.github/workflows/ci.yml", "on: push"), F("/app/.vscode/settings.json",
                                                                    "{}"),
                 F("/app/tests/test_app.py", "def test(): pass"), F("/app/Jenkinsfile", "x"),
                 F("/app/app.py", "x"))
    assert rules(found) == [(BUILD_FILE.id, "/app")]
    assert found[0].evidence["other"] == [".github/", ".vscode/", "Jenkinsfile", "tests/"]
    assert "/app/tests/test_app.py" in found[0].paths
    assert "/app/app.py" not in found[0].paths


def test_test_folders_a_package_owns_are_the_package_s():
    owned = "/usr/share/nodejs/agent-base/dist/test/index.js"
    found = scan(F(owned, "x"), F("/usr/share/nodejs/agent-base/index.js", "y"),
                 packages=(package("node-agent-base", owned),))
    assert found == []


def test_object_files_alone():
    found = scan(F("/build/out/a.o", "o"), F("/build/out/b.o", "o"))
    assert rules(found) == [(OBJECT_FILES.id, "/build")]
    assert found[0].severity == "low"


def test_a_lone_build_file_is_low():
    found = scan(F("/app/go.mod", "module x"), F("/app/server", ELF, mode=0o755))
    assert rules(found) == [(BUILD_FILE.id, "/app")]
    assert found[0].severity == "low"


def test_headers_count_only_beside_sources():
    found = scan(F("/src/a.c", "c"), F("/src/a.h", "h"), F("/opt/sdk/include/x.h", "h"))
    assert rules(found) == [(LEFTOVER_SOURCE.id, "/src")]
    assert "1 header" in found[0].message


@pytest.mark.parametrize("path, root", [
    ("/src/hello.c", "/src"), ("/src/a/b/c.go", "/src"), ("/opt/app/src/x.c", "/opt/app"),
    ("/home/dev/proj/a.c", "/home/dev/proj"), ("/root/main.go", "/root"),
    ("/usr/local/src/foo-1.2/bar.c", "/usr/local/src/foo-1.2"), ("/tmp/x.c", "/tmp"),
])
def test_project_root(path, root):
    assert project_root(path, CONTAINERS | {"/root", "/home/dev"}) == root


def test_many_files_are_counted_but_named_up_to_a_limit():
    found = scan(*[F(f"/src/f{i:03}.c", "c") for i in range(250)])
    assert len(found[0].paths) == 201  # the root and the first 200 files
    assert found[0].evidence["files"] == 250
    assert found[0].bytes == 250


# -- CI and test scripts ------------------------------------------------------------------

def scan_with(*specs: Spec, entrypoint: tuple[str, ...] | None = None,
              packages: tuple[Package, ...] = ()) -> list[Finding]:
    from auditor.model.image import ImageConfig

    return list(detect(context_of(list(specs), config=ImageConfig(entrypoint=entrypoint),
                                  packages=packages)))


def test_ci_scripts_left_in_a_hidden_home_directory_are_build_files():
    # the shape of peers' committed test images: their CI's scripts under /root/.data
    found = scan(F("/root/.data/run-tests.sh", "#!/bin/sh\nset -e\n"),
                 F("/root/.data/setup.sh", "#!/bin/bash\necho $GITLAB_CI\n"),
                 F("/root/.data/hello.txt", "hi"))
    assert rules(found) == [(BUILD_FILE.id, "/root/.data")]
    f = found[0]
    assert f.paths == ("/root/.data", "/root/.data/run-tests.sh", "/root/.data/setup.sh")
    assert f.evidence["ci_scripts"] == {
        "/root/.data/run-tests.sh": "named as a CI or test script",
        "/root/.data/setup.sh": "it mentions 'GITLAB_CI'"}
    assert "run-tests.sh" in f.message and "setup.sh" in f.message


@pytest.mark.parametrize("name, text", [
    ("ci.sh", "echo"), ("test.sh", "echo"), ("unit-tests.sh", "echo"), ("e2e_test.sh", "echo"),
    ("lint.sh", "#!/bin/sh\npytest -q tests\n"), ("check.sh", "set -e\ngo test ./...\n"),
    ("release.bash", "if [ -n \"$GITHUB_ACTIONS\" ]; then echo ci; fi\n"),
    ("verify", "#!/usr/bin/env bash\nexec npm test\n"),
])
def test_a_script_named_or_written_as_a_ci_or_test_script_is_reported(name, text):
    found = scan(F(f"/app/scripts/{name}", text, mode=0o755))
    assert rules(found) == [(BUILD_FILE.id, "/app")]
    assert list(found[0].evidence["ci_scripts"]) == [f"/app/scripts/{name}"]


def test_ci_config_files_and_ci_directories():
    found = scan(F("/app/tox.ini", "[tox]"), F("/app/noxfile.py", "import nox"),
                 F("/app/.gitlab-ci.yml", "x"), F("/app/ci/build.sh", "make"),
                 F("/app/app.py", "print()"))
    assert rules(found) == [(BUILD_FILE.id, "/app")]
    assert found[0].evidence["other"] == [".gitlab-ci.yml", "ci/", "noxfile.py", "tox.ini"]


@pytest.mark.parametrize("specs, entrypoint, packages", [
    pytest.param([F("/usr/local/bin/docker-entrypoint.sh", "#!/bin/sh\nexec \"$@\"\n",
                    mode=0o755), F("/app/start.sh", "#!/bin/sh\nexec /app/server\n")],
                 None, (), id="ordinary-scripts"),
    pytest.param([F("/app/test.sh", "#!/bin/sh\npytest\n", mode=0o755)], ("/app/test.sh",), (),
                 id="the-script-the-image-runs"),
    pytest.param([F("/app/ci.sh", "pytest\n")], ("/bin/sh", "/app/ci.sh"), (),
                 id="the-script-the-image-gives-its-shell"),
    pytest.param([F("/usr/lib/foo/run-tests.sh", "pytest"), F("/usr/lib/foo/tox.ini", "[tox]")],
                 None, (package("foo", "/usr/lib/foo/run-tests.sh", "/usr/lib/foo/tox.ini"),),
                 id="package-owned"),
    pytest.param([F("/usr/share/doc/foo/examples/test.sh", "pytest"),
                  F("/usr/lib/python3/dist-packages/foo/tests/run_tests.sh", "pytest"),
                  F("/usr/local/lib/python3.11/site-packages/bar/ci.sh", "go test"),
                  F("/app/node_modules/x/test.sh", "npm test"),
                  F("/usr/local/go/src/run.bash", "go test")],
                 None, (), id="documentation-and-dependency-trees"),
    pytest.param([F("/app/notes.txt", "pytest and GITHUB_ACTIONS")], None, (),
                 id="not-a-script"),
])
def test_no_ci_script_finding_for_what_is_not_one(specs, entrypoint, packages):
    assert scan_with(*specs, entrypoint=entrypoint, packages=packages) == []

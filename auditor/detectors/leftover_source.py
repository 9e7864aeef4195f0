"""Leftover source and build artefacts: what a single-stage build copies in and keeps."""

from __future__ import annotations

import posixpath
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from auditor.detectors import ScanContext, detector
from auditor.detectors.caches import THIRD_PARTY, cache_roots, files_under, homes
from auditor.detectors.waste import size_text
from auditor.filetree import Node
from auditor.model.evidence import Evidence, JsonValue
from auditor.model.findings import Finding, Rule
from auditor.model.image import FILE
from auditor.read.globs import name_match
from auditor.read.wants import Want

_MULTI_STAGE = "Build in one stage and COPY --from=build only the artefact into the final one."
LEFTOVER_SOURCE = Rule("AUD-LEFTOVER-SOURCE", "leftover-source", "medium",
                       "Source code of a compiled program left in the image", fix=_MULTI_STAGE)
OBJECT_FILES = Rule("AUD-OBJECT-FILES", "leftover-source", "low",
                    "Object files left in the image", fix=_MULTI_STAGE)
BUILD_FILE = Rule("AUD-BUILD-FILE", "leftover-source", "low",
                  "Build, test, CI or IDE files left in the image",
                  fix="Keep them out of the build context with .dockerignore, or build in a "
                  "separate stage.")
GIT_DIR = Rule("AUD-GIT-DIR", "leftover-source", "medium",
               "Version-control directory in the image",
               fix="Add `.git` to .dockerignore; it carries the project's whole history.")
DOCKERFILE = Rule("AUD-DOCKERFILE-COPIED", "leftover-source", "low",
                  "Dockerfile or build-context files copied into the image",
                  fix="Add Dockerfile, .dockerignore and compose files to .dockerignore, and "
                  "COPY only what the program needs.")

SOURCE_LANGUAGES = {
    ".c": "C", ".cc": "C++", ".cpp": "C++", ".cxx": "C++", ".c++": "C++", ".go": "Go",
    ".rs": "Rust", ".java": "Java", ".kt": "Kotlin", ".cs": "C#", ".fs": "F#",
    ".scala": "Scala", ".swift": "Swift", ".zig": "Zig", ".ts": "TypeScript",
    ".tsx": "TypeScript", ".mts": "TypeScript", ".cts": "TypeScript",
}
TYPESCRIPT = frozenset({".ts", ".tsx", ".mts", ".cts"})
HEADERS = frozenset({".h", ".hh", ".hpp", ".hxx"})
OBJECTS = frozenset({".o", ".obj", ".lo", ".gch", ".pch", ".rlib", ".rmeta"})
OBJECTS_BESIDE_SOURCE = frozenset({".a", ".class"})  # also runtime artefacts on their own
BUILD_NAMES = frozenset({
    "Makefile", "makefile", "GNUmakefile", "CMakeLists.txt", "CMakeCache.txt", "go.mod",
    "go.sum", "go.work", "Cargo.toml", "Cargo.lock", "pom.xml", "build.gradle",
    "build.gradle.kts", "settings.gradle", "settings.gradle.kts", "gradlew", "gradlew.bat",
    "build.xml", "meson.build", "configure.ac", "Makefile.am", "Makefile.in", "tsconfig.json",
    "build.sbt", "BUILD.bazel", "WORKSPACE", "WORKSPACE.bazel", "MODULE.bazel",
    "Directory.Build.props", "build.zig",
})
BUILD_GLOBS = ("*.csproj", "*.fsproj", "*.vcxproj", "*.sln", "tsconfig.*.json")
DOCKER_GLOBS = ("Dockerfile", "Dockerfile.*", "*.Dockerfile", "*.dockerfile", "Containerfile",
                ".dockerignore", "docker-compose.yml", "docker-compose.yaml",
                "docker-compose.*.yml", "docker-compose.*.yaml", "compose.yml", "compose.yaml")
CI_DIRS = frozenset({".github", ".circleci", ".gitlab", ".buildkite", "ci", ".ci"})
CI_FILES = frozenset({".gitlab-ci.yml", "Jenkinsfile", ".travis.yml", "azure-pipelines.yml",
                      "bitbucket-pipelines.yml", ".drone.yml", "appveyor.yml",
                      ".woodpecker.yml", ".cirrus.yml", "cloudbuild.yaml", "codecov.yml",
                      ".codecov.yml", ".pre-commit-config.yaml", ".golangci.yml",
                      "tox.ini", "noxfile.py", "pytest.ini", "conftest.py", ".coveragerc"})
# Shell scripts that CI runs or that run tests, by name (ci.sh, run-tests.sh, test_unit.sh,
# e2e-test.sh) or by what their first KiBs say: a CI system's variables, a test runner.
SCRIPT_EXTS = (".sh", ".bash")
SCRIPT_BYTES = 4096
CI_SCRIPT_NAME = re.compile(
    r"^(?:ci|run[-_]?(?:all[-_]?)?tests?|tests?|(?:unit|integration|e2e|smoke)[-_]?tests?"
    r"|tests?[-_][\w.-]+|[\w.-]+[-_](?:tests?|ci)|(?:travis|jenkins|gitlab|circleci|"
    r"buildkite|github)[-_.\w]*)\.(?:sh|bash)$")
CI_SCRIPT_TEXT = re.compile(
    rb"\b(?:GITHUB_ACTIONS|GITHUB_WORKSPACE|GITLAB_CI|CI_COMMIT_[A-Z_]+|CI_PROJECT_DIR"
    rb"|TRAVIS_[A-Z_]+|JENKINS_URL|BUILDKITE_[A-Z_]+|CIRCLECI|DRONE_BUILD_[A-Z_]+"
    rb"|TEAMCITY_VERSION|BITBUCKET_BUILD_NUMBER)\b"
    rb"|^[ \t]*(?:exec[ \t]+)?(?:python3? -m pytest|pytest|go test|cargo test|npm (?:run )?test"
    rb"|yarn test|mvn(?:w)? [\w -]*\btest|gradlew? [\w -]*\btest|make (?:check|test)|bats"
    rb"|tox|nox|ctest)\b", re.MULTILINE)
IDE_DIRS = frozenset({".idea", ".vscode", ".vs", ".settings"})
IDE_GLOBS = ("*.iml", "*.code-workspace", ".project", ".classpath")
TEST_DIRS = frozenset({"test", "tests", "__tests__", "spec", "testdata"})
VCS_DIRS = frozenset({".git", ".hg", ".svn"})

# System trees that hold no project (dependency and toolchain trees: caches.THIRD_PARTY).
_SYSTEM = re.compile(
    r"/__pycache__/|^/(?:proc|sys|dev|usr/include|usr/local/include|usr/lib/gcc|usr/libexec|"
    r"usr/share/doc|usr/share/man|usr/src/linux-[^/]*|usr/lib/python[^/]*|"
    r"usr/local/lib/python[^/]*|var/lib/dpkg)/")
# Either, in one search: this runs for most directories and files of the image.
_NO_PROJECT = re.compile(f"{_SYSTEM.pattern}|{THIRD_PARTY.pattern}")
# Directories that hold projects rather than being one.
CONTAINERS = frozenset({"/", "/usr", "/usr/local", "/usr/src", "/usr/local/src", "/opt",
                        "/home", "/srv", "/var", "/var/lib", "/var/www", "/tmp", "/usr/share",
                        "/usr/local/share", "/usr/lib", "/usr/local/lib", "/mnt", "/data"})
MAX_PATHS = 200  # a finding names at most this many paths; counts and bytes cover all


@dataclass
class Tree:
    """What one project tree holds."""

    root: str
    sources: Counter[str] = field(default_factory=Counter)  # language -> files
    headers: list[Node] = field(default_factory=list)
    files: list[Node] = field(default_factory=list)  # everything reported, in path order
    build: list[str] = field(default_factory=list)  # build file names
    objects: list[Node] = field(default_factory=list)
    beside_source: list[Node] = field(default_factory=list)  # .a, .class
    extras: dict[str, list[Node]] = field(default_factory=dict)  # "tests/" -> files
    scripts: dict[str, str] = field(default_factory=dict)  # CI or test script -> why
    docker: list[Node] = field(default_factory=list)


def _matches(name: str, globs: tuple[str, ...]) -> bool:
    return any(name_match(g, name) for g in globs)


def project_root(path: str, holders: frozenset[str]) -> str:
    """The top directory of the project ``path`` belongs to: the first ancestor that is not
    a place projects live in (``/src``, ``/opt/app``, ``/home/dev/app``)."""
    parent = posixpath.dirname(path)
    parts = parent.strip("/").split("/") if parent != "/" else []
    current = "/"
    for part in parts:
        current = posixpath.join(current, part)
        if current not in holders:
            return current
    return parent


@detector(LEFTOVER_SOURCE, OBJECT_FILES, BUILD_FILE, GIT_DIR, DOCKERFILE,
          wants=[Want(f"*{ext}", SCRIPT_BYTES) for ext in SCRIPT_EXTS])
def detect(ctx: ScanContext) -> Iterator[Finding]:
    """Source code and build leftovers: what a single-stage build copies in and never removes.

    A running program needs its binary (or, for interpreted languages, its scripts) and
    nothing else of its project. Left in the image, the source of compiled languages (C,
    C++, Go, Rust, Java, Kotlin, C#, Scala, Swift, Zig, TypeScript that was compiled to
    JavaScript), build files (Makefile, go.mod, Cargo.toml, pom.xml, build.gradle,
    CMakeLists.txt, tsconfig.json, *.csproj), object files, test folders, CI and IDE
    settings, and version-control metadata (``.git``) add bytes, reveal how the software is
    made (and sometimes its history and credentials), and usually mean the compiler shipped
    too.

    CI and test leftovers (**AUD-BUILD-FILE**): CI configuration (``.github/``,
    ``.gitlab-ci.yml``, ``Jenkinsfile``, ``.travis.yml``, ``ci/``, ``tox.ini``,
    ``noxfile.py``, ``pytest.ini``, ...) and shell scripts (``.sh``, ``.bash`` or a shell
    ``#!`` line) that are CI or test scripts: named so (``ci.sh``, ``run-tests.sh``,
    ``e2e-test.sh``) or, in their first 4 KiB, using a CI system's variables
    (``GITHUB_ACTIONS``, ``GITLAB_CI``, ``CI_COMMIT_*``, ``JENKINS_URL``, ...) or starting a
    test runner (``pytest``, ``go test``, ``npm test``, ``make check``, ``tox``, ...).
    ``evidence.ci_scripts`` says why each script was taken. The script the image starts
    (named in its ``ENTRYPOINT`` or ``CMD``) is never one.

    Reported: one finding per project tree (its top directory, e.g. ``/src`` or
    ``/home/dev/app``), naming what it holds; one per ``.git`` (``.hg``, ``.svn``) directory;
    one per tree that holds a Dockerfile, ``.dockerignore`` or compose file. Not reported:
    files a package owns (headers, Go's and Python's own sources, the standard libraries),
    anything in dependency trees (``node_modules``, ``site-packages``, ``dist-packages``,
    ``vendor``), in caches (reported as caches) or in toolchain directories (``/usr/local/go``,
    ``/usr/lib/jvm``), the scripts of interpreted programs (``.py``, ``.js``, ``.rb``, and
    ``.sh`` other than CI and test scripts), and ``.d.ts`` declaration files.

    Fix: build in one stage and ``COPY --from=build`` only the artefact into the final stage;
    keep ``.git``, Dockerfiles, tests and CI folders out of the build context with
    ``.dockerignore``.
    """
    holders = CONTAINERS | set(homes(ctx))
    caches = tuple(root + "/" for root in cache_roots(ctx))
    trees: dict[str, Tree] = {}
    skip_under: tuple[str, ...] = ()  # VCS, CI, IDE and test directories: taken whole
    owners = ctx.inventory.owned
    walk = ctx.tree.walk()
    for node in walk:
        path = node.path
        owned = path in owners
        if owned and node.kind != "dir":
            continue  # most files are a package's: the cheapest test first
        if path.startswith(skip_under) or _NO_PROJECT.search(path + "/") \
                or path.startswith(caches):
            if node.kind == "dir":
                walk.skip_below()  # these tests hold for everything under it too
            continue
        if owned:
            continue
        name = posixpath.basename(path)
        if node.kind == "dir":
            if name in VCS_DIRS:
                skip_under += (path + "/",)
                walk.skip_below()
                yield from _vcs_finding(ctx, node)
            elif name in CI_DIRS or name in IDE_DIRS or name in TEST_DIRS:
                skip_under += (path + "/",)
                walk.skip_below()
                inside = [n for n in files_under(ctx.tree, path) if ctx.owner(n.path) is None]
                if inside:
                    label = name if name not in TEST_DIRS else posixpath.relpath(
                        path, project_root(path, holders))
                    _tree(trees, path, holders).extras[label + "/"] = inside
            continue
        if node.is_file:
            _classify(ctx, trees, node, name, holders)
    for tree in sorted(trees.values(), key=lambda t: t.root):
        yield from _tree_findings(ctx, tree)


def _tree(trees: dict[str, Tree], path: str, holders: frozenset[str]) -> Tree:
    root = project_root(path, holders)
    return trees.setdefault(root, Tree(root))


def _classify(ctx: ScanContext, trees: dict[str, Tree], node: Node, name: str,
              holders: frozenset[str]) -> None:
    stem, ext = posixpath.splitext(name)
    ext = ext.lower()
    if name.endswith(".d.ts") or name.endswith((".d.mts", ".d.cts")):
        return
    if ext in SOURCE_LANGUAGES:
        if ext in TYPESCRIPT and not _compiled_typescript(ctx, node.path, stem, holders):
            return
        tree = _tree(trees, node.path, holders)
        tree.sources[SOURCE_LANGUAGES[ext]] += 1
        tree.files.append(node)
    elif ext in HEADERS:
        _tree(trees, node.path, holders).headers.append(node)
    elif name in BUILD_NAMES or _matches(name, BUILD_GLOBS):
        tree = _tree(trees, node.path, holders)
        tree.build.append(name)
        tree.files.append(node)
    elif ext in OBJECTS:
        _tree(trees, node.path, holders).objects.append(node)
    elif ext in OBJECTS_BESIDE_SOURCE:
        _tree(trees, node.path, holders).beside_source.append(node)
    elif _matches(name, DOCKER_GLOBS):
        _tree(trees, node.path, holders).docker.append(node)
    elif name in CI_FILES or _matches(name, IDE_GLOBS):
        _tree(trees, node.path, holders).extras[name] = [node]
    elif (why := _ci_script(ctx, node, name)) is not None:
        tree = _tree(trees, node.path, holders)
        tree.extras[name] = [*tree.extras.get(name, ()), node]
        tree.scripts[node.path] = why


def _ci_script(ctx: ScanContext, node: Node, name: str) -> str | None:
    """Why ``node`` is a CI or test script, or None: a shell script by its extension or
    ``#!`` line, named or written like one, and not what the image itself runs."""
    head = node.data or b""
    shell = name.endswith(SCRIPT_EXTS) or (
        head.startswith(b"#!") and re.match(rb"#![ \t]*\S*/(?:env[ \t]+)?(?:ba|da|k|z)?sh\b",
                                            head) is not None)
    if not shell or node.path in _runs(ctx):
        return None
    if CI_SCRIPT_NAME.match(name):
        return "named as a CI or test script"
    said = CI_SCRIPT_TEXT.search(head)
    if said is not None:
        return f"it mentions {said.group().strip().decode('ascii', 'replace')!r}"
    return None


def _runs(ctx: ScanContext) -> frozenset[str]:
    """What the image starts: every absolute path in its ENTRYPOINT and CMD (a script
    given to ``sh`` included), as written and resolved."""
    config = ctx.image.config
    named = [a for a in (*(config.entrypoint or ()), *(config.cmd or ())) if a.startswith("/")]
    return frozenset({*named, *(r for a in named if (r := ctx.tree.resolve(a)) is not None)})


def _compiled_typescript(ctx: ScanContext, path: str, stem: str,
                         holders: frozenset[str]) -> bool:
    """TypeScript counts as source when it was compiled: a .js beside it, or a tsconfig."""
    directory = posixpath.dirname(path)
    if ctx.tree.get(posixpath.join(directory, stem + ".js")) is not None:
        return True
    root = project_root(path, holders)
    while True:
        if ctx.tree.get(posixpath.join(directory, "tsconfig.json")) is not None:
            return True
        if directory in (root, "/") or not directory.startswith(root):
            return False
        directory = posixpath.dirname(directory)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _tree_findings(ctx: ScanContext, tree: Tree) -> Iterator[Finding]:
    has_source = bool(tree.sources)
    parts = [_plural(n, f"{lang} source file") for lang, n in sorted(tree.sources.items())]
    files = list(tree.files)
    if has_source:
        files += tree.headers + tree.beside_source
        if tree.headers:
            parts.append(_plural(len(tree.headers), "header"))
    files += tree.objects
    objects = len(tree.objects) + (len(tree.beside_source) if has_source else 0)
    if objects:
        parts.append(_plural(objects, "object file"))
    if tree.build:
        names = sorted(set(tree.build))
        parts.append(", ".join(names[:6]) + (" and more build files" if len(names) > 6 else ""))
    for label, extra in sorted(tree.extras.items()):
        files += extra
        parts.append(label)
    if files:
        rule = LEFTOVER_SOURCE if has_source else OBJECT_FILES if objects else BUILD_FILE
        evidence: dict[str, JsonValue] = {
            "languages": dict(tree.sources), "build_files": sorted(set(tree.build)),
            "object_files": objects, "other": sorted(tree.extras)}
        if tree.scripts:
            evidence["ci_scripts"] = dict(sorted(tree.scripts.items()))
        yield _finding(ctx, rule, tree.root, files, f"{tree.root}: {', '.join(parts)}",
                       evidence)
    if tree.docker:
        names = sorted({posixpath.basename(n.path) for n in tree.docker})
        yield _finding(ctx, DOCKERFILE, tree.root, tree.docker,
                       f"{tree.root}: {', '.join(names)}", {"names": names})


def _finding(ctx: ScanContext, rule: Rule, root: str, files: list[Node], text: str,
             evidence: dict[str, JsonValue]) -> Finding:
    files = sorted(files, key=lambda n: n.path)
    size = sum(n.size for n in files if n.kind == FILE)
    by_layer: Counter[int] = Counter()
    for n in files:
        by_layer[n.layer] += max(n.size, 1)
    layer = max(by_layer, key=lambda i: (by_layer[i], i))
    return ctx.finding(rule, f"{text}; {size_text(size)}", path=root,
                       paths=[root] + [n.path for n in files[:MAX_PATHS]], layer=layer,
                       size=size, evidence=Evidence.of(**evidence, files=len(files), root=root))


def _vcs_finding(ctx: ScanContext, node: Node) -> Iterator[Finding]:
    files = list(files_under(ctx.tree, node.path))
    size = sum(n.size for n in files if n.kind == FILE)
    kind = {".git": "git", ".hg": "Mercurial", ".svn": "Subversion"}[
        posixpath.basename(node.path)]
    layer = Counter(n.layer for n in files).most_common(1)[0][0] if files else node.layer
    yield ctx.finding(GIT_DIR, f"{node.path}: {kind} repository metadata "
                      f"({_plural(len(files), 'file')}, {size_text(size)})", path=node.path,
                      layer=layer, size=size,
                      evidence=Evidence.of(vcs=kind, files=len(files), bytes=size))

"""Package-manager and build caches left in the image, one finding per cache."""

from __future__ import annotations

import posixpath
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from auditor.detectors import ScanContext, detector
from auditor.detectors.waste import size_text
from auditor.filetree import FileTree, Node
from auditor.history import RunMount, mounted
from auditor.model.evidence import Evidence
from auditor.model.findings import Finding, Rule
from auditor.model.image import FILE
from auditor.read.wants import Want

CACHE = Rule("AUD-CACHE", "cache", "low", "Package or build cache left in the image",
             fix="Clean the cache in the same RUN that fills it, use a BuildKit cache mount, "
             "or copy only the build result into a clean final stage.")
MEDIUM_FROM = 10_000_000  # bytes
PASSWD_BYTES = 64 * 1024


# Trees a package manager or a toolchain installer wrote: dependencies, module caches and
# toolchains. Their sources are not the project's and their keys are test fixtures.
THIRD_PARTY = re.compile(
    r"/(?:node_modules|site-packages|dist-packages|vendor|bower_components|gems|\.gem|"
    r"\.cache|\.npm|\.rustup|\.cargo/registry|\.cargo/git|\.m2/repository|\.gradle/caches|"
    r"\.gradle/wrapper|pkg/mod|conda/pkgs)/"
    r"|^/(?:usr/local/go|usr/lib/go-[^/]+|usr/share/go-[^/]+|usr/lib/jvm|opt/java|opt/rust|"
    r"usr/local/cargo|usr/local/rustup)/")


@dataclass(frozen=True, slots=True)
class Cache:
    what: str
    fix: str
    keep: Callable[[str], bool] = lambda rel: True  # rel: path below the root


def _not_apt_bookkeeping(rel: str) -> bool:
    return rel != "lock" and rel != "partial" and not rel.startswith("partial/")


APT_LISTS = Cache("apt package lists (apt-get update)",
                  "End the RUN that installs with `&& rm -rf /var/lib/apt/lists/*`.",
                  _not_apt_bookkeeping)
APT_ARCHIVES = Cache("downloaded .deb packages", "End the RUN that installs with "
                     "`&& apt-get clean` (or keep Debian's docker-clean apt config).",
                     lambda rel: rel.endswith(".deb"))
APT_BINS = Cache("apt's binary package caches", "End the RUN that installs with "
                 "`&& apt-get clean`.")
APK = Cache("apk package cache", "Use `apk add --no-cache`.")
RPM = Cache("yum/dnf package cache", "End the RUN with `&& dnf clean all` (`yum clean all`).")
PIP = Cache("pip cache", "Use `pip install --no-cache-dir` (or PIP_NO_CACHE_DIR=1).")
PY_TOOLS = Cache("Python tool cache", "Clear it in the same RUN (`poetry cache clear`, "
                 "`uv cache clean`) or use a cache mount.")
NPM = Cache("npm cache", "End the RUN with `&& npm cache clean --force`.")
YARN = Cache("yarn cache", "End the RUN with `&& yarn cache clean`.")
PNPM = Cache("pnpm store", "Run `pnpm store prune` in the same RUN, or build in a stage.")
NODE_GYP = Cache("node-gyp headers", "Build native modules in a build stage.")
GO_BUILD = Cache("Go build cache", "Use `RUN --mount=type=cache,target=/root/.cache/go-build` "
                 "or a multi-stage build; `go clean -cache` in the same RUN also works.")
GO_MOD = Cache("Go module cache", "Use a cache mount for GOMODCACHE or a multi-stage build; "
               "`go clean -modcache` in the same RUN also works.")
MAVEN = Cache("Maven repository", "Build in a stage and copy only the artefact.")
GRADLE = Cache("Gradle caches", "Build in a stage and copy only the artefact.")
CARGO = Cache("Cargo registry", "Build in a stage and copy only the binary.")
COMPOSER = Cache("Composer cache", "Use `composer install --no-cache` or clear it.")
CCACHE = Cache("ccache", "Use a cache mount, or build in a stage.")

SYSTEM_CACHES: tuple[tuple[str, Cache], ...] = (
    ("/var/lib/apt/lists", APT_LISTS), ("/var/cache/apt/archives", APT_ARCHIVES),
    ("/var/cache/apk", APK), ("/etc/apk/cache", APK), ("/var/cache/dnf", RPM),
    ("/var/cache/yum", RPM), ("/usr/local/share/.cache/yarn", YARN),
)
HOME_CACHES: tuple[tuple[str, Cache], ...] = (
    (".cache/pip", PIP), (".cache/pypoetry", PY_TOOLS), (".cache/pipenv", PY_TOOLS),
    (".cache/uv", PY_TOOLS), (".npm/_cacache", NPM), (".cache/yarn", YARN),
    (".yarn/berry/cache", YARN), (".local/share/pnpm/store", PNPM), (".cache/pnpm", PNPM),
    (".cache/node-gyp", NODE_GYP), (".cache/go-build", GO_BUILD), ("go/pkg/mod", GO_MOD),
    (".m2/repository", MAVEN), (".gradle/caches", GRADLE), (".gradle/wrapper/dists", GRADLE),
    (".cargo/registry", CARGO), (".cargo/git", CARGO), (".composer/cache", COMPOSER),
    (".cache/composer", COMPOSER), (".ccache", CCACHE), (".cache/ccache", CCACHE),
)


def homes(ctx: ScanContext) -> list[str]:
    """Directories that are someone's home: /root, /home/*, and those /etc/passwd names."""
    found = ["/root"] + [n.path for n in ctx.tree.children("/home") if n.kind == "dir"]
    data = ctx.tree.read_prefix("/etc/passwd", PASSWD_BYTES) or b""
    for line in data.decode("utf-8", "replace").splitlines():
        fields = line.split(":")
        if len(fields) >= 7 and fields[5].startswith("/") and fields[5] != "/":
            found.append(posixpath.normpath(fields[5]))
    return list(dict.fromkeys(found))


def cache_locations(ctx: ScanContext) -> list[tuple[str, Cache]]:
    """Every place a cache could be in this image (existing or not), deepest names first
    resolved through symlinks, without duplicates."""
    env = ctx.image.config.env_map()
    places: list[tuple[str, Cache]] = list(SYSTEM_CACHES)
    for home in homes(ctx):
        places.extend((posixpath.join(home, rel), cache) for rel, cache in HOME_CACHES)
    if env.get("GOCACHE", "").startswith("/"):
        places.append((env["GOCACHE"], GO_BUILD))
    if env.get("GOMODCACHE", "").startswith("/"):
        places.append((env["GOMODCACHE"], GO_MOD))
    for gopath in env.get("GOPATH", "").split(":"):
        if gopath.startswith("/"):
            places.append((posixpath.join(gopath, "pkg/mod"), GO_MOD))
    out: dict[str, Cache] = {}
    for path, cache in places:
        real = ctx.tree.resolve(posixpath.normpath(path))
        node = ctx.tree.get(real) if real else None
        if real and node is not None and node.kind == "dir":
            out.setdefault(real, cache)
    return list(out.items())


def cache_roots(ctx: ScanContext) -> list[str]:
    """The cache directories present in the image (other detectors skip what is inside)."""
    return [path for path, _ in cache_locations(ctx)]


def files_under(tree: FileTree, root: str) -> Iterator[Node]:
    stack = [root]
    while stack:
        for child in tree.children(stack.pop()):
            if child.kind == "dir":
                stack.append(child.path)
            elif child.is_file:
                yield child


@detector(CACHE, wants=[Want("/etc/passwd", PASSWD_BYTES)])
def detect(ctx: ScanContext) -> Iterator[Finding]:
    """Package-manager and build caches left in the image.

    Package indexes (``apt-get update``'s lists, apk's index), downloaded packages (apt's
    ``.deb`` archives), language package caches (pip, npm, yarn, Maven, Gradle, Cargo, the
    Go module cache) and build caches (Go's build cache, ccache) are needed while the image is
    built and never when it runs. Left in the image they cost download time and disk on every
    host that pulls it, and can hold copies of private packages.

    One finding per cache, with the bytes and number of files under it in the final image
    (empty caches are not reported): medium from 10 MB, low below. Homes are ``/root``,
    ``/home/*`` and the home directories in ``/etc/passwd``; ``GOCACHE``, ``GOMODCACHE`` and
    ``GOPATH`` from the image's ENV are honoured.

    Fix: clean up in the same RUN that fills the cache (``apt-get update && apt-get install
    ... && rm -rf /var/lib/apt/lists/*``, ``apk add --no-cache``, ``pip install
    --no-cache-dir``, ``npm ci && npm cache clean --force``), use BuildKit cache mounts
    (``RUN --mount=type=cache,target=/root/.cache/go-build``), or build in one stage and copy
    only the result into a clean final stage. Deleting a cache in a later RUN does not help:
    its bytes stay in the layer that wrote them (see wasted space).

    A cache mount is the right way, and is not reported: a file is left out when the RUN
    that wrote its layer mounted a cache (or a tmpfs, a bind, a secret) over it, as the
    history records (buildah) or the Dockerfile says (``--dockerfile``, for BuildKit, whose
    history leaves the flags out). A layer that wrote into the same directory without the
    mount is reported as ever.
    """
    in_mount = _in_a_mount(ctx)
    for root, cache in cache_locations(ctx):
        files = sorted((n for n in files_under(ctx.tree, root)
                        if cache.keep(posixpath.relpath(n.path, root)) and not in_mount(n)),
                       key=lambda n: n.path)
        if files:
            yield _finding(ctx, root, cache, files, [root])
    bins = [n for n in ctx.tree.children("/var/cache/apt")
            if n.is_file and n.path.endswith(".bin")]
    if bins:
        yield _finding(ctx, bins[0].path, APT_BINS, bins, [n.path for n in bins])


def _in_a_mount(ctx: ScanContext) -> Callable[[Node], bool]:
    """Whether a file lies in a mount of the RUN that made its layer."""
    by_layer: dict[int, tuple[RunMount, ...]] = {}

    def check(node: Node) -> bool:
        mounts = by_layer.get(node.layer)
        if mounts is None:
            mounts = by_layer[node.layer] = ctx.layer_mounts(node.layer)
        return bool(mounts) and mounted(node.path, mounts)

    return check


def _finding(ctx: ScanContext, root: str, cache: Cache, files: list[Node],
             paths: list[str]) -> Finding:
    size = sum(n.size for n in files if n.kind == FILE)
    by_layer: Counter[int] = Counter()
    for n in files:
        by_layer[n.layer] += n.size if n.kind == FILE else 0
    layer = max(by_layer, key=lambda i: (by_layer[i], i))
    where = root if paths == [root] else ", ".join(paths)
    return ctx.finding(
        CACHE, f"{cache.what} in {where}: {size_text(size)} in {len(files)} "
        f"file{'s' if len(files) != 1 else ''}", path=paths[0], paths=paths, layer=layer,
        size=size, severity="medium" if size >= MEDIUM_FROM else "low",
        fix=cache.fix, claim=[(n.layer, n.path, n.size) for n in files if n.kind == FILE],
        evidence=Evidence.of(
            cache=cache.what, files=len(files), bytes=size,
            bytes_by_layer={str(i): b for i, b in sorted(by_layer.items())},
            sample=[n.path for n in files[:5]]))

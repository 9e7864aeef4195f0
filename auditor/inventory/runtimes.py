"""Language runtimes unpacked outside a package database, as the official images ship
them: a JDK in ``/opt/java/openjdk``, Go in ``/usr/local/go``, Node and Python built into
``/usr/local``, a lone BusyBox. Each is a ``runtime`` package whose files are its install
tree, and whose ``version_from`` says where its version was read:

- Java: the ``release`` file beside ``bin/java`` (``JAVA_VERSION="17.0.9"``; Eclipse
  Adoptium's builds, by ``IMPLEMENTOR``, are named ``temurin``, the others ``openjdk``);
- Go: ``VERSION`` beside ``bin/go`` (``go1.21.5``, its first line), else the build info
  of ``bin/go`` itself;
- Node: ``include/node/node_version.h`` beside ``bin/node`` (``NODE_MAJOR_VERSION``...),
  else the release strings in ``bin/node`` itself (``node.js/v20.10.0``, the release URL)
  or in the ``libnode.so`` it needs from ``lib`` beside ``bin`` (Debian's);
- Python: ``include/pythonX.Y/patchlevel.h`` beside ``bin/pythonX.Y`` (``PY_VERSION``),
  else the ``PY_VERSION`` literal in ``bin/pythonX.Y`` or ``lib/libpythonX.Y.so``, else
  ``X.Y`` from the ``lib/pythonX.Y`` directory;
- BusyBox: its banner (``BusyBox v1.36.1``), which the ELF reader finds in the read-only
  data of any executable as it streams past, so a renamed copy is listed too.

A version read from a binary (``read/identity.release_pattern``; the ELF reader searches
the read-only data of those few files as they stream past) is taken only when the files
hold exactly one candidate: two different ones leave the version to the next source.

A runtime a package database also lists (Debian's openjdk, Alpine's busybox) is listed
all the same, with the version its own files say: a policy's rule on ``openjdk`` then
meets a tarball JDK and a packaged one alike, and a binary that is not what its database
claims shows as such.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator

from auditor.filetree import FileTree, Node
from auditor.inventory import Package, cataloger
from auditor.inventory._read import KiB, find_files, path_index, read_content
from auditor.inventory.trees import SHARED_DIRS, tree_files
from auditor.model.image import DIR, FILE, Skipped
from auditor.read.wants import Want

JAVA_WANTS = [Want("**/release", 64 * KiB)]
GO_WANTS = [Want("**/VERSION", 4 * KiB)]
NODE_WANTS = [Want("**/include/node/node_version.h", 64 * KiB)]
PYTHON_WANTS = [Want("**/include/python*/patchlevel.h", 64 * KiB)]
WANTS = [*JAVA_WANTS, *GO_WANTS, *NODE_WANTS, *PYTHON_WANTS]

_RELEASE_LINE = re.compile(r'^([A-Z_]+)="?([^"\n]*)"?\s*$', re.M)
_GO_VERSION = re.compile(r"go(\d+\.\d+(?:\.\d+)?(?:(?:rc|beta)\d+)?)\b")
_NODE_DEFINE = re.compile(rb"#define\s+NODE_(MAJOR|MINOR|PATCH)_VERSION\s+(\d+)")
_PY_VERSION = re.compile(rb'#define\s+PY_VERSION\s+"([0-9][0-9A-Za-z.+]*)"')
_BUSYBOX = re.compile(r"BusyBox v(\d+\.\d+(?:\.\d+)?)")
_PY_BIN = re.compile(r"^(.*)/bin/python(\d+\.\d+)$")
VERSION_TEXT = re.compile(r"[0-9][0-9A-Za-z.+_-]{0,63}")


def _runtime(name: str, version: str, root: str, main: str,
             files: list[Node], version_from: str) -> Package:
    unique = {n.path: n for n in files}  # a file reached two ways counts once
    paths = [main, *sorted(set(unique) - {main})]
    return Package(name=name, version=version, ecosystem="runtime", files=tuple(paths),
                   installed_size=sum(n.size for n in unique.values() if n.kind == FILE),
                   location=root, version_from=version_from)


def _text(tree: FileTree, path: str, skipped: list[Skipped]) -> str | None:
    content = read_content(tree, path, skipped, "version file")
    return content.data.decode("utf-8", "replace") if content is not None else None


def _java(tree: FileTree, skipped: list[Skipped]) -> Iterator[Package]:
    for node in find_files(tree, JAVA_WANTS, ("/release",)):
        root = posixpath.dirname(node.path)
        if tree.lookup(root + "/bin/java") is None or root in SHARED_DIRS:
            continue
        text = _text(tree, node.path, skipped)
        fields = dict(_RELEASE_LINE.findall(text or ""))
        version = fields.get("JAVA_VERSION", "")
        if not VERSION_TEXT.fullmatch(version):
            skipped.append(Skipped(node.path, "JDK release file has no JAVA_VERSION"))
            continue
        name = "temurin" if "adoptium" in fields.get("IMPLEMENTOR", "").lower() else "openjdk"
        yield _runtime(name, version, root, root + "/bin/java", list(tree_files(tree, root)),
                       f"{node.path} JAVA_VERSION")


def _go(tree: FileTree, skipped: list[Skipped]) -> Iterator[Package]:
    found: set[str] = set()
    for node in find_files(tree, GO_WANTS, ("/VERSION",)):
        root = posixpath.dirname(node.path)
        if tree.lookup(root + "/bin/go") is None or root in SHARED_DIRS:
            continue
        text = _text(tree, node.path, skipped) or ""
        m = _GO_VERSION.match(text.split("\n", 1)[0].strip())
        if m is None:
            skipped.append(Skipped(node.path, "Go VERSION file does not start with goN.N"))
            continue
        found.add(root)
        yield _runtime("go", m[1], root, root + "/bin/go", list(tree_files(tree, root)),
                       f"{node.path} first line")
    # a Go tree without VERSION: the go command's own build info says its release
    for node in path_index(tree).ending(("/bin/go",)):
        path = node.path
        root = path[:-len("/bin/go")]
        blob = node.elf.go_buildinfo if node.kind == FILE and node.elf is not None else None
        if root in found or root in SHARED_DIRS or blob is None or \
                "path\tcmd/go\n" not in blob.modinfo or tree.get(root + "/pkg/tool") is None:
            continue
        m = _GO_VERSION.match(blob.version)
        if m is not None:
            yield _runtime("go", m[1], root, path, list(tree_files(tree, root)),
                           f"{path} Go build info")


def _prefix_files(tree: FileTree, root: str, subtrees: list[str], singles: list[str]
                  ) -> list[Node]:
    """A runtime's files in a prefix it shares (``/usr/local``): only its own parts."""
    if root not in SHARED_DIRS:
        return list(tree_files(tree, root))
    out = [n for sub in subtrees for n in tree_files(tree, root + sub)]
    out += [n for p in singles if (n := tree.get(root + p)) is not None and n.is_file]
    return out


def _release(node: Node | None) -> tuple[str, ...]:
    """The release literals the ELF reader found in a runtime's binary or library."""
    if node is None or node.kind != FILE or node.elf is None:
        return ()
    found: tuple[str, ...] = node.elf.releases
    return found


def _node_files(tree: FileTree, root: str) -> list[Node]:
    # npm and corepack in lib/node_modules are npm packages of their own
    return _prefix_files(tree, root, ["/include/node", "/share/doc/node"],
                         ["/bin/node", "/share/man/man1/node.1",
                          "/share/systemtap/tapsets/node.stp"])


def _node(tree: FileTree, skipped: list[Skipped]) -> Iterator[Package]:
    found: set[str] = set()
    for node in find_files(tree, NODE_WANTS, ("/include/node/node_version.h",)):
        root = node.path[:-len("/include/node/node_version.h")] or "/"
        main = root.rstrip("/") + "/bin/node"
        if tree.lookup(main) is None:
            continue
        content = read_content(tree, node.path, skipped, "node_version.h")
        parts = dict(_NODE_DEFINE.findall(content.data if content else b""))
        if not all(k in parts for k in (b"MAJOR", b"MINOR", b"PATCH")):
            skipped.append(Skipped(node.path, "node_version.h has no NODE_*_VERSION"))
            continue
        version = ".".join(parts[k].decode() for k in (b"MAJOR", b"MINOR", b"PATCH"))
        found.add(main)
        yield _runtime("node", version, root, main, _node_files(tree, root),
                       f"{node.path} NODE_MAJOR/MINOR/PATCH_VERSION")
    # no header: the binary's own release strings, when they agree on one version
    for binary in path_index(tree).ending(("/bin/node",)):
        path = binary.path
        if path in found:
            continue
        root = path[:-len("/bin/node")] or "/"
        source: Node | None = binary
        if not _release(source):
            source = _libnode(tree, root, binary)
        versions = _release(source)
        if len(versions) == 1 and source is not None:
            files = [*_node_files(tree, root), source]
            yield _runtime("node", versions[0], root, path, files,
                           f"{source.path} release string")


def _libnode(tree: FileTree, root: str, binary: Node) -> Node | None:
    """The ``libnode.so`` a node launcher needs, in ``lib`` or ``lib/<triplet>`` of its root."""
    if binary.kind != FILE or binary.elf is None:
        return None
    names = [n for n in binary.elf.needed if n.startswith("libnode.so")]
    lib = root.rstrip("/") + "/lib"
    dirs = [lib, *(d.path for d in tree.children(lib) if d.kind == DIR)]
    for name in names:
        for directory in dirs:
            found = tree.lookup(f"{directory}/{name}")
            if found is not None and found.kind == FILE:
                return found
    return None


def _python(tree: FileTree, skipped: list[Skipped]) -> Iterator[Package]:
    headers = {n.path: n for n in find_files(tree, PYTHON_WANTS, ("/patchlevel.h",))}
    # _PY_BIN holds only for an entry of a directory named bin
    binaries = sorted(n.path for bin_dir in path_index(tree).named("bin") if bin_dir.kind == DIR
                      for n in tree.children(bin_dir.path)
                      if n.path.rpartition("/")[2].startswith("python"))
    for path in binaries:
        node = tree.nodes[path]
        m = _PY_BIN.match(path)
        if m is None or not node.is_file:
            continue
        root, xy = m[1] or "/", m[2]
        lib = f"{root}/lib/python{xy}"
        if tree.get(lib) is None:
            continue
        header = f"{root}/include/python{xy}/patchlevel.h"
        version, version_from = xy, f"{lib} directory"
        if header in headers:
            content = read_content(tree, header, skipped, "patchlevel.h")
            found = _PY_VERSION.search(content.data) if content is not None else None
            if found is not None and found[1].decode().startswith(xy):
                version, version_from = found[1].decode(), f"{header} PY_VERSION"
        own = [n for n in tree_files(tree, lib)
               if "/site-packages/" not in n.path and "/dist-packages/" not in n.path]
        own += _prefix_files(tree, root, [f"/include/python{xy}"], [])
        own += [n for n in tree.children(root + "/bin") if n.is_file and
                n.path.rsplit("/", 1)[1].startswith(("python", "pydoc", "idle", "2to3"))]
        libs = [n for n in tree.children(root + "/lib") if n.is_file and
                n.path.rsplit("/", 1)[1].startswith(f"libpython{xy}")]
        if version == xy:
            version, version_from = _python_literal(tree, path, libs, xy, version_from)
        yield _runtime("python", version, root, path, own + libs, version_from)


def _python_literal(tree: FileTree, path: str, libs: list[Node], xy: str, fallback: str
                    ) -> tuple[str, str]:
    """PY_VERSION from the interpreter or its libpython, if they name one X.Y.Z only."""
    where: dict[str, str] = {}  # version -> the first file that holds it
    for node in [tree.nodes[path], *libs]:
        for version in _release(node):
            where.setdefault(version, node.path)
    if len(where) == 1:
        [(version, source)] = where.items()
        return version, f"{source} PY_VERSION string"
    return xy, fallback


def _busybox(tree: FileTree, skipped: list[Skipped]) -> Iterator[Package]:
    # the ELF reader has searched every executable's read-only data for its banner
    for node in path_index(tree).elves:
        if not any(c == "busybox" for c, _ in node.elf.identity):
            continue
        path = node.path
        what = dict(node.elf.identity)["busybox"]
        m = _BUSYBOX.search(what)
        if m is not None:
            yield _runtime("busybox", m[1], path, path, [node], f"{path} banner")


@cataloger("runtimes", wants=WANTS)
def catalog_runtimes(tree: FileTree, skipped: list[Skipped]) -> Iterator[Package]:
    for find in (_java, _go, _node, _python, _busybox):
        yield from find(tree, skipped)

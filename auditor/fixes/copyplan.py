"""What the final stage copies from the builder, and how, so that the program still runs.

The runtime closure names paths the way the program asks for them: the loader by its
``PT_INTERP`` path, a library by a soname link, ``/lib/...`` through merged ``/usr``'s
``/lib -> usr/lib``. Two ways to carry them over, both buildable by the legacy builder:

- one ``COPY --from=build PATH PATH`` per name. COPY dereferences a symlink given as its
  source, so each name arrives as a regular file under the name the program uses; a
  name that is only a hop of another name's link chain is left out (it would be a second
  copy of the same bytes). Readable, and right for a handful of files (a C or Go binary).
- for larger closures (an interpreter, its standard library, the app), one RUN in the
  builder gathers every file *and every symlink met on the way to it* into one directory
  with tar, and one ``COPY --from=build /auditor-runtime/ /`` brings it over: the links
  stay links, so the layout is the builder's own and nothing is stored twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from auditor.filetree import Node
from auditor.fixes import dockerquote as dq
from auditor.model.findings import Finding
from auditor.model.tree import Tree

MAX_COPIES = 12  # above this, gather with tar: a COPY is a layer, and links become copies
STAGING_DIR = "/auditor-runtime"
MAX_HOPS = 40


@dataclass(frozen=True, slots=True)
class CopyPlan:
    copies: tuple[str, ...]  # per-path COPY sources (== destinations)
    staged: tuple[str, ...] = ()  # with staging: files and links, no recursion
    staged_dirs: tuple[str, ...] = ()  # with staging: whole directories
    bytes: int = 0  # file bytes the final stage gets
    missing: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def staging(self) -> bool:
        return bool(self.staged or self.staged_dirs)

    def builder_run(self) -> str:
        """The RUN that gathers a staged closure in the builder (shell and tar needed)."""
        lines = [f"RUN mkdir -p {STAGING_DIR}"]
        if self.staged:  # the plan staged only names dq.tar_name can write
            names = " \\\n      ".join(str(dq.tar_name(p)) for p in self.staged)
            lines.append(f" && tar -C / -cf - --no-recursion \\\n      {names} \\\n"
                         f"    | tar -C {STAGING_DIR} -xpf -")
        if self.staged_dirs:
            names = " \\\n      ".join(str(dq.tar_name(p)) for p in self.staged_dirs)
            lines.append(f" && tar -C / -cf - \\\n      {names} \\\n"
                         f"    | tar -C {STAGING_DIR} -xpf -")
        return " \\\n".join(lines)


def trace(tree: Tree, path: str) -> tuple[list[str], str | None]:
    """The symlinks met while resolving ``path`` in the image (each at its real place),
    and the real path it ends at (None when it ends nowhere)."""
    links: list[str] = []
    parts = [p for p in path.split("/") if p]
    cur = ""
    hops = 0
    while parts:
        comp = parts.pop(0)
        if comp == ".":
            continue
        if comp == "..":
            cur = cur.rsplit("/", 1)[0]
            continue
        cand = f"{cur}/{comp}"
        node = tree.get(cand)
        if node is None:
            return links, None
        if node.kind == "symlink":
            hops += 1
            if hops > MAX_HOPS:
                return links, None
            if cand not in links:
                links.append(cand)
            target = node.link or ""
            if target.startswith("/"):
                cur = ""
            parts = [p for p in target.split("/") if p] + parts
            continue
        cur = cand
    return links, cur or "/"


def file_size(tree: Tree, node: Node) -> int:
    if node.kind == "hardlink" and node.link:
        target = tree.get(node.link)
        return target.size if target is not None else 0
    return node.size if node.kind in ("file", "hardlink") else 0


def dir_bytes(tree: Tree, real_dir: str) -> int:
    prefix = real_dir.rstrip("/") + "/"
    return sum(n.size for n in tree if n.kind == "file" and n.path.startswith(prefix))


def plan_copies(files: Sequence[str], tree: Tree | None, *,
                keep: Callable[[Node], bool] | None = None, can_stage: bool = True,
                max_copies: int = MAX_COPIES) -> CopyPlan:
    """How the final stage gets ``files`` (closure entries: files and the symlinks that
    lead to them, each at its real place) from the builder.

    ``keep(node)`` is False for what the final base already has (when it is a base the
    image was built on). ``can_stage``: the builder has a shell and tar. Without the tree
    nothing can be resolved and every path is copied as named.
    """
    if tree is None:
        return CopyPlan(copies=tuple(dict.fromkeys(files)),
                        notes=("the image's file tree was not given: every closure path is "
                               "copied as named",))
    reals: dict[str, Node] = {}
    links: dict[str, Node] = {}
    dirs: dict[str, Node] = {}
    missing: list[str] = []
    for path in dict.fromkeys(files):
        node = tree.get(path)
        if node is None:  # named through a link: keep the links and the file it ends at
            chain, real = trace(tree, path)
            node = tree.get(real) if real else None
            if node is None:
                missing.append(path)
                continue
            links.update((p, n) for p in chain if (n := tree.get(p)) is not None)
        if keep is not None and not keep(node):
            continue
        if node.kind == "dir":
            dirs[node.path] = node
        elif node.kind == "symlink":
            links[node.path] = node
        elif node.kind in ("file", "hardlink"):
            reals[node.path] = node
    reals = {p: n for p, n in reals.items() if not _under(p, dirs)}
    size = sum(file_size(tree, n) for n in reals.values()) + sum(dir_bytes(tree, d)
                                                                 for d in dirs)
    names = _names(tree, reals, links)
    hard = [n for n in [*names, *dirs] if not dq.copy_path(n)]  # a COPY cannot name them
    # several names for one file (busybox's applets): gathered, the links stay links
    shared = len(names) > len(set(names.values()))
    if (len(reals) + len(dirs) <= max_copies and not hard and not shared) or not can_stage:
        notes: list[str] = []
        if hard:
            notes.append(_unwritable(hard))
            names = {n: r for n, r in names.items() if n not in hard}
            dirs = {d: n for d, n in dirs.items() if d not in hard}
        if len(names) + len(dirs) > max_copies:
            notes.append(f"{len(names) + len(dirs)} COPY instructions (one layer each): the "
                         "builder has no shell and tar to gather them into one")
        copied = sum(file_size(tree, reals[r]) for r in names.values()) + sum(
            dir_bytes(tree, d) for d in dirs)
        return CopyPlan(tuple(sorted(dirs)) + tuple(sorted(names)), bytes=copied,
                        missing=tuple(missing), notes=tuple(notes))
    staged, whole = _collapse(tree, {p for p in {**links, **reals} if not _under(p, dirs)})
    whole_dirs = sorted({*dirs, *whole})
    hard = [p for p in [*staged, *whole_dirs] if dq.tar_name(p) is None]
    if hard:
        size -= sum(file_size(tree, n) for p in hard if (n := tree.get(p)) is not None) + sum(
            dir_bytes(tree, d) for d in whole_dirs if d in hard)
    return CopyPlan((), staged=tuple(p for p in staged if p not in hard),
                    staged_dirs=tuple(d for d in whole_dirs if d not in hard), bytes=size,
                    missing=tuple(missing), notes=(_unwritable(hard),) if hard else ())


def _unwritable(paths: Sequence[str]) -> str:
    shown = ", ".join(repr(p) for p in paths[:8])
    return (f"not copied, as their names cannot be written in a Dockerfile as they are "
            f"(copy them by hand): {shown}")


def _collapse(tree: Tree, entries: set[str]) -> tuple[tuple[str, ...], set[str]]:
    """``entries`` with every directory they fill completely named once instead (the
    standard library, node_modules, the app): (the rest, the directories)."""
    parents: set[str] = set()
    for path in entries:
        while (path := path.rsplit("/", 1)[0]) and path not in parents:
            parents.add(path)
    complete: set[str] = set()
    for directory in sorted(parents, key=lambda p: -p.count("/")):  # deepest first
        children = tree.children(directory)
        if children and all(c.path in entries or c.path in complete for c in children):
            complete.add(directory)
    top = {d for d in complete if d.rsplit("/", 1)[0] not in complete}
    rest = tuple(sorted(p for p in entries if not _under(p, top)))
    return rest, top


def _names(tree: Tree, reals: dict[str, Node], links: dict[str, Node]) -> dict[str, str]:
    """One name per file, for a COPY that dereferences: the name reached through the most
    of the closure's links (``/lib64/ld-linux-x86-64.so.2`` rather than the file under
    ``/usr/lib/x86_64-linux-gnu`` it ends at), since the closure walk kept a link only
    because a program asked for the path through it. Name -> real path."""
    dir_links = {p: real for p in links if (real := trace(tree, p)[1]) is not None
                 and (n := tree.get(real)) is not None and n.kind == "dir"}
    candidates = set(reals) | {p for p in links if p not in dir_links}
    for _ in range(MAX_HOPS):  # spell each path through each directory link, to a fixpoint
        more = {link + c[len(real):] for c in candidates for link, real in dir_links.items()
                if c.startswith(real + "/")} - candidates
        if not more:
            break
        candidates |= more
    best: dict[str, tuple[int, int, str]] = {}
    hops: set[str] = set()  # links passed on the way to another name
    for name in sorted(candidates):
        chain, real = trace(tree, name)
        if real is None or real not in reals or any(p not in links for p in chain):
            continue
        hops.update(p for p in chain if p != name)
        score = (len(chain), -len(name), name)
        if real not in best or score[:2] > best[real][:2]:
            best[real] = score
    chosen = {name: real for real, (_, _, name) in best.items()}
    # Every other link the program runs by its own name (``/bin/id`` and ``/bin/sh``, both
    # busybox) is a name too: a multi-call binary tells its applets apart by that name.
    for link in sorted(links):
        real = trace(tree, link)[1]
        if link not in dir_links and link not in hops and link not in chosen and \
                real in reals:
            chosen[link] = real
    return chosen


def _under(path: str, dirs: Iterable[str]) -> bool:
    return any(path == d or path.startswith(d.rstrip("/") + "/") for d in dirs)


def held_by(f: Finding) -> tuple[str, ...]:
    """The image paths that hold what finding ``f`` is about: its own paths, and for a
    Java compiler its JDK's ``lib/modules``. The ``javac`` launcher is a small front for the
    ``jdk.compiler`` module inside that runtime image, so a final stage that copies the
    JDK's ``lib/modules`` for ``java`` keeps the compiler (``java -m jdk.compiler/...``
    still compiles) even without ``bin/javac``; only a ``jlink``-made runtime drops it."""
    paths = f.paths or ((f.path,) if f.path else ())
    root = f.evidence.extras.get("install_tree")
    if f.category == "compiler" and f.evidence.extras.get("install_tree_kind") == "java" \
            and isinstance(root, str):
        paths = (*paths, root.rstrip("/") + "/lib/modules")
    return paths


def keeper(tree: Tree, plan: CopyPlan, base_has: Callable[[Node], bool] | None = None
           ) -> Callable[[str], bool]:
    """Whether an image path is still in the final stage that ``plan`` fills: copied (a
    COPY dereferences its source; gathered entries are the files and links as they are),
    under a copied directory, or provided by the new base (``base_has``)."""
    files = {r for p in plan.copies if (r := trace(tree, p)[1]) is not None} | set(plan.staged)
    dirs = [*plan.staged_dirs, *(f for f in files if (n := tree.get(f)) is not None
                                 and n.kind == "dir")]

    def kept(path: str) -> bool:
        real = trace(tree, path)[1] or path
        node = tree.get(real)
        return (node is not None and base_has is not None and base_has(node)) \
            or real in files or any(real.startswith(d.rstrip("/") + "/") for d in dirs)

    return kept


"""The static runtime closure of an image: every file its ENTRYPOINT/CMD needs to start,
found without running it, and the smallest base image that closure allows.

From the command (exec form, or the shell form ``/bin/sh -c "..."``, whose shell is then
in the closure too), resolved through the image's PATH and WORKDIR, the walk (``follow``)
follows wrappers (``env``, ``tini``, ``gosu``), ``#!`` interpreters, the commands shell
scripts run (``scripts``), ELF ``PT_INTERP`` and ``DT_NEEDED`` through the image's library
search path, and the runtime rules of Python, Node.js and Java (``runtimes``). What it
cannot know statically (modules imported by name at run time, a script's ``eval``) is said
in ``notes``.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Mapping

from auditor.closure.follow import DEFAULT_PATH, CommandWalk
from auditor.closure.follow import shell_command as shell_command
from auditor.closure.libpath import LD_SO_WANTS, LibrarySearch, is_musl
from auditor.closure.runtimes import Runtime
from auditor.closure.walk import ClosureWalk
from auditor.inventory import Inventory
from auditor.model.closure import Closure
from auditor.model.image import FILE, HARDLINK, ImageConfig
from auditor.model.tree import Tree
from auditor.read.elf import ElfFacts
from auditor.read.wants import SCRIPT_PREFIX, Want

# Shell libraries a script sources are often not executable: the layer reader keeps the
# start of every executable, and every #! script whole up to SCRIPT_PREFIX, but not these.
CLOSURE_WANTS = [*LD_SO_WANTS, Want("**/*.sh", SCRIPT_PREFIX)]
# Shared objects every glibc (or musl) system has, and those the C++ runtime adds: what
# gcr.io/distroless/cc carries.
GLIBC = ("libc.so", "libm.so", "libpthread.so", "libdl.so", "librt.so", "libutil.so",
         "libresolv.so", "libanl.so", "libmvec.so", "libnss_", "ld-linux", "ld64.so",
         "libcrypt.so")
CC_RUNTIME = ("libgcc_s.so", "libstdc++.so", "libgomp.so", "libatomic.so")
NSS_FILES = ("/etc/nsswitch.conf", "/etc/passwd", "/etc/group")
CA_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt",
              "/etc/ssl/cert.pem")
DISTROLESS_PYTHON = "3.11"  # what gcr.io/distroless/python3-debian12 ships

ElfSource = Mapping[str, ElfFacts] | Callable[[str], "ElfFacts | None"]


def command_of(config: ImageConfig) -> list[str]:
    """What the container runs: ENTRYPOINT followed by CMD (CMD alone without one)."""
    if config.entrypoint:
        return [*config.entrypoint, *(config.cmd or ())]
    return list(config.cmd or ())


def _elf_source(tree: Tree, elf: ElfSource | None) -> Callable[[str], ElfFacts | None]:
    if elf is None:  # facts the layer reader attached to each node
        return lambda path: getattr(tree.get(path), "elf", None)
    if callable(elf):
        return elf
    return elf.get


def _glibc_extras(walk: ClosureWalk, search: LibrarySearch) -> None:
    tree = walk.tree
    has_glibc = any(posixpath.basename(p).startswith("libc.so.") for p in walk.kept)
    if has_glibc and not any(is_musl(i) for i in walk.interpreters):
        present = [p for p in NSS_FILES if tree.lookup(p) is not None]
        for path in present:
            walk.add(path)
        walk.notes.append("glibc reads " + (", ".join(present) or "no NSS file (none here)")
                          + " to name users and hosts; iconv would also need the gconv "
                          "modules (not included).")
    if search.used_conf_dirs and tree.lookup("/etc/ld.so.cache") is not None:
        walk.add("/etc/ld.so.cache")
        walk.notes.append("Libraries were found through /etc/ld.so.conf ("
                          + ", ".join(sorted(search.used_conf_dirs))
                          + "): /etc/ld.so.cache is included so the loader finds them.")
    bundle = next((p for p in CA_BUNDLES if tree.lookup(p) is not None), None)
    if bundle is not None:
        walk.notes.append(f"The image has CA certificates ({bundle}), not in the closure: "
                          "add them if the app makes TLS connections.")


def _base_candidate(kind: str, run: CommandWalk, walk: ClosureWalk, version: str | None
                    ) -> tuple[str, str]:
    base, why = _base_for(kind, sorted(walk.required), version, run.program)
    if run.shell is not None and base not in ("slim", "unknown"):
        if run.shell_why == "the shell form":
            return "slim", (f"the shell form runs {run.shell}, which {base} lacks; in exec "
                            f"form the program would allow {base} ({why})")
        return "slim", (f"{run.shell_why} runs under {run.shell}, which {base} lacks; the "
                        f"program it runs would allow {base} ({why})")
    return base, why


def _base_for(kind: str, libs: list[str], version: str | None, program: ElfFacts | None
              ) -> tuple[str, str]:
    if kind == "python":
        if version == DISTROLESS_PYTHON:
            return "distroless-python3", (f"a Python {version} app: distroless python3 ships "
                                          "the same Python")
        return "slim", f"a Python {version or ''} app: python:{version or '3'}-slim"
    if kind == "node":
        return "distroless-nodejs", "a Node.js app: a distroless nodejs (or node slim) base"
    if kind == "java":
        return "distroless-java", f"a Java app ({version or 'JRE'}): a distroless java base"
    if kind == "script":
        return "slim", "a script needs its interpreter and the programs it runs: a slim base"
    if kind == "static":
        return "scratch", "statically linked: it needs no shared library"
    if kind != "dynamic":
        return "unknown", "what the image runs could not be worked out"
    if program is None or program.incomplete or not libs:
        if program is not None and not program.incomplete and not program.needed:
            # a PT_INTERP and no DT_NEEDED (some Go builds): the loader goes along
            return "scratch", ("dynamically linked but needs no shared library, only its "
                               "ELF interpreter, which the closure carries")
        return "slim", "the libraries it needs could not all be read or found"
    if libs and all(n.startswith(GLIBC + CC_RUNTIME) for n in libs):
        return "distroless-cc", "needs only the C runtime: " + ", ".join(libs)
    if libs and all(n.startswith(("libc.musl", "ld-musl")) for n in libs):
        return "alpine", "needs only musl: " + ", ".join(libs)
    extra = [n for n in libs if not n.startswith(GLIBC + CC_RUNTIME)]
    return "slim", "needs libraries beyond the C runtime: " + ", ".join(extra)


def compute_closure(tree: Tree, config: ImageConfig, elf: ElfSource | None = None,
                    inventory: Inventory | None = None) -> Closure:
    """The runtime closure of the image whose squashed tree and config are given.

    ``elf`` gives the ELF facts of a path (a mapping or a function); without it, the
    ``elf`` attribute the layer reader attaches to tree nodes. ``inventory`` tells npm
    devDependencies apart.
    """
    elf_of = _elf_source(tree, elf)
    env = config.env_map()
    search = LibrarySearch(tree, elf_of, env.get("LD_LIBRARY_PATH", ""))
    walk = ClosureWalk(tree, elf_of, search)
    rt = Runtime(walk, config.working_dir or "/", env, inventory)
    run = CommandWalk(walk, rt, env.get("PATH", DEFAULT_PATH))
    argv = command_of(config)
    kind = run.run(argv) if argv else "unknown"
    if not argv:
        walk.notes.append("The image has neither ENTRYPOINT nor CMD.")
    if run.unfollowed:
        walk.notes.append("A script does what cannot be followed without running it ("
                          + "; ".join(run.unfollowed) + "): every program on PATH is in the "
                          "closure, the shell among them.")
    _glibc_extras(walk, search)
    base, reason = _base_candidate(kind, run, walk, rt.version)
    required_missing = [m for m in walk.missing if not m.optional]
    if required_missing:
        walk.notes.append("Not in the image, yet needed to start: "
                          + ", ".join(f"{m.name} (by {m.needed_by})" for m in required_missing)
                          + ".")
    counted: set[str] = set()
    total = 0
    for path, node in walk.kept.items():
        key = node.link if node.kind == HARDLINK and node.link else path
        if node.kind in (FILE, HARDLINK) and key not in counted:
            counted.add(key)
            total += node.size
    image_bytes = tree.size_bytes
    return Closure(
        entry=run.entry, kind=kind, files=tuple(sorted(walk.kept)), bytes=total,
        share=total / image_bytes if image_bytes else 0.0,
        missing=tuple(dict.fromkeys(walk.missing)), notes=tuple(dict.fromkeys(walk.notes)),
        base_candidate=base, reason=reason, argv=tuple(argv),
        commands=tuple(sorted(run.commands.items())), unfollowed=tuple(run.unfollowed),
    )

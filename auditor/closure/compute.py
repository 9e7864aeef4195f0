"""The static runtime closure of an image: every file its ENTRYPOINT/CMD needs to start,
found without running it, and the smallest base image that closure allows.

From the command (exec form, or the shell form ``/bin/sh -c "..."``, whose shell is then
in the closure too and whose first command is followed), resolved through the image's PATH
and WORKDIR, the walk follows wrappers (``env``, ``tini``, ``gosu``), ``#!`` interpreters,
ELF ``PT_INTERP`` and ``DT_NEEDED`` through the image's library search path, and the
runtime rules of Python, Node.js and Java (``runtimes``). What it cannot know statically
(modules imported by name at run time, programs a script runs) is said in ``notes``.
"""

from __future__ import annotations

import posixpath
import shlex
from collections.abc import Callable, Mapping, Sequence

from auditor.closure.libpath import LD_SO_WANTS, LibrarySearch, is_musl
from auditor.closure.runtimes import (
    Runtime,
    role_of,
    run_java,
    run_node,
    run_python,
    run_shell_script,
)
from auditor.closure.walk import ClosureWalk
from auditor.filetree import FileTree
from auditor.inventory import Inventory
from auditor.model.closure import Closure
from auditor.model.image import DIR, FILE, HARDLINK, ImageConfig
from auditor.read.elf import ElfFacts

CLOSURE_WANTS = list(LD_SO_WANTS)
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # runc's
MAX_DEPTH = 8  # wrappers and #! lines followed; Linux itself nests #! only 4 deep
WRAPPERS = {"tini": 0, "tini-static": 0, "dumb-init": 0, "catatonit": 0, "gosu": 1,
            "su-exec": 1, "chpst": 0, "setpriv": 0}  # name -> operands before the command
SHELL_BUILTINS = frozenset({"echo", "printf", "cd", "set", "export", "exit", "true", "false",
                            ":", ".", "source", "test", "[", "read", "trap", "ulimit",
                            "umask", "wait", "eval", "unset"})
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


def shell_command(argv: Sequence[str]) -> str | None:
    """The command string of ``sh -c "..."`` (options before ``-c`` allowed, as a SHELL
    instruction like ``["/bin/bash", "-o", "pipefail", "-c"]`` makes), else None."""
    i = 1
    while i < len(argv):
        arg = argv[i]
        if arg in ("-o", "+o"):
            i += 2
            continue
        if not arg.startswith(("-", "+")):
            return None
        if "c" in arg[1:] and not arg.startswith("--") and i + 1 < len(argv):
            return argv[i + 1]
        i += 1
    return None


def _wrapped(args: Sequence[str], operands: int) -> list[str]:
    """The command a wrapper (``tini -- cmd``, ``gosu user cmd``) runs."""
    if "--" in args:
        return list(args[args.index("--") + 1:])
    i = 0
    while i < len(args) and args[i].startswith("-"):
        i += 1
    return list(args[i + operands:])


def first_simple_command(text: str) -> tuple[list[str], bool]:
    """The words of the first command of a shell command string (``exec`` and leading
    assignments dropped), and whether more commands follow it."""
    lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|()<>")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    words: list[str] = []
    try:
        for token in lexer:
            if token and set(token) <= set(";&|()<>"):
                return words, True
            if not words and (token == "exec" or ("=" in token and token[0] != "=")):
                continue
            words.append(token)
    except ValueError:  # unbalanced quotes: take the plain words
        words = [w for w in text.split() if w != "exec"]
    return words, False


class _Run:
    def __init__(self, walk: ClosureWalk, rt: Runtime, path: str) -> None:
        self.walk = walk
        self.rt = rt
        self.path = path
        self.entry: str | None = None
        self.shell: str | None = None  # a shell the command line itself needs
        self.program: ElfFacts | None = None  # the ELF program finally run

    def which(self, name: str) -> str | None:
        tree = self.walk.tree
        if "/" in name:
            path = self.rt.path_arg(name)
            return path if tree.lookup(path) is not None else None
        fallback = None
        for directory in self.path.split(":"):
            candidate = posixpath.join(self.rt.path_arg(directory or "."), name)
            node = tree.lookup(candidate)
            if node is None or node.kind == DIR or not node.is_file:
                continue
            if node.mode & 0o111:
                return candidate
            fallback = fallback or candidate
        return fallback

    def run(self, argv: Sequence[str], depth: int = 0) -> str:
        """Add what ``argv`` runs; its kind."""
        walk = self.walk
        if depth > MAX_DEPTH:
            walk.notes.append("Wrappers and #! lines nest too deep; stopped following.")
            return "unknown"
        found = self.which(argv[0])
        if self.entry is None:
            self.entry = found
        if found is None:
            walk.notes.append(f"{argv[0]!r} is not in the image (PATH {self.path}, "
                              f"WORKDIR {self.rt.workdir or '/'}).")
            return "unknown"
        real = walk.add(found) or found
        facts = walk.load(found, program=True)
        if facts is None and not walk.is_elf(real):
            return self._script(found, real, argv, depth)
        self.program = facts
        base = posixpath.basename(real)
        name = posixpath.basename(argv[0])
        role = role_of(argv[0], real)
        args = list(argv[1:])
        if base == "env" or name == "env":
            rest = self._after_env(args)
            return self.run(rest, depth + 1) if rest else "dynamic"
        for wrapper in (name, base):
            if wrapper in WRAPPERS and args:
                rest = _wrapped(args, WRAPPERS[wrapper])
                if rest:
                    return self.run(rest, depth + 1)
        if role == "shell":
            command = shell_command(argv)
            if command is not None:
                self.shell = self.shell or real
                return self._shell_command(command, depth)
            return "script" if run_shell_script(self.rt, args) is not None else "dynamic"
        if role == "python":
            run_python(self.rt, found, real, args)
            return "python"
        if role == "node":
            run_node(self.rt, real, args)
            return "node"
        if role == "java":
            run_java(self.rt, real, args)
            return "java"
        if facts is None:
            return "unknown"
        return "static" if facts.is_static else "dynamic"

    def _after_env(self, args: list[str]) -> list[str]:
        i = 0
        while i < len(args):
            arg = args[i]
            if arg in ("-u", "--unset", "-C", "--chdir"):
                i += 2
            elif arg in ("-S", "--split-string") and i + 1 < len(args):
                return [*args[i + 1].split(), *args[i + 2:]]
            elif arg.startswith("-") or ("=" in arg and not arg.startswith("=")):
                i += 1
            else:
                return args[i:]
        return []

    def _script(self, found: str, real: str, argv: Sequence[str], depth: int) -> str:
        head = self.walk.tree.read_prefix(real, 1024)
        if head is None or not head.startswith(b"#!"):
            why = "its content was not read" if head is None else "it has no #! line"
            self.walk.notes.append(f"{real} is neither an ELF program nor a script we can "
                                   f"follow ({why}).")
            return "unknown"
        line = head[2:].split(b"\n", 1)[0].decode("utf-8", "replace").strip()
        interpreter, _, option = line.partition(" ")
        inner = [interpreter, *([option.strip()] if option.strip() else []), found, *argv[1:]]
        kind = self.run(inner, depth + 1)
        # an entrypoint script ending in `exec "$@"` runs its arguments (official images)
        if len(argv) > 1 and b'exec "$@"' in head and depth == 0:
            return self.run(argv[1:], depth + 1)
        return kind if kind in ("python", "node", "java") else "script"

    def _shell_command(self, command: str, depth: int) -> str:
        words, more = first_simple_command(command)
        if more:
            self.walk.notes.append("The shell command runs more than one command; only the "
                                   f"first ({' '.join(words[:3])}) was followed.")
        if not words or words[0] in SHELL_BUILTINS or "$" in words[0]:
            self.walk.notes.append(f"The shell command {command!r} starts with a builtin or "
                                   "an expansion; nothing beyond the shell was followed.")
            return "script"
        return self.run(words, depth + 1)


def _elf_source(tree: FileTree, elf: ElfSource | None) -> Callable[[str], ElfFacts | None]:
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


def _base_candidate(kind: str, run: _Run, walk: ClosureWalk, version: str | None
                    ) -> tuple[str, str]:
    base, why = _base_for(kind, sorted(walk.required), version, run.program)
    if run.shell is not None and base not in ("slim", "unknown"):
        return "slim", (f"the shell form runs {run.shell}, which {base} lacks; in exec form "
                        f"the program would allow {base} ({why})")
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


def compute_closure(tree: FileTree, config: ImageConfig, elf: ElfSource | None = None,
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
    run = _Run(walk, rt, env.get("PATH", DEFAULT_PATH))
    argv = command_of(config)
    kind = run.run(argv) if argv else "unknown"
    if not argv:
        walk.notes.append("The image has neither ENTRYPOINT nor CMD.")
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
    )

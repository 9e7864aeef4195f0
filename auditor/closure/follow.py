"""Following what a command runs: PATH and WORKDIR lookup, wrappers (``env``, ``tini``,
``gosu``), ``#!`` interpreters, shells and the scripts they run, and the language runtimes.

A shell script's commands (``scripts``) are each found on the image's PATH, or on the
PATH the script sets before them (``scriptvars``), and followed the same way, so a
``docker-entrypoint.sh`` brings the programs it runs, their libraries, and the command it
ends by running (``exec "$@"``), each found on every PATH it may run with. What a script
does that cannot be followed statically makes the walk keep every program on PATH (on
each PATH the script may set too), the shell among them.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence

from auditor.closure.runtimes import (
    Runtime,
    first_operand,
    role_of,
    run_java,
    run_node,
    run_python,
)
from auditor.closure.scripts import POSITIONAL, SELF, Run, ScriptRead, read_script
from auditor.closure.scriptvars import path_value, unknown_path
from auditor.closure.walk import ClosureWalk
from auditor.model.image import DIR
from auditor.read.elf import ElfFacts
from auditor.read.wants import SCRIPT_PREFIX as SCRIPT_BYTES

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # runc's
MAX_DEPTH = 8  # wrappers, #! lines and scripts followed; Linux itself nests #! only 4 deep
MAX_FOLLOWED = 2000  # commands a script and what it runs may name, in all
WRAPPERS = {"tini": 0, "tini-static": 0, "dumb-init": 0, "catatonit": 0, "gosu": 1,
            "su-exec": 1, "chpst": 0, "setpriv": 0, "nohup": 0, "timeout": 1,
            "chroot": 1, "xargs": 0}  # name -> operands before the command


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


def _after_env(args: list[str]) -> list[str]:
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


def with_args(words: Sequence[str], args: Sequence[str], itself: str = "") -> list[str]:
    """A script's command with ``"$@"`` (``$*``, ``$1``) replaced by the script's arguments
    and ``"$0"`` by the script's own path (dropped when it has none: ``sh -c``)."""
    out: list[str] = []
    for word in words:
        if POSITIONAL.fullmatch(word):
            out += list(args) if word.strip("${}") in "@*" else list(args[:1])
        elif SELF.fullmatch(word):
            out += [itself] if itself else []
        else:
            out.append(word)
    return out


class CommandWalk:
    """The walk from a command line to every file it runs."""

    def __init__(self, walk: ClosureWalk, rt: Runtime, path: str) -> None:
        self.walk = walk
        self.rt = rt
        self.path = path
        self.entry: str | None = None
        self.shell: str | None = None  # a shell the command line itself needs
        self.shell_why = ""  # "the shell form" or "the script X"
        self.program: ElfFacts | None = None  # the ELF program finally run
        self.commands: dict[str, str] = {}  # command name as run -> the file it is
        self.unfollowed: list[str] = []  # what a script does that cannot be followed
        self._followed: set[tuple[str, tuple[str, ...], str]] = set()  # text, args, PATH
        self._budget = MAX_FOLLOWED

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
            walk.notes.append("Wrappers, #! lines and scripts nest too deep; stopped "
                              "following.")
            return "unknown"
        found = self.which(argv[0])
        if self.entry is None:
            self.entry = found
        if found is None:
            walk.notes.append(f"{argv[0]!r} is not in the image (PATH {self.path}, "
                              f"WORKDIR {self.rt.workdir or '/'}).")
            return "unknown"
        real = walk.add(found) or found
        self.commands.setdefault(argv[0], real)
        facts = walk.load(found, program=True)
        if facts is None and not walk.is_elf(real):
            return self._script(found, real, argv, depth)
        self.program = facts
        base = posixpath.basename(real)
        name = posixpath.basename(argv[0])
        role = role_of(argv[0], real)
        args = list(argv[1:])
        if base == "env" or name == "env":
            rest = _after_env(args)
            return self._env(args[:len(args) - len(rest)], rest, depth) if rest else "dynamic"
        for wrapper in (name, base):
            if wrapper in WRAPPERS and args:
                rest = _wrapped(args, WRAPPERS[wrapper])
                if rest:
                    return self.run(rest, depth + 1)
        if role == "shell":
            return self._shell(argv, real, depth)
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

    def _env(self, before: list[str], rest: list[str], depth: int) -> str:
        """``env [PATH=...] cmd``: ``cmd`` is found on the PATH env gives it (its words as a
        script wrote them: ``$PATH`` and plain variables are put in)."""
        value = next((a[5:] for a in reversed(before) if a.startswith("PATH=")), None)
        if value is None:
            return self.run(rest, depth + 1)
        path, known = path_value(value, self.path, self.rt.env)
        if not known:
            self._unfollowable("env", [unknown_path(value)], [path])
            program = self.program
            self._on(self.path, rest, depth + 1)
            self.program = program
        return self._on(path, rest, depth + 1)

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
        return kind if kind in ("python", "node", "java") else "script"

    def _shell(self, argv: Sequence[str], real: str, depth: int) -> str:
        """A shell: the ``-c`` string it runs, or the script file it is given."""
        command = shell_command(argv)
        if command is not None:
            self._needs_shell(real, "the shell form")
            rest = list(argv[argv.index(command) + 2:]) if command in argv else []
            return self.follow(command, rest, depth, f"the shell command {command!r}")
        args = list(argv[1:])
        script, _, index = first_operand(args, frozenset({"-o", "+o"}))
        if script is None:
            return "dynamic"  # an interactive shell
        path = self.rt.add_script(script)
        if path is None:
            return "script"
        self._needs_shell(real, f"the script {path}")
        text = self._text(path)
        if text is None:
            self._unfollowable(path, [f"its content was not read (only {SCRIPT_BYTES} bytes "
                                      "of a script are)"])
            return "script"
        return self.follow(text, args[index + 1:], depth, path)

    def _needs_shell(self, real: str, why: str) -> None:
        if self.shell is None:
            self.shell, self.shell_why = real, why

    def _text(self, path: str) -> str | None:
        tree = self.walk.tree
        data = tree.read_prefix(path, SCRIPT_BYTES)
        if data is None or not tree.has_whole(path):
            return None
        return data.decode("utf-8", "replace")

    def follow(self, text: str, args: Sequence[str], depth: int, where: str) -> str:
        """Add what the shell script ``text``, given ``args``, runs; its kind: the kind of
        what it ends by running when it runs its arguments, else "script"."""
        key = (text, tuple(args), self.path)
        if key in self._followed:
            return "script"
        self._followed.add(key)
        plan = read_script(text, (self.path,), self.rt.env)
        self._source(plan, depth, where)
        itself = where if where.startswith("/") else ""
        commands: dict[tuple[str, ...], tuple[str, ...]] = {}
        for run in plan.commands:
            words = tuple(with_args(run.words, args, itself))
            if words:
                commands[words] = tuple(dict.fromkeys([*commands.get(words, ()), *run.paths]))
        if len(commands) == 1 and not (plan.runs_args or plan.arg_prefixes
                                       or plan.unfollowed):
            [(words, paths)] = commands.items()
            if len(paths) == 1:  # `sh -c "exec server --port 80"`
                return self._on(paths[0], list(words), depth + 1)
        for words, paths in commands.items():
            self._side(list(words), paths, depth, where)
        for prefix in plan.arg_prefixes:
            self._side([*prefix.words, *args], prefix.paths, depth, where)
        if plan.unfollowed:
            self._unfollowable(where, plan.unfollowed, plan.all_paths)
        if plan.runs_args and args:
            paths = plan.args_paths or (self.path,)
            first, *others = [p for p in paths if self._finds(args[0], p)] or paths
            kind = self._on(first, list(args), depth + 1)
            program = self.program
            for path in others:
                self._on(path, list(args), depth + 1)
            self.program = program
            return kind
        return "script"

    def _on(self, path: str, argv: Sequence[str], depth: int) -> str:
        """``run`` with PATH ``path``, as a script that set it runs ``argv``."""
        saved, self.path = self.path, path
        try:
            return self.run(argv, depth)
        finally:
            self.path = saved

    def _finds(self, name: str, path: str) -> str | None:
        saved, self.path = self.path, path
        try:
            return self.which(name)
        finally:
            self.path = saved

    def _source(self, plan: ScriptRead, depth: int, where: str) -> None:
        """Read the files ``plan`` sources into it (``.`` searches PATH for a bare name).
        A PATH a sourced file sets is added to every command of ``plan``: the order of the
        two is not kept, so each command may be found on it."""
        seen: set[str] = set()
        queue = list(plan.sourced)
        while queue and len(seen) < MAX_DEPTH * 4:
            source = queue.pop(0)
            name = source.words[0]
            found = (next(filter(None, (self._finds(name, p) for p in source.paths)), None)
                     if "/" not in name else self.rt.path_arg(name))
            real = None if found is None else self.walk.add(found)
            if real is None or real in seen:
                if real is None:
                    self.walk.notes.append(f"{where} sources {name!r}, which is not in the "
                                           "image.")
                continue
            seen.add(real)
            text = self._text(real)
            if text is None:
                plan.unfollowed.append(f"the file it sources, {real}, was not read")
                continue
            inner = read_script(text, source.paths, self.rt.env)
            new = [p for p in inner.all_paths if p not in plan.all_paths]
            if new:
                plan.commands = [Run(r.words, (*r.paths, *new)) for r in plan.commands]
                plan.arg_prefixes = [Run(r.words, (*r.paths, *new)) for r in plan.arg_prefixes]
                plan.args_paths = (*plan.args_paths, *new)
                queue = [Run(r.words, (*r.paths, *new)) for r in queue]
                plan.all_paths = (*plan.all_paths, *new)
            plan.commands += inner.commands
            plan.functions |= inner.functions
            plan.arg_prefixes += inner.arg_prefixes
            plan.unfollowed += [f"{why} (in {real})" for why in inner.unfollowed]
            if inner.runs_args:
                plan.runs_args = True
                plan.args_paths = tuple(dict.fromkeys([*plan.args_paths, *inner.args_paths]))
            queue += inner.sourced

    def _side(self, words: list[str], paths: Sequence[str], depth: int, where: str) -> None:
        """Add a command a script runs on its way, found on each PATH it may be run with;
        the program finally run stays the one the container's command names."""
        on = [p for p in paths if self._finds(words[0], p) is not None]
        self._budget -= max(1, len(on))
        if self._budget < 0:
            if self._budget + max(1, len(on)) >= 0:
                self._unfollowable(where, ["it runs more commands than are followed"], paths)
            return
        if not on:
            shown = " or ".join(dict.fromkeys(paths)) or self.path
            self.walk.notes.append(f"{where} runs {words[0]!r}, which is not on PATH "
                                   f"({shown}): it fails there too, or is installed "
                                   "at run time.")
            return
        program = self.program
        for path in on:
            self._on(path, words, depth + 1)
        self.program = program

    def _unfollowable(self, where: str, reasons: Sequence[str], paths: Sequence[str] = ()
                      ) -> None:
        """Keep every program on PATH, and on each PATH the script may set (the shell
        among them): a script that does what cannot be followed statically may run any."""
        said = f"{where}: " + "; ".join(dict.fromkeys(reasons))
        if said in self.unfollowed:
            return
        self.unfollowed.append(said)
        for path in dict.fromkeys([self.path, *paths]):
            for directory in dict.fromkeys(path.split(":")):
                if directory.startswith("/"):
                    self.walk.add_tree(directory)

"""What an interpreter needs at run time besides its own binary and libraries, and which
of its arguments is the program it runs: Python, Node.js, Java, and shells.

Statically we can know the interpreter, its standard library, the script and the app's own
directory, and the third-party code the runtime searches (site-packages, node_modules);
not which modules the app will import. So whole directories go in, and a directory that is
a system directory (``/``, ``/usr/bin``...) is never taken as "the app's".
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass

from auditor.closure.walk import ClosureWalk, parent
from auditor.inventory import Inventory
from auditor.model.image import DIR

PYTHON = re.compile(r"(?:python|pypy)(\d+(?:\.\d+)?)?[dmu]*")
NODE = ("node", "nodejs")
SHELLS = ("sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "yash")
SYSTEM_DIRS = frozenset({
    "/", "/bin", "/sbin", "/usr", "/usr/bin", "/usr/sbin", "/usr/lib", "/usr/local",
    "/usr/local/bin", "/usr/local/sbin", "/usr/local/lib", "/lib", "/lib64", "/etc", "/tmp",
    "/var", "/opt", "/home", "/srv", "/root", "/usr/share",
})
# Options that take a separate value, per interpreter; an option ending the option list
# (the rest is the program's) is in the second set.
PYTHON_VALUE = frozenset({"-W", "-X", "-Q"})
NODE_VALUE = frozenset({"-r", "--require", "--import", "--loader", "--experimental-loader",
                        "--env-file", "--title", "--conditions", "-C", "--inspect-port"})
JAVA_VALUE = frozenset({"-cp", "-classpath", "--class-path", "-p", "--module-path",
                        "--upgrade-module-path", "--add-modules", "--add-opens",
                        "--add-exports", "--add-reads", "--patch-module", "--limit-modules"})
# Parts of a JDK that running a program does not use.
JDK_ONLY = ("jmods", "include", "demo", "sample", "man", "lib/src.zip", "lib/ct.sym")


def role_of(*names: str) -> str | None:
    """"python", "node", "java" or "shell" when any of ``names`` (the name used, the real
    file) is that interpreter."""
    for name in names:
        base = posixpath.basename(name)
        if PYTHON.fullmatch(base):
            return "python"
        if base in NODE:
            return "node"
        if base == "java":
            return "java"
        if base in SHELLS:
            return "shell"
    return None


def first_operand(args: Sequence[str], takes_value: frozenset[str],
                  stops: Sequence[str] = ()) -> tuple[str | None, str | None, int]:
    """(operand, stopping option, index): the first argument that is not an option, or the
    first option in ``stops`` (``-m``, ``-jar``...) and its value."""
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            return (args[i + 1], None, i + 1) if i + 1 < len(args) else (None, None, i)
        if arg in stops:
            return (args[i + 1] if i + 1 < len(args) else None), arg, i + 1
        if arg.startswith("-") and arg != "-":
            i += 2 if arg in takes_value else 1
            continue
        return arg, None, i
    return None, None, i


@dataclass
class Runtime:
    """The parts of the image and config that runtime rules read, and the walk they add to."""

    walk: ClosureWalk
    workdir: str
    env: dict[str, str]
    inventory: Inventory | None
    version: str | None = None  # the runtime's version, when a name or path tells it

    def path_arg(self, arg: str) -> str:
        return posixpath.normpath(posixpath.join(self.workdir or "/", arg))

    def is_dir(self, path: str) -> bool:
        node = self.walk.tree.lookup(path)
        return node is not None and node.kind == DIR

    def add_script(self, arg: str, suffixes: Sequence[str] = ("",)) -> str | None:
        for suffix in suffixes:
            path = self.path_arg(arg + suffix)
            node = self.walk.tree.lookup(path)
            if node is not None and node.kind != DIR:
                return self.walk.add(path)
        self.walk.notes.append(f"The program {arg!r} is not in the image "
                               f"(looked for {self.path_arg(arg)}).")
        return None

    def add_app_dir(self, directory: str, exclude: ExcludeDev | None = None) -> None:
        if directory in SYSTEM_DIRS:
            self.walk.notes.append(f"The app lives in {directory}, a system directory: only "
                                   "its script is in the closure, not the directory.")
            return
        self.walk.add_tree(directory, exclude)

    def add_dirs(self, variable: str) -> None:
        for directory in self.env.get(variable, "").split(":"):
            if directory.startswith("/"):
                self.walk.add_tree(directory)


class ExcludeDev:
    """Leaves out npm packages the inventory marks as devDependencies."""

    def __init__(self, inventory: Inventory) -> None:
        self.dirs = {parent(p.location) for p in inventory.packages
                     if p.ecosystem == "npm" and p.dev is True and p.location}
        self.hit: set[str] = set()

    def __call__(self, path: str) -> bool:
        while path != "/":
            if path in self.dirs:
                self.hit.add(path)
                return True
            path = parent(path)
        return False


def run_python(rt: Runtime, found: str, real: str, args: Sequence[str]) -> None:
    walk = rt.walk
    match = PYTHON.fullmatch(posixpath.basename(real)) or PYTHON.fullmatch(
        posixpath.basename(found))
    version = match.group(1) if match else None
    prefix = parent(parent(real))
    if version is None or "." not in version:
        roots = [n.path for root in (f"{prefix}/lib", "/usr/lib", "/usr/local/lib")
                 for n in walk.tree.children(walk.tree.resolve(root) or "/nowhere")
                 if re.fullmatch(r".*/python3\.\d+", n.path)]
        version = roots[0].rpartition("python")[2] if roots else version
    rt.version = version
    dirs = [f"{prefix}/lib/python{version}", f"/usr/lib/python{version}",
            f"/usr/local/lib/python{version}", "/usr/lib/python3/dist-packages"]
    venv = parent(parent(found))
    if walk.tree.lookup(venv + "/pyvenv.cfg") is not None:
        dirs.append(venv)
    for directory in dict.fromkeys(dirs):
        walk.add_tree(directory)
    rt.add_dirs("PYTHONPATH")
    script, stop, _ = first_operand(args, PYTHON_VALUE, ("-m", "-c"))
    if stop == "-m":
        rt.add_app_dir(rt.workdir or "/")  # -m puts the working directory on sys.path
    elif stop is None and script not in (None, "-"):
        assert script is not None
        real_script = rt.add_script(script)
        if real_script is not None:
            rt.add_app_dir(parent(real_script))


def run_node(rt: Runtime, real: str, args: Sequence[str]) -> None:
    script, stop, _ = first_operand(args, NODE_VALUE, ("-e", "--eval", "-p", "--print"))
    exclude = ExcludeDev(rt.inventory) if rt.inventory is not None else None
    app = rt.workdir or "/"
    if stop is None and script not in (None, "-"):
        assert script is not None
        real_script = rt.add_script(script, ("", ".js", ".mjs", ".cjs", "/index.js"))
        if real_script is not None:
            app = parent(real_script)
            rt.add_app_dir(app, exclude)
    # node looks for node_modules in the app's directory and every directory above it
    directory = app
    while True:
        if rt.is_dir(directory.rstrip("/") + "/node_modules"):
            rt.walk.add_tree(directory.rstrip("/") + "/node_modules", exclude)
        if directory == "/":
            break
        directory = parent(directory)
    rt.add_dirs("NODE_PATH")
    _add_debian_node_builtins(rt, real)
    if exclude is None:
        rt.walk.notes.append("Without a package inventory, devDependencies in node_modules "
                             "could not be told apart: all of node_modules is included.")
    elif exclude.hit:
        names = sorted(posixpath.basename(d) if "/@" not in d else "/".join(d.split("/")[-2:])
                       for d in exclude.hit)
        rt.walk.notes.append(f"Left out {len(names)} devDependencies the npm lock file marks "
                             f"dev: {', '.join(names)}.")


# Debian builds node against system copies of modules it bundles upstream; libnode loads
# them from /usr/share/nodejs at start-up, and node crashes without them.
DEBIAN_NODE_BUILTINS = ("acorn", "acorn-walk", "cjs-module-lexer", "undici")


def _add_debian_node_builtins(rt: Runtime, real: str) -> None:
    if not real.startswith("/usr/bin/"):
        return
    added = [name for name in DEBIAN_NODE_BUILTINS
             if rt.is_dir(f"/usr/share/nodejs/{name}")]
    for name in added:
        rt.walk.add_tree(f"/usr/share/nodejs/{name}")
    if added:
        rt.walk.notes.append("Debian's node loads its bundled modules from /usr/share/nodejs "
                             f"at start-up: {', '.join(added)} are in the closure.")


def run_java(rt: Runtime, real: str, args: Sequence[str]) -> None:
    walk = rt.walk
    home = parent(parent(real)) if posixpath.basename(parent(real)) == "bin" else None
    if home is not None:
        jdk_only = {f"{home}/{p}" for p in JDK_ONLY}

        def not_at_run_time(path: str) -> bool:
            return path in jdk_only or (parent(path) == f"{home}/bin" and path != real)

        walk.add_tree(home, not_at_run_time)
        rt.version = posixpath.basename(home)
    classpath: list[str] = []
    jar = False
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("-cp", "-classpath", "--class-path") and i + 1 < len(args):
            classpath += args[i + 1].split(":")
        elif arg == "-jar" and i + 1 < len(args):
            rt.add_script(args[i + 1])
            jar = True  # -jar ignores any class path given
            break
        elif not arg.startswith("-"):
            break  # the main class: the rest are the program's arguments
        i += 2 if arg in JAVA_VALUE else 1
    if jar:
        return
    classpath = classpath or rt.env.get("CLASSPATH", ".").split(":")
    for entry in classpath:
        if entry.endswith("/*"):
            entry = entry[:-2]
        path = rt.path_arg(entry or ".")
        if rt.is_dir(path):
            rt.add_app_dir(path)
        elif walk.tree.lookup(path) is not None:
            walk.add(path)

"""A script that sets PATH: the commands after it are found on the PATH it sets (a prefix
assignment only for its own command), ``$PATH`` and plain variables expanded, and a PATH
that cannot be known said in ``unfollowed``, on small synthetic images."""

from __future__ import annotations

import pytest

from auditor.closure.scripts import read_script
from auditor.model.closure import Closure
from tests.closure.closurekit import DEBIAN, ELF_BODY, MA, closure, exe
from tests.closure.test_closure_scripts import ENTRY, TOOLS, TOOLS_ELF
from tests.layerkit import D, F, Spec

APP = "/opt/app/bin"
LIBZ = f"{MA}/libz.so.1.2.13"
# programs only the app's own directory has; `tool` is in /usr/bin as well
APP_LAYER: list[Spec] = [
    D(APP), *(F(f"{APP}/{name}", ELF_BODY, 0o755) for name in ("appctl", "app-server", "tool")),
    F("/usr/bin/tool", ELF_BODY, 0o755),
]
APP_ELF = {f"{APP}/appctl": exe(needed=("libz.so.1", "libc.so.6")),
           f"{APP}/app-server": exe(), f"{APP}/tool": exe(), "/usr/bin/tool": exe()}
ENV_PATH = "PATH=/usr/local/bin:/usr/bin:/bin"


def app_closure(text: str, *extra: Spec, cmd: tuple[str, ...] = ("app-server",),
                env: tuple[str, ...] = (), **config: object) -> Closure:
    layer = [F(ENTRY, "#!/bin/sh\n" + text, 0o755), *extra]
    config.setdefault("entrypoint", (ENTRY,))
    return closure([DEBIAN, TOOLS, APP_LAYER, layer], {**TOOLS_ELF, **APP_ELF}, cmd=cmd,
                   env=(ENV_PATH, *env), **config)  # type: ignore[arg-type]


@pytest.mark.parametrize(("script", "env"), [
    ("export PATH=/opt/app/bin:$PATH\n", ()),
    ('APP_HOME=/opt/app\nPATH="$APP_HOME/bin:${PATH}"; export PATH\n', ()),
    ('PATH="$APP_HOME/bin:${PATH}"\nexport PATH\n', ("APP_HOME=/opt/app",)),
    ("export APP_HOME=/opt/app PATH=\"${APP_HOME}/bin:$PATH\"\n", ()),
    ("declare -x PATH=/opt/app/bin:$PATH\n", ()),
    ("readonly PATH=/opt/app/bin:/usr/bin\n", ()),
], ids=["export-assignment", "assign-then-export", "image-env-variable",
        "export-two-assignments", "declare-x", "readonly"])
def test_commands_after_a_path_change_are_found_on_it(script: str, env: tuple[str, ...]
                                                     ) -> None:
    c = app_closure(script + "appctl migrate\nsort /x\nexec \"$@\"\n", env=env)
    assert {f"{APP}/appctl", f"{APP}/app-server", "/usr/bin/sort"} <= set(c.files)
    assert LIBZ in c.files  # appctl's library, which nothing else here needs
    assert dict(c.commands)["appctl"] == f"{APP}/appctl"
    assert dict(c.commands)["app-server"] == f"{APP}/app-server"
    assert c.unfollowed == ()


def test_the_new_path_names_the_program_it_finds_first() -> None:
    c = app_closure("export PATH=/opt/app/bin:$PATH\ntool --x\n", cmd=())
    assert dict(c.commands)["tool"] == f"{APP}/tool"
    assert "/usr/bin/tool" not in c.files


def test_commands_before_the_change_keep_the_old_path() -> None:
    c = app_closure("tool --before\nexport PATH=/opt/app/bin:$PATH\ntool --after\n", cmd=())
    assert {"/usr/bin/tool", f"{APP}/tool"} <= set(c.files)


def test_a_path_without_the_old_one_replaces_it() -> None:
    c = app_closure("PATH=/opt/app/bin\nappctl x\nsort /x\n", cmd=())
    assert f"{APP}/appctl" in c.files and "/usr/bin/sort" not in c.files
    assert any("'sort'" in n and "not on PATH (/opt/app/bin)" in n for n in c.notes)


def test_a_prefix_assignment_is_for_its_own_command_only() -> None:
    c = app_closure("PATH=/opt/app/bin:$PATH appctl migrate\ntool --x\n", cmd=())
    assert f"{APP}/appctl" in c.files and LIBZ in c.files
    assert "/usr/bin/tool" in c.files and f"{APP}/tool" not in c.files


def test_a_prefix_assignment_in_a_shell_form() -> None:
    c = closure([DEBIAN, TOOLS, APP_LAYER], {**TOOLS_ELF, **APP_ELF}, env=(ENV_PATH,),
                cmd=("/bin/sh", "-c", "PATH=/opt/app/bin exec appctl serve"))
    assert f"{APP}/appctl" in c.files and LIBZ in c.files and c.kind == "dynamic"


def test_env_sets_the_path_of_the_command_it_runs() -> None:
    c = app_closure("exec env PATH=/opt/app/bin:$PATH appctl serve\n", cmd=())
    assert f"{APP}/appctl" in c.files and LIBZ in c.files and c.unfollowed == ()
    c = closure([DEBIAN, TOOLS, APP_LAYER], {**TOOLS_ELF, **APP_ELF}, env=(ENV_PATH,),
                cmd=("env", "PATH=/opt/app/bin", "app-server"))
    assert c.entry == "/usr/bin/env" and f"{APP}/app-server" in c.files
    assert c.kind == "dynamic" and c.unfollowed == ()


@pytest.mark.parametrize("script", [
    "if [ -d /opt/app/bin ]; then\n  PATH=/opt/app/bin:$PATH\nfi\n",
    "[ -d /opt/app/bin ] && PATH=/opt/app/bin:$PATH\n",
    'case "$1" in\n  app*) PATH=/opt/app/bin:$PATH ;;\nesac\n',
], ids=["if", "and-list", "case"])
def test_a_change_that_may_not_happen_keeps_both_paths(script: str) -> None:
    c = app_closure(script + "tool --x\n", cmd=())
    assert {"/usr/bin/tool", f"{APP}/tool"} <= set(c.files)
    assert c.unfollowed == ()


def test_a_function_defined_before_the_change_runs_on_it() -> None:
    c = app_closure('serve() {\n  appctl serve\n}\nexport PATH=/opt/app/bin:$PATH\nserve\n'
                    "trap 'tool --stop' EXIT\n", cmd=())
    assert {f"{APP}/appctl", f"{APP}/tool"} <= set(c.files)


def test_a_path_a_sourced_file_sets() -> None:
    env_sh = F("/opt/app/env.sh", "APP_HOME=/opt/app\nexport PATH=$APP_HOME/bin:$PATH\n", 0o644)
    c = app_closure(". /opt/app/env.sh\nappctl migrate\nexec \"$@\"\n", env_sh)
    assert {f"{APP}/appctl", f"{APP}/app-server", "/opt/app/env.sh"} <= set(c.files)
    assert c.unfollowed == ()


def test_the_path_carries_into_the_scripts_it_runs() -> None:
    inner = F(f"{APP}/start.sh", "#!/bin/sh\nappctl serve\n", 0o755)
    c = app_closure("export PATH=/opt/app/bin:$PATH\nexec start.sh\n", inner, cmd=())
    assert {f"{APP}/start.sh", f"{APP}/appctl", LIBZ} <= set(c.files)


@pytest.mark.parametrize(("script", "value"), [
    ('export PATH="$(cat /etc/app-path):$PATH"\n', "$(cat /etc/app-path)"),
    ('PATH="${APP_HOME:-/opt/app}/bin:$PATH"\n', "${APP_HOME:-/opt/app}"),
    ("read -r APP_HOME < /etc/app\nPATH=$APP_HOME/bin:$PATH\n", "$APP_HOME/bin"),
    ("unset PATH\n", "unsets PATH"),
    ("PATH=~/bin:$PATH\n", "~/bin"),
    ('env PATH="$(cat /etc/app-path)" sort /x\n', "$(cat /etc/app-path)"),
], ids=["command-substitution", "default-expansion", "read-variable", "unset", "tilde",
        "env-assignment"])
def test_a_path_that_cannot_be_known_is_said(script: str, value: str) -> None:
    c = app_closure(script + "sort /x\n", cmd=())
    assert c.unfollowed and "sets PATH" in c.unfollowed[0] and value in c.unfollowed[0]
    # what it may run is kept: every program on the PATH that can be known
    assert {"/usr/bin/sort", "/usr/bin/curl", "/usr/bin/dash"} <= set(c.files)


def test_read_script_gives_each_command_its_paths() -> None:
    read = read_script("a\nPATH=/x:$PATH\nb\nPATH=/y c\nf() { local PATH=/z; d; }\n",
                       ["/bin"])
    paths = {r.words[0]: r.paths for r in read.commands}
    assert paths["a"] == ("/bin",) and paths["b"] == ("/x:/bin",)
    assert paths["c"] == ("/y",)
    assert set(paths["d"]) == {"/x:/bin", "/z", "/bin"}  # a function runs at any time


def test_a_path_doubled_again_and_again_stays_small() -> None:
    read = read_script("PATH=$PATH:$PATH\n" * 12 + "A=/a\n" + "A=$A$A$A$A\n" * 12
                       + 'PATH="$A:$PATH"\nb\n', ["/bin:/usr/bin"])
    [b] = read.commands
    assert b.paths == ("/bin:/usr/bin",)  # $A grew too long to be known
    assert any("cannot be known" in u and "$A" in u for u in read.unfollowed)

"""The runtime closure follows shell scripts: the commands an entrypoint script runs, found
on the image's PATH with their libraries, each shell construct on a small synthetic image;
what cannot be followed statically keeps every program on PATH and the original base."""

from __future__ import annotations

import pytest

from auditor.closure.scripts import read_script
from auditor.fixes.bases import SCRATCH, choose_base
from auditor.fixes.rewrite import LocalBase
from auditor.model.closure import Closure
from auditor.read.elf import ElfFacts
from auditor.read.wants import SCRIPT_PREFIX
from tests.closure.closurekit import DEBIAN, ELF_BODY, MA, closure, exe, lib
from tests.layerkit import D, F, L, Spec

ENTRY = "/usr/local/bin/docker-entrypoint.sh"
# Coreutils-like programs: each ELF, some needing a library beyond libc.
TOOLS: list[Spec] = [
    D("/usr/local/bin"),
    *(F(f"/usr/bin/{name}", ELF_BODY, 0o755) for name in (
        "id", "basename", "grep", "sort", "awk", "sed", "tr", "wc", "cat", "head", "uname",
        "rm", "gosu", "echo", "date", "touch", "mkdir", "ls", "chown", "curl", "bash")),
    F(f"{MA}/libpcre2-8.so.0", ELF_BODY, 0o644),
]
TOOLS_ELF: dict[str, ElfFacts] = {
    **{f"/usr/bin/{name}": exe() for name in (
        "id", "basename", "sort", "awk", "sed", "tr", "wc", "cat", "head", "uname", "rm",
        "echo", "date", "touch", "mkdir", "ls", "chown", "curl", "bash")},
    "/usr/bin/grep": exe(needed=("libpcre2-8.so.0", "libc.so.6")),
    "/usr/bin/gosu": exe(None, ()),
    f"{MA}/libpcre2-8.so.0": lib("libc.so.6"),
}


def script_closure(text: str, *extra: Spec, cmd: tuple[str, ...] = ("date",),
                   path: str = ENTRY, **config: object) -> Closure:
    layer = [F(path, text, 0o755), *extra]
    config.setdefault("entrypoint", (path,))
    return closure([DEBIAN, TOOLS, layer], TOOLS_ELF, cmd=cmd, **config)  # type: ignore[arg-type]


def runs(c: Closure, *names: str) -> bool:
    return all(f"/usr/bin/{n}" in c.files for n in names)


def test_the_commands_of_an_entrypoint_script_and_their_libraries() -> None:
    c = script_closure('#!/bin/sh\nset -eu\nuid=$(id -u)\nname=`basename "$0"`\n'
                       'grep -q "$uid" /etc/passwd\nexec "$@"\n')
    assert runs(c, "id", "basename", "grep", "date")
    assert f"{MA}/libpcre2-8.so.0" in c.files  # grep's library
    assert {"/usr/bin/dash", ENTRY} <= set(c.files)
    assert dict(c.commands)["id"] == "/usr/bin/id" and c.unfollowed == ()
    assert c.kind == "script"  # it ends by running date, but under its shell
    assert c.base_candidate == "slim" and "script" in c.reason
    assert not runs(c, "sort", "curl")  # programs it does not run stay out


@pytest.mark.parametrize(("script", "ran"), [
    ('if [ -n "$X" ]; then\n  sort /x\nelif test -f y; then awk 1 y\nelse sed -n 1p y\nfi\n',
     ("sort", "awk", "sed")),
    ('case "$1" in\n  -*) tr a b ;;\n  (start|run) wc -l /x ;;\n  *) cat /x\nesac\n',
     ("tr", "wc", "cat")),
    ("ls /x | sort | head -1 && touch /y || mkdir /z &\n", ("ls", "sort", "head", "touch",
                                                           "mkdir")),
    ('x="$(uname -r)"\ny=$(echo "$(head -1 /x)")\n', ("uname", "head")),
    ("setup() {\n  chown app /data\n}\nfunction later {\n  rm -f /tmp/x\n}\nsetup\nlater\n",
     ("chown", "rm")),
    ("while read -r line; do sed p; done < /x\nfor f in a b; do cat \"$f\"; done\n",
     ("sed", "cat")),
    ("trap 'rm -f /tmp/pid' EXIT\n", ("rm",)),
    ("sh <<EOF\nuname -a\nEOF\n", ("uname",)),
    ("exec gosu nobody \"$@\"\n", ("gosu", "date")),
], ids=["if-elif-else", "case", "pipeline-and-lists", "command-substitution", "functions",
        "loops", "trap", "heredoc-to-a-shell", "exec-wrapper-with-args"])
def test_each_shell_construct_is_followed(script: str, ran: tuple[str, ...]) -> None:
    c = script_closure("#!/bin/sh\n" + script)
    assert runs(c, *ran), sorted(c.files)
    assert c.unfollowed == ()


def test_builtins_functions_and_here_documents_are_not_files() -> None:
    c = script_closure('#!/bin/sh\nusage() { echo usage; }\n[ -z "$1" ] && usage\n'
                       'cat <<-EOF\n\tcurl awk sort\n\tEOF\nprintf "%s" x; test -d /x; '
                       "command -v curl >/dev/null; read x\n", cmd=())
    assert runs(c, "cat") and not runs(c, "echo", "curl", "awk", "sort")
    assert "usage" not in dict(c.commands) and "/usr/bin/usage" not in c.files


def test_exec_of_a_builtin_name_runs_the_program() -> None:
    c = script_closure("#!/bin/sh\nexec echo ready\n", cmd=())
    assert runs(c, "echo")


def test_sourced_files_are_read_and_their_functions_known() -> None:
    lib_sh = F("/usr/local/lib/functions.sh", "helper() { sed -n 1p /x; }\n. common.sh\n")
    common = F("/usr/local/bin/common.sh", "awk 1 /x\n", 0o644)
    c = script_closure("#!/bin/bash\nsource /usr/local/lib/functions.sh\nhelper\n"
                       ". /nowhere.sh\n", lib_sh, common, cmd=())
    assert runs(c, "sed", "awk", "bash")
    assert {"/usr/local/lib/functions.sh", "/usr/local/bin/common.sh"} <= set(c.files)
    assert "/usr/bin/helper" not in c.files
    assert any("'/nowhere.sh'" in n and "not in the image" in n for n in c.notes)


def test_set_dash_dash_puts_a_program_before_the_arguments() -> None:
    c = script_closure('#!/bin/sh\nif [ "${1#-}" != "$1" ]; then set -- awk "$@"; fi\n'
                       'exec "$@"\n', cmd=("-f", "/x"))
    assert runs(c, "awk")


def test_the_interpreter_through_env_and_a_missing_command() -> None:
    c = script_closure("#!/usr/bin/env bash\nnosuchtool --x\nexec \"$@\"\n")
    assert runs(c, "bash", "date", "env")
    assert any("'nosuchtool'" in n and "not on PATH" in n for n in c.notes)


def test_a_shell_running_a_script_file_follows_it() -> None:
    c = closure([DEBIAN, TOOLS, [F("/app/run.sh", "id -u\nexec sort /x\n")]], TOOLS_ELF,
                cmd=("sh", "/app/run.sh"))
    assert runs(c, "id", "sort") and c.kind == "script" and "/app/run.sh" in c.files


def test_the_shell_form_follows_every_command() -> None:
    c = closure([DEBIAN, TOOLS], TOOLS_ELF, cmd=("/bin/sh", "-c", "id && exec sort /x"))
    assert runs(c, "id", "sort") and "/usr/bin/dash" in c.files


def test_a_script_longer_than_the_first_kib_is_read_whole() -> None:
    text = "#!/bin/sh\n" + "# padding\n" * 800 + "exec tr a b\n"
    assert 4096 < len(text) < SCRIPT_PREFIX
    c = script_closure(text, cmd=())
    assert runs(c, "tr") and c.unfollowed == ()


def test_a_script_too_long_to_read_is_not_guessed() -> None:
    text = "#!/bin/sh\n" + "# padding\n" * (SCRIPT_PREFIX // 10) + "exec tr a b\n"
    c = script_closure(text, cmd=())
    assert c.unfollowed and "not read" in c.unfollowed[0]
    assert runs(c, "tr", "curl", "sort")  # so every program on PATH is kept


@pytest.mark.parametrize(("script", "why"), [
    ('eval "$(printf x)"\n', "eval"),
    ('$CMD --serve\n', "$CMD"),
    ('sh -c "$STARTUP"\n', "$STARTUP"),
    ('. "$HOME/.profile"\n', "$HOME"),
], ids=["eval", "variable-command", "sh-c-variable", "source-variable"])
def test_what_cannot_be_followed_keeps_every_program_on_path(script: str, why: str) -> None:
    c = script_closure("#!/bin/sh\n" + script, cmd=())
    assert c.unfollowed and why in c.unfollowed[0]
    assert ENTRY in c.unfollowed[0] or "shell command" in c.unfollowed[0]
    assert runs(c, "curl", "sort", "awk", "bash") and "/usr/bin/dash" in c.files
    assert any("cannot be followed" in n and "every program on PATH" in n for n in c.notes)
    # and the rewrite starts from the image's own base instead of scratch
    base = LocalBase("debian:bookworm", ("sha256:" + "1" * 64,), 1000)
    choice = choose_base(c, None, [base], None)
    assert choice[0] != SCRATCH or "incomplete" in choice[3]


BUSYBOX: list[Spec] = [
    D("/bin"), F("/bin/busybox", ELF_BODY, 0o755),
    *(L(f"/bin/{a}", "busybox") for a in ("sh", "id", "basename", "echo", "wget", "nc")),
    F("/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"),
]


def test_busybox_applets_the_script_runs_name_busybox() -> None:
    c = closure([BUSYBOX, [F("/entry.sh", '#!/bin/sh\nid -u\nbasename /a/b\nexec "$@"\n',
                             0o755)]], {"/bin/busybox": exe(None, ())},
                entrypoint=("/entry.sh",), cmd=("echo", "hi"))
    assert {"/bin/id", "/bin/basename", "/bin/echo", "/bin/sh", "/bin/busybox"} <= set(c.files)
    assert "/bin/wget" not in c.files
    assert c.applets_of("/bin/busybox") == ["basename", "echo", "id", "sh"]


def test_read_script_reports_what_it_saw() -> None:
    read = read_script('f() { :; }\nf\nset -- node "$@"\nexec "$@"\neval x\n', ["/bin"])
    assert read.functions == {"f"} and read.commands == []
    assert [r.words for r in read.arg_prefixes] == [("node",)] and read.runs_args
    assert read.unfollowed == ["it runs eval"]


def test_the_suggestion_says_what_could_not_be_followed() -> None:
    from dataclasses import replace

    from auditor.fixes.suggestions import suggest
    from auditor.model.findings import Finding
    from tests.fixes.fixkit import CLOSURE_FILES, attribution_of, result_of
    from tests.fixes.fixkit import Closure as FakeClosure

    result = result_of()
    tool = Finding("AUD-NET-TOOL", "network-tool", "high", "tar", "m", path="/usr/bin/tar",
                   layer=0, bytes=10)
    result = replace(result, findings=(tool,))
    # an unfollowable script: every program on PATH is in the closure, tar among them
    closure = FakeClosure(files=(*CLOSURE_FILES, "/usr/bin/tar"),
                          unfollowed=(f"{ENTRY}: it runs eval",))
    [first] = suggest(result, closure, attribution_of(result))  # type: ignore[arg-type]
    assert "cannot all be known without running it" in first.text
    assert f"{ENTRY}: it runs eval" in first.text and "removes nothing" in first.title


def test_a_script_that_runs_itself_again_as_another_user() -> None:
    # the official images' `exec gosu app "$0" "$@"` (or "$BASH_SOURCE"), then the
    # second run takes the other branch
    c = script_closure('#!/bin/bash\nif [ "$(id -u)" = 0 ]; then exec gosu app "$BASH_SOURCE"'
                       ' "$@"; fi\nsort /x\nexec "$@"\n')
    assert runs(c, "id", "gosu", "sort", "date") and c.unfollowed == ()
    assert not any("BASH_SOURCE" in n for n in c.notes)

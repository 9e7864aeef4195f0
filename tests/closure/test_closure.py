"""The runtime closure's load graph, search path, shells and wrappers, on small synthetic
trees with hand-made ELF facts."""

from __future__ import annotations

from dataclasses import replace

import pytest

from auditor.closure.compute import (
    CLOSURE_WANTS,
    compute_closure,
    shell_command,
)
from auditor.filetree import FileTree
from auditor.model.image import ImageConfig
from auditor.read.elf import ElfFacts
from tests.closure.closurekit import (
    DEBIAN,
    DEBIAN_ELF,
    ELF_BODY,
    LIBC_FILES,
    MA,
    PY_ELF,
    PYTHON,
    app,
    closure,
    exe,
    lib,
)
from tests.layerkit import F, H, L, Spec, tree_of

# -- ELF programs ---------------------------------------------------------------------------

def test_dynamic_c_program_needs_the_loader_and_libc_through_their_links() -> None:
    c = app("/app/hello", exe(), cmd=("/app/hello",))
    assert (c.entry, c.kind, c.base_candidate) == ("/app/hello", "dynamic", "distroless-cc")
    assert set(c.files) >= LIBC_FILES
    assert {"/etc/passwd", "/etc/group", "/etc/nsswitch.conf"} <= set(c.files)
    assert "/usr/bin/dash" not in c.files and f"{MA}/libm.so.6" not in c.files
    assert c.missing == ()
    assert c.bytes == 300 + len(ELF_BODY) * 11 + sum(
        len(t) for t in ("root:x:0:0::/root:/bin/sh\n", "root:x:0:\n", "passwd: files\n"))
    assert 0 < c.share < 1
    assert "libc.so.6" in c.reason and any("nsswitch" in n for n in c.notes)


@pytest.mark.parametrize("facts", [
    exe(None, ()),
    replace(exe(None, ()), dynamic=True),
    replace(exe(None, ()), is_go=True),
], ids=["static", "static-pie", "static-go"])
def test_static_programs_are_scratch_candidates(facts: ElfFacts) -> None:
    c = app("/hello", facts, entrypoint=("/hello",))
    assert (c.kind, c.base_candidate, c.files) == ("static", "scratch", ("/hello",))
    assert "statically linked" in c.reason


@pytest.mark.parametrize(("facts", "base"), [
    (replace(exe(needed=()), is_go=True), "scratch"),
    (replace(exe(needed=()), incomplete="dynamic strings lie beyond the first 2048 KiB kept"),
     "slim"),
    (exe(needed=("libgone.so.1",)), "slim"),
], ids=["interpreter-but-no-needed", "unreadable-needed-names", "every-library-missing"])
def test_dynamic_programs_whose_libraries_are_unknown_are_never_scratch(facts: ElfFacts,
                                                                         base: str) -> None:
    c = app("/hello", facts, entrypoint=("/hello",))
    assert (c.kind, c.base_candidate) == ("dynamic", base)
    assert "/usr/lib64/ld-linux-x86-64.so.2" in c.files  # the interpreter goes along


def test_a_library_beyond_the_c_runtime_means_slim() -> None:
    c = app("/app/zipper", exe(needed=("libz.so.1", "libc.so.6")), cmd=("/app/zipper",))
    assert c.base_candidate == "slim" and "libz.so.1" in c.reason
    assert {f"{MA}/libz.so.1", f"{MA}/libz.so.1.2.13"} <= set(c.files)


def test_a_missing_library_is_reported_not_invented() -> None:
    c = app("/app/x", exe(needed=("libgone.so.3", "libc.so.6")), cmd=("/app/x",))
    assert [(m.name, m.needed_by, m.optional) for m in c.missing] == [
        ("libgone.so.3", "/app/x", False)]
    assert not any("libgone" in f for f in c.files)
    assert any("libgone.so.3" in n for n in c.notes)


def test_program_found_through_path_and_workdir() -> None:
    layer = [F("/opt/tools/bin/tool", ELF_BODY, 0o755), F("/srv/run/local", ELF_BODY, 0o755)]
    elf = {"/opt/tools/bin/tool": exe(None, ()), "/srv/run/local": exe(None, ())}
    by_path = closure([DEBIAN, layer], elf, cmd=("tool",), env=("PATH=/opt/tools/bin:/bin",))
    assert by_path.entry == "/opt/tools/bin/tool"
    by_dir = closure([DEBIAN, layer], elf, cmd=("./local",), working_dir="/srv/run")
    assert by_dir.entry == "/srv/run/local"


def test_path_lookup_prefers_an_executable_file() -> None:
    layer = [F("/usr/local/bin/tool", "not executable", 0o644), F("/usr/bin/tool", ELF_BODY, 0o755)]
    c = closure([DEBIAN, layer], {"/usr/bin/tool": exe(None, ())}, cmd=("tool",))
    assert c.entry == "/usr/bin/tool"


# -- the library search path ----------------------------------------------------------------

def test_runpath_with_origin() -> None:
    layer = [F("/opt/app/bin/app", ELF_BODY, 0o755), F("/opt/app/lib/libcore.so.1", ELF_BODY)]
    elf = {"/opt/app/bin/app": exe(needed=("libcore.so.1", "libc.so.6"),
                                   runpath=("$ORIGIN/../lib",)),
           "/opt/app/lib/libcore.so.1": lib("libc.so.6")}
    c = closure([DEBIAN, layer], elf, cmd=("/opt/app/bin/app",))
    assert "/opt/app/lib/libcore.so.1" in c.files and c.missing == ()


@pytest.mark.parametrize(("lib_runpath", "found"), [((), True), (("/nowhere",), False)],
                         ids=["rpath-inherited-by-libraries", "runpath-stops-inherited-rpath"])
def test_executable_rpath_reaches_its_libraries_dependencies(lib_runpath: tuple[str, ...],
                                                             found: bool) -> None:
    layer = [F("/app/x", ELF_BODY, 0o755), F("/vendor/liba.so", ELF_BODY),
             F("/vendor/libb.so", ELF_BODY)]
    elf = {"/app/x": exe(needed=("liba.so",), rpath=("/vendor",)),
           "/vendor/liba.so": lib("libb.so", runpath=lib_runpath),
           "/vendor/libb.so": lib()}
    c = closure([DEBIAN, layer], elf, cmd=("/app/x",))
    assert ("/vendor/libb.so" in c.files) is found
    assert bool(c.missing) is not found


def test_ld_so_conf_includes_and_the_cache() -> None:
    layer = [F("/etc/ld.so.conf.d/vendor.conf", "# vendor\n/opt/vendor/lib\n"),
             F("/opt/vendor/lib/libv.so.2", ELF_BODY), F("/etc/ld.so.cache", b"cache"),
             F("/app/x", ELF_BODY, 0o755)]
    elf = {"/app/x": exe(needed=("libv.so.2", "libc.so.6")),
           "/opt/vendor/lib/libv.so.2": lib("libc.so.6")}
    c = closure([DEBIAN, layer], elf, cmd=("/app/x",))
    assert {"/opt/vendor/lib/libv.so.2", "/etc/ld.so.cache"} <= set(c.files)
    assert any("/etc/ld.so.conf" in n and "/opt/vendor/lib" in n for n in c.notes)


def test_ld_library_path_from_the_image_env() -> None:
    layer = [F("/app/x", ELF_BODY, 0o755), F("/app/libs/libq.so", ELF_BODY)]
    elf = {"/app/x": exe(needed=("libq.so",)), "/app/libs/libq.so": lib()}
    c = closure([DEBIAN, layer], elf, cmd=("/app/x",), env=("LD_LIBRARY_PATH=/app/libs",))
    assert "/app/libs/libq.so" in c.files


def test_a_library_of_the_wrong_class_is_passed_over() -> None:
    layer = [F(f"{MA}/libw.so.1", ELF_BODY), F("/usr/lib/libw.so.1", ELF_BODY),
             F("/app/x", ELF_BODY, 0o755)]
    elf = {f"{MA}/libw.so.1": replace(lib(), elf_class=32, machine="i386"),
           "/usr/lib/libw.so.1": lib(), "/app/x": exe(needed=("libw.so.1",))}
    c = closure([DEBIAN, layer], elf, cmd=("/app/x",))
    assert "/usr/lib/libw.so.1" in c.files and f"{MA}/libw.so.1" not in c.files


def test_musl_program_on_alpine() -> None:
    alpine: list[Spec] = [
        F("/lib/ld-musl-x86_64.so.1", ELF_BODY, 0o755),
        L("/lib/libc.musl-x86_64.so.1", "ld-musl-x86_64.so.1"),
        F("/usr/lib/libz.so.1", ELF_BODY), F("/etc/passwd", "root:x:0:0::/root:/bin/sh\n"),
        F("/app/x", ELF_BODY, 0o755)]
    musl = {"/lib/ld-musl-x86_64.so.1": lib(), "/usr/lib/libz.so.1": lib(
        "libc.musl-x86_64.so.1"), "/app/x": exe("/lib/ld-musl-x86_64.so.1",
                                                ("libc.musl-x86_64.so.1",))}
    tree = tree_of(alpine, wants=CLOSURE_WANTS)
    c = compute_closure(tree, ImageConfig(cmd=("/app/x",)), musl)
    assert c.base_candidate == "alpine"
    assert set(c.files) == {"/app/x", "/lib/ld-musl-x86_64.so.1", "/lib/libc.musl-x86_64.so.1"}
    assert not any("glibc" in n for n in c.notes)


def test_symlink_loops_and_hard_links() -> None:
    layer = [F("/app/x", ELF_BODY, 0o755), H("/app/y", "/app/x"),
             L("/app/loop1", "loop2"), L("/app/loop2", "loop1")]
    elf = {"/app/x": exe(None, ()), "/app/y": exe(None, ())}
    c = closure([DEBIAN, layer], elf, cmd=("/app/loop1",))
    assert c.entry is None and c.kind == "unknown"
    c = closure([DEBIAN, layer], elf, cmd=("/app/y",))
    assert c.bytes == len(ELF_BODY)  # the hard link's content once


# -- shells, scripts and wrappers -----------------------------------------------------------

def test_shell_form_keeps_the_shell_and_follows_its_command() -> None:
    c = app("/app/server", exe(None, ()),
            cmd=("/bin/sh", "-c", "PORT=80 exec /app/server --port 80"))
    assert c.entry == "/bin/sh" and c.kind == "static"
    assert {"/bin", "/usr/bin/sh", "/usr/bin/dash", "/app/server"} <= set(c.files)
    assert c.base_candidate == "slim" and "shell form" in c.reason and "scratch" in c.reason


def test_shell_command_option_forms() -> None:
    assert shell_command(["/bin/sh", "-c", "x"]) == "x"
    assert shell_command(["/bin/bash", "-o", "pipefail", "-c", "x"]) == "x"
    assert shell_command(["/bin/bash", "-o", "c", "/app/run.sh"]) is None  # -o's value
    assert shell_command(["/bin/bash", "-ec", "x"]) == "x"
    assert shell_command(["/bin/sh", "/app/run.sh"]) is None


def test_shell_builtin_command_is_a_script() -> None:
    c = closure([DEBIAN], {}, cmd=("/bin/sh", "-c", "echo hello"))
    assert c.kind == "script" and "/usr/bin/dash" in c.files


def test_shell_running_a_script_file() -> None:
    c = closure([DEBIAN, [F("/app/run.sh", "echo hi\n")]], {}, cmd=("sh", "/app/run.sh"))
    assert c.kind == "script" and "/app/run.sh" in c.files and c.base_candidate == "slim"


def test_shebang_through_env_to_python() -> None:
    c = closure([DEBIAN, PYTHON, [F("/app/run.py", "#!/usr/bin/env python3\nprint(1)\n",
                                    0o755)]], PY_ELF, cmd=("/app/run.py",))
    assert c.kind == "python" and c.entry == "/app/run.py"
    assert {"/usr/bin/env", "/usr/bin/python3.11", "/usr/lib/python3.11/os.py"} <= set(c.files)


def test_file_that_is_neither_elf_nor_script() -> None:
    c = closure([DEBIAN, [F("/app/data", "just text", 0o755)]], {}, cmd=("/app/data",))
    assert c.kind == "unknown" and any("no #! line" in n for n in c.notes)


def test_tini_wrapper_and_entrypoint_script_running_its_arguments() -> None:
    layers = [DEBIAN, PYTHON, [F("/tini", ELF_BODY, 0o755), F("/app/app.py", "print(1)\n"),
              F("/usr/bin/gosu", ELF_BODY, 0o755),
              F("/usr/local/bin/docker-entrypoint.sh", '#!/bin/sh\nset -e\nexec "$@"\n',
                0o755)]]
    elf = {**PY_ELF, "/tini": exe(None, ())}
    c = closure(layers, elf, entrypoint=("/tini", "--"), cmd=("python3", "app.py"),
                working_dir="/app")
    assert c.kind == "python" and c.entry == "/tini" and "/app/app.py" in c.files
    c = closure(layers, elf, entrypoint=("docker-entrypoint.sh",), cmd=("python3", "app.py"),
                working_dir="/app")
    assert c.kind == "python" and "/usr/bin/dash" in c.files
    c = closure(layers, {**elf, "/usr/bin/gosu": exe(None, ())},
                cmd=("gosu", "app", "python3", "-u", "app.py"), working_dir="/app")
    assert c.kind == "python" and {"/usr/bin/gosu", "/app/app.py"} <= set(c.files)


def test_no_command_and_unknown_command() -> None:
    c = closure([DEBIAN], {})
    assert (c.entry, c.kind, c.files, c.base_candidate) == (None, "unknown", (), "unknown")
    c = closure([DEBIAN], {}, cmd=("nosuchprogram",))
    assert c.kind == "unknown" and any("nosuchprogram" in n for n in c.notes)


# -- where ELF facts come from --------------------------------------------------------------

def test_facts_from_a_function_and_unread_facts_are_noted() -> None:
    layer = [F("/app/hello", ELF_BODY, 0o755)]
    tree: FileTree = tree_of(DEBIAN, layer, wants=CLOSURE_WANTS)
    facts = {**DEBIAN_ELF, "/app/hello": exe()}
    by_function = compute_closure(tree, ImageConfig(cmd=("/app/hello",)), facts.get)
    assert set(by_function.files) >= LIBC_FILES
    unread = compute_closure(tree, ImageConfig(cmd=("/app/hello",)))
    assert unread.kind == "unknown" and unread.files == ("/app/hello",)
    assert any("facts were not read" in n for n in unread.notes)

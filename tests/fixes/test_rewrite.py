"""The rewritten Dockerfile: the build kept whole, a final stage with the closure only."""

from __future__ import annotations

from dataclasses import replace

import pytest

from auditor.fixes.copyplan import MAX_COPIES, plan_copies, trace
from auditor.fixes.dockerfile import parse_dockerfile
from auditor.fixes.rewrite import LocalBase, Rewrite, expected_findings, rewrite
from auditor.model.evidence import Evidence
from auditor.model.findings import Finding
from auditor.model.image import HistoryEntry, ImageConfig
from tests.conftest import FIXTURES
from tests.fixes.fixkit import (
    APP,
    BASE,
    DOCKERFILE,
    LIBC,
    LOADER,
    Closure,
    Missing,
    attribution_of,
    result_of,
)
from tests.layerkit import D, F, L, Spec


def rewritten(text: str = DOCKERFILE, closure: Closure | None = None, *,
              layers: tuple[list[Spec], ...] = (), config: ImageConfig | None = None,
              target: str | None = None, **kw: object) -> Rewrite:
    result = result_of(*layers, config=config)
    attribution = attribution_of(result, text, target=target)
    user = config.user if config is not None else ""
    return rewrite(text, attribution, closure or Closure(), image_user=user, result=result,
                   **kw)  # type: ignore[arg-type]


def final_lines(rw: Rewrite) -> list[str]:
    text = rw.text
    return text[text.rindex("\nFROM "):].strip().splitlines()


def test_every_original_instruction_is_kept_in_the_builder():
    rw = rewritten()
    original = [ins.original for s in parse_dockerfile(DOCKERFILE).stages
                for ins in s.instructions]
    builder = parse_dockerfile(rw.text).stages[0]
    assert [ins.original for ins in builder.instructions] == original
    assert builder.name == "build" and builder.base == "base"


def test_dynamic_binary_on_scratch_copies_the_names_the_program_uses():
    rw = rewritten()
    assert rw.base == "scratch"
    lines = final_lines(rw)
    assert lines[0] == "FROM scratch"
    copies = [line for line in lines if line.startswith("COPY")]
    # The loader under the name PT_INTERP gives, libc where the loader looks, each once.
    assert copies == [
        "COPY --from=build /lib/x86_64-linux-gnu/libc.so.6 /lib/x86_64-linux-gnu/libc.so.6",
        "COPY --from=build /lib64/ld-linux-x86-64.so.2 /lib64/ld-linux-x86-64.so.2",
        "COPY --from=build /src/hello /src/hello",
    ]
    assert rw.expected_bytes == 100 + 1000 + 200
    assert lines[-2:] == ["USER 65532:65532", 'CMD ["/src/hello"]']
    assert "WORKDIR /src" in lines
    assert 'ENV PATH="/usr/local/bin:/usr/bin:/bin"' in lines


def test_the_rewrite_uses_nothing_the_legacy_builder_lacks():
    text = rewritten(closure=Closure(files=(*Closure().files, *big_closure()))).text
    assert "<<" not in text and "--mount" not in text and "--chmod" not in text
    assert "# syntax" not in text


def big_closure() -> tuple[str, ...]:
    return tuple(f"/app/lib/m{i}.py" for i in range(MAX_COPIES + 3))


APP_LIB: list[Spec] = [D("/app"), D("/app/lib"),
                       *(F(f"/app/lib/m{i}.py", "x" * 10) for i in range(MAX_COPIES + 3))]


def test_a_large_closure_is_gathered_with_tar_links_kept():
    closure = Closure(files=(*Closure().files, *big_closure()))
    rw = rewritten(closure=closure, layers=(BASE, [*APP, *APP_LIB]))
    assert rw.plan is not None and rw.plan.staging
    assert "COPY --from=build /auditor-runtime/ /" in final_lines(rw)
    builder_run = rw.text[rw.text.index("RUN mkdir -p /auditor-runtime"):]
    assert "tar -C / -cf - --no-recursion" in builder_run
    for entry in ("lib64 ", "lib ", "usr/lib/x86_64-linux-gnu/libc.so.6",
                  "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"):
        assert f"      {entry.strip()} " in builder_run
    # Directories the closure fills completely are named once, not file by file.
    assert "tar -C / -cf - \\\n      app \\\n      src \\\n      usr/lib64 \\\n    | tar" \
        in builder_run
    assert "m0.py" not in builder_run
    assert rw.expected_bytes == 100 + 1000 + 200 + 10 * (MAX_COPIES + 3)


def test_without_a_shell_in_the_builder_each_path_is_copied():
    no_shell = [s for s in BASE if getattr(s, "path", "") not in ("/usr/bin/sh", "/usr/bin/dash")]
    closure = Closure(files=(*Closure().files, *big_closure()))
    rw = rewritten(closure=closure, layers=(no_shell, [*APP, *APP_LIB]))
    assert rw.plan is not None and not rw.plan.staging
    assert "COPY --from=build /app/lib/m0.py /app/lib/m0.py" in final_lines(rw)
    assert any("no shell and tar" in n for n in rw.notes)


@pytest.mark.parametrize(("user", "want"), [
    ("", "USER 65532:65532"),
    ("root", "USER 65532:65532"),
    ("toor", "USER 65532:65532"),
    ("0:0", "USER 65532:65532"),
    ("1000:1000", "USER 1000:1000"),
    ("app", "USER 10001:10001"),
], ids=["no-user-is-root", "root-by-name", "second-uid-0-name", "root-by-number",
        "numeric-non-root-kept", "named-user-by-number"])
def test_final_user(user: str, want: str):
    config = ImageConfig(cmd=("/src/hello",), user=user)
    assert want in final_lines(rewritten(config=config))


def test_a_named_user_gets_its_passwd_line_from_the_builder():
    rw = rewritten(config=ImageConfig(cmd=("/src/hello",), user="app"))
    assert "grep '^app:' /etc/passwd > /auditor-etc/passwd" in rw.text
    assert "awk -F: '$3 == 10001' /etc/group" in rw.text
    assert "COPY --from=build /auditor-etc/ /etc/" in final_lines(rw)


def test_a_named_user_needs_no_extraction_when_passwd_is_in_the_closure():
    closure = Closure(files=(*Closure().files, "/etc/passwd", "/etc/group"))
    rw = rewritten(closure=closure, config=ImageConfig(cmd=("/src/hello",), user="app"))
    assert "/auditor-etc" not in rw.text
    assert "COPY --from=build /etc/passwd /etc/passwd" in final_lines(rw)
    assert "USER 10001:10001" in final_lines(rw)


def test_a_shell_healthcheck_cannot_run_on_scratch():
    text = DOCKERFILE + "HEALTHCHECK CMD wget -q -O- http://localhost/ || exit 1\n"
    config = ImageConfig(cmd=("/src/hello",), healthcheck=("CMD-SHELL", "wget ... || exit 1"))
    rw = rewritten(text, config=config)
    lines = final_lines(rw)
    assert not any(line.startswith("HEALTHCHECK") for line in lines)
    assert "# HEALTHCHECK CMD wget -q -O- http://localhost/ || exit 1" in lines
    assert any("HEALTHCHECK left out" in n for n in rw.notes)


def test_an_exec_healthcheck_of_a_copied_binary_is_kept():
    text = DOCKERFILE + 'HEALTHCHECK --interval=30s CMD ["/src/hello", "--ping"]\n'
    config = ImageConfig(cmd=("/src/hello",), healthcheck=("CMD", "/src/hello", "--ping"))
    assert 'HEALTHCHECK --interval=30s CMD ["/src/hello", "--ping"]' in final_lines(
        rewritten(text, config=config))


@pytest.mark.parametrize(("command", "want", "note"), [
    ("/src/hello --serve", 'CMD ["/src/hello", "--serve"]', "became exec form"),
    ("/src/hello > /tmp/log", 'CMD ["/bin/sh", "-c", "/src/hello > /tmp/log"]', "needs a shell"),
], ids=["simple-shell-form-becomes-exec", "shell-syntax-is-kept-and-said"])
def test_shell_form_cmd_on_scratch(command: str, want: str, note: str):
    config = ImageConfig(cmd=("/bin/sh", "-c", command))
    rw = rewritten(config=config)
    assert want in final_lines(rw)
    assert any(note in n for n in rw.notes)


def test_a_secret_env_is_not_carried_over():
    result = result_of(config=ImageConfig(cmd=("/src/hello",), env=(
        "PATH=/usr/bin:/bin", "API_TOKEN=ghp_0000", "GPG_KEY=A035C8C1")))
    result = replace(result, findings=(Finding("AUD-SECRET-ENV", "secret", "high", "t", "m",
                                               evidence=Evidence.of(variable="API_TOKEN")),))
    rw = rewrite(DOCKERFILE, attribution_of(result), Closure(), image_user="", result=result)
    assert "ghp_0000" not in rw.text and 'GPG_KEY="A035C8C1"' in rw.text
    assert any("API_TOKEN" in n for n in rw.notes)


def test_a_runtime_base_the_image_was_built_on_gets_only_the_newer_files():
    result = result_of()
    debian = LocalBase("debian:bookworm", layers=result.image.config.diff_ids[:1])
    rw = rewrite(DOCKERFILE, attribution_of(result), Closure(), image_user="", result=result,
                 runtime_base="debian:bookworm", available_bases=[debian])
    assert final_lines(rw)[0] == "FROM debian:bookworm"
    assert [x for x in final_lines(rw) if x.startswith("COPY")] == [
        "COPY --from=build /src/hello /src/hello"]
    base_bytes = result.tree.layers[0].added_bytes
    assert rw.expected_bytes == base_bytes + 100


def test_an_incomplete_closure_starts_from_the_smallest_local_ancestor():
    result = result_of()
    bases = ["busybox:latest", LocalBase("debian:bookworm", result.image.config.diff_ids[:1])]
    closure = Closure(missing=(Missing("libfoo.so.1", "/src/hello"),))
    rw = rewrite(DOCKERFILE, attribution_of(result), closure, image_user="", result=result,
                 available_bases=bases)
    assert rw.base == "debian:bookworm" and "incomplete" in rw.notes[0]


def test_an_optional_missing_library_does_not_block_scratch():
    closure = Closure(missing=(Missing("_ssl.so", "/usr/lib/python3", optional=True),))
    assert rewritten(closure=closure).base == "scratch"


def test_without_a_closure_the_final_stage_copies_nothing_and_says_so():
    result = result_of()
    rw = rewrite(DOCKERFILE, attribution_of(result), None, image_user="", result=result)
    assert not [x for x in final_lines(rw) if x.startswith("COPY")]
    assert any("no runtime closure" in n for n in rw.notes)


def test_a_named_target_stage_keeps_its_name_and_later_stages_stay():
    text = ("FROM base AS compile\nWORKDIR /src\nCOPY hello ./\nCMD [\"/src/hello\"]\n"
            "FROM scratch AS other\nCOPY --from=compile /src/hello /x\n")
    rw = rewritten(text, target="compile")
    stages = parse_dockerfile(rw.text).stages
    assert [s.name for s in stages] == ["compile", "other", None]
    assert "COPY --from=compile /src/hello /src/hello" in final_lines(rw)


def test_the_builder_alias_avoids_a_taken_name():
    text = "FROM base AS build\nRUN true\nFROM base\nWORKDIR /src\nCOPY hello ./\n" \
           "CMD [\"/src/hello\"]\n"
    rw = rewritten(text)
    assert "FROM base AS auditor-build" in rw.text
    assert "COPY --from=auditor-build /src/hello /src/hello" in final_lines(rw)


def test_trace_follows_merged_usr_links():
    tree = result_of().tree
    assert trace(tree, "/lib64/ld-linux-x86-64.so.2") == (
        ["/lib64", "/usr/lib64/ld-linux-x86-64.so.2", "/lib"], LOADER)
    assert trace(tree, "/lib/x86_64-linux-gnu/nope") == (["/lib"], None)


def test_plan_reports_missing_paths():
    plan = plan_copies(["/src/hello", "/nowhere"], result_of().tree)
    assert plan.missing == ("/nowhere",) and plan.copies == ("/src/hello",)


def test_plan_without_a_tree_copies_as_named():
    plan = plan_copies([LIBC, LIBC, "/src/hello"], None)
    assert plan.copies == (LIBC, "/src/hello") and plan.notes


def test_paths_with_spaces_use_the_json_form():
    closure = Closure(files=("/src/my app",))
    layers = (BASE, [D("/src"), F("/src/my app", "x")])
    rw = rewritten(closure=replace(closure), layers=layers)
    assert 'COPY --from=build ["/src/my app", "/src/my app"]' in final_lines(rw)


def test_a_backtick_escape_directive_is_kept_in_generated_lines():
    text = "# escape=`\n" + DOCKERFILE
    closure = Closure(files=(*Closure().files, *big_closure()))
    rw = rewritten(text, closure=closure, layers=(BASE, [*APP, *APP_LIB]))
    assert rw.text.startswith("# escape=`\n")
    assert " \\\n" not in rw.text
    stages = parse_dockerfile(rw.text).stages
    [gather] = [i for i in stages[0].instructions if i.keyword == "RUN"]
    assert "tar -C /auditor-runtime" in gather.original  # one instruction, not several


def test_notes_carry_what_attribution_and_the_closure_could_not_decide():
    closure = replace(Closure(), notes=("CA certificates are not in the closure",))
    rw = rewritten(DOCKERFILE + "RUN echo not built\n", closure=closure)
    assert any(n.startswith("attribution: line 6") for n in rw.notes)
    assert "closure: CA certificates are not in the closure" in rw.notes


def test_expected_findings_keep_only_what_the_final_stage_still_has():
    result = result_of()
    result = replace(result, findings=(
        Finding("AUD-SHELL", "shell", "medium", "t", "m", path="/usr/bin/dash",
                paths=("/usr/bin/dash", "/usr/bin/sh"), layer=0),
        Finding("AUD-X", "config", "low", "t", "m", path=LIBC, layer=0),
        Finding("AUD-ROOT-USER", "root-user", "high", "t", "m"),
        Finding("AUD-APT-RECOMMENDS", "config", "low", "t", "m", layer=1,
                evidence=Evidence.of(history_index=2)),
        Finding("AUD-SSH-PORT", "config", "medium", "t", "m"),
    ))
    rw = rewrite(DOCKERFILE, attribution_of(result), Closure(), result=result)
    kept = expected_findings(result, rw)
    assert kept is not None
    assert [f.rule_id for f in kept] == ["AUD-X", "AUD-SSH-PORT"]  # libc is copied; dash not
    debian = LocalBase("debian", layers=result.image.config.diff_ids[:1])
    on_base = rewrite(DOCKERFILE, attribution_of(result), Closure(), result=result,
                      runtime_base="debian", available_bases=[debian])
    assert [f.rule_id for f in expected_findings(result, on_base) or []] == [
        "AUD-SHELL", "AUD-X", "AUD-SSH-PORT"]  # the base's own files stay
    unknown = rewrite(DOCKERFILE, attribution_of(result), Closure(), result=result,
                      runtime_base="elsewhere:1")
    assert expected_findings(result, unknown) is None


# -- what the rewrite keeps of the original's COPY flags and USER (fixtures/entrypoint-script)

ENTRYPOINT_DOCKERFILE = FIXTURES / "entrypoint-script" / "Dockerfile"
BUSYBOX: list[Spec] = [
    D("/bin"), D("/etc"), D("/tmp", mode=0o1777),
    F("/bin/busybox", b"\x7fELF" + b"b" * 996, mode=0o755), L("/bin/sh", "busybox"),
    L("/bin/id", "busybox"), L("/bin/basename", "busybox"), L("/bin/echo", "busybox"),
    F("/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"
                     "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"),
    F("/etc/group", "root:x:0:\nnogroup:x:65534:\n"),
]
SCRIPT: list[Spec] = [D("/usr"), D("/usr/local"), D("/usr/local/bin"),
                      F("/usr/local/bin/entrypoint.sh", "#!/bin/sh\nid -u\nexec \"$@\"\n",
                        mode=0o750, uid=65534, gid=65534)]
ENTRYPOINT_HISTORY = (
    HistoryEntry("", False),
    HistoryEntry("/bin/sh -c #(nop) COPY --chown=65534:65534file:26eaddb53734e372 in "
                 "/usr/local/bin/entrypoint.sh ", False),
    HistoryEntry("/bin/sh -c #(nop)  USER nobody", True),
    HistoryEntry('/bin/sh -c #(nop)  ENTRYPOINT ["/usr/local/bin/entrypoint.sh"]', True),
    HistoryEntry('/bin/sh -c #(nop)  CMD ["echo" "hello from entrypoint-script"]', True),
)
ENTRYPOINT_CONFIG = ImageConfig(user="nobody", entrypoint=("/usr/local/bin/entrypoint.sh",),
                                cmd=("echo", "hello from entrypoint-script"),
                                env=("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:"
                                     "/usr/bin:/sbin:/bin",))


def entrypoint_rewrite(text: str, script: list[Spec] = SCRIPT) -> Rewrite:
    result = result_of(BUSYBOX, script, config=ENTRYPOINT_CONFIG, history=ENTRYPOINT_HISTORY)
    closure = Closure(entry="/usr/local/bin/entrypoint.sh", kind="script", files=(
        "/usr/local/bin/entrypoint.sh", "/bin/sh", "/bin/busybox", "/bin/id", "/bin/basename",
        "/bin/echo"), reason="a script needs its interpreter and the programs it runs")
    rw = rewrite(text, attribution_of(result, text), closure, image_user="nobody",
                 result=result)
    assert rw.base == "scratch"
    return rw


def test_the_entrypoint_script_keeps_its_owner_its_mode_and_its_user():
    text = ENTRYPOINT_DOCKERFILE.read_text()
    rw = entrypoint_rewrite(text)
    df = parse_dockerfile(rw.text)
    builder, final = df.stages[0], df.stages[-1]
    # The builder keeps the original COPY, --chown and all.
    [copy] = [i for i in builder.instructions if i.keyword == "COPY"]
    assert copy.flag("chown") == "65534:65534"
    # The final stage copies the script with the owner it had; COPY --from keeps its mode.
    [script] = [i for i in final.instructions if i.keyword == "COPY"
                and "/usr/local/bin/entrypoint.sh" in i.args]
    assert script.flag("chown") == "65534:65534" and script.flag("from") == "build"
    assert script.flag("chmod") is None  # the legacy builder has no --chmod
    # busybox, owned by root, is copied with no --chown.
    assert all(i.flag("chown") is None for i in final.instructions
               if i.keyword == "COPY" and "/usr/local/bin/entrypoint.sh" not in i.args)
    # The final USER is nobody's, by number, with nobody's passwd line carried over.
    users = [i.args[0] for i in final.instructions if i.keyword == "USER"]
    assert users == ["65534:65534"]
    assert "grep '^nobody:' /etc/passwd" in rw.text
    assert [i.keyword for i in final.instructions][-2:] == ["ENTRYPOINT", "CMD"]


def test_a_copy_with_chmod_keeps_it_in_the_builder_and_its_mode_through_copy_from():
    text = ENTRYPOINT_DOCKERFILE.read_text().replace(
        "COPY --chown=65534:65534", "COPY --chown=65534:65534 --chmod=0750")
    rw = entrypoint_rewrite(text)
    builder, final = (parse_dockerfile(rw.text).stages[i] for i in (0, -1))
    [copy] = [i for i in builder.instructions if i.keyword == "COPY"]
    assert (copy.flag("chown"), copy.flag("chmod")) == ("65534:65534", "0750")
    [script] = [i for i in final.instructions if "/usr/local/bin/entrypoint.sh" in i.args
                and i.keyword == "COPY"]
    assert script.flag("chown") == "65534:65534"

"""Attribution: history entries matched to the final stage's Dockerfile lines, from the end."""

from __future__ import annotations

import pytest

from auditor.errors import UsageError
from auditor.fixes.attribution import Attribution, attribute
from auditor.fixes.dockerfile import expand, parse_dockerfile
from auditor.model.image import HistoryEntry

IMPORT = HistoryEntry("", False, comment="Imported from -")


def run(created_by: str) -> HistoryEntry:
    return HistoryEntry(created_by, False)


def nop(created_by: str) -> HistoryEntry:
    return HistoryEntry(created_by, True)


# The toolchain base as the legacy builder records it, then c-single's own steps.
TOOLCHAIN = [
    IMPORT,
    run("/bin/sh -c apt-get update  && apt-get install -y gcc  && rm -rf /var/lib/apt/lists/*"),
    nop("/bin/sh -c #(nop)  ENV GOPATH=/go PATH=/go/bin:/usr/bin:/bin"),
    run("/bin/sh -c #(nop) WORKDIR /src"),
]
C_SINGLE = """\
# Single-stage C
FROM toolchain
WORKDIR /src
COPY hello.c Makefile ./
RUN make hello
CMD ["/src/hello"]
"""
C_SINGLE_HISTORY = [
    *TOOLCHAIN,
    nop("/bin/sh -c #(nop) WORKDIR /src"),
    run("/bin/sh -c #(nop) COPY multi:d9350200d7ee0bec7a9f278fca28f8b90ea238c18f70f9255bc614bc"
        " in ./ "),
    run("/bin/sh -c make hello"),
    nop('/bin/sh -c #(nop)  CMD ["/src/hello"]'),
]


def attribute_layers(text: str, history: list[HistoryEntry], **kw: object) -> Attribution:
    layers = sum(1 for h in history if not h.empty_layer)
    return attribute(text, history, layers, **kw)  # type: ignore[arg-type]


def lines_of(a: Attribution) -> list[int | None]:
    return [o.dockerfile_line for o in a.layers]


def test_legacy_single_stage_lines_and_base():
    a = attribute_layers(C_SINGLE, C_SINGLE_HISTORY)
    assert lines_of(a) == [None, None, None, 4, 5]
    assert [o.from_base for o in a.layers] == [True, True, True, False, False]
    assert a.base_layers == 3 and a.base_image == "toolchain" and a.from_line == 2
    assert [o.confidence for o in a.layers[3:]] == ["exact", "exact"]
    assert a.layers[4].instruction == "RUN make hello"
    assert a.layers[1].instruction.startswith("RUN apt-get update")  # the base's own step
    assert a.unmatched == ()


def test_empty_layer_steps_are_matched_too():
    a = attribute_layers(C_SINGLE, C_SINGLE_HISTORY)
    by_line = {s.instruction.line: (s.history_index, s.layer) for s in a.steps}
    assert by_line == {3: (4, None), 4: (5, 3), 5: (6, 4), 6: (7, None)}


def test_the_base_workdir_is_not_taken_for_the_stage_one():
    # The base ends with the same WORKDIR /src as the stage begins with: alignment from the
    # end gives the stage the later one.
    a = attribute_layers(C_SINGLE, C_SINGLE_HISTORY)
    assert a.steps[0].history_index == 4


BUILDKIT = """\
FROM golang:1.22 AS build
WORKDIR /src
COPY . .
RUN go build -o /out/app .

FROM debian:bookworm-slim
ARG VERSION=dev
RUN apt-get update \\
 && apt-get install -y --no-install-recommends ca-certificates \\
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/app /usr/local/bin/app
USER 10001
ENTRYPOINT ["/usr/local/bin/app"]
"""
BUILDKIT_HISTORY = [
    run("/bin/sh -c #(nop) ADD file:4b1be1de1a1e5aa608c688cad2824587262081866180d7368feb79d8ca3"
        " in / "),
    nop('/bin/sh -c #(nop)  CMD ["bash"]'),
    nop("ARG VERSION=dev"),
    run("RUN |1 VERSION=dev /bin/sh -c apt-get update  && apt-get install -y "
        "--no-install-recommends ca-certificates  && rm -rf /var/lib/apt/lists/* # buildkit"),
    run("COPY /out/app /usr/local/bin/app # buildkit"),
    nop("USER 10001"),
    nop('ENTRYPOINT ["/usr/local/bin/app"]'),
]


def test_buildkit_multi_stage_final_stage_only():
    a = attribute_layers(BUILDKIT, BUILDKIT_HISTORY)
    assert lines_of(a) == [None, 8, 11]
    assert a.base_image == "debian:bookworm-slim" and a.from_line == 6
    assert a.base_layers == 1
    assert all(o.confidence == "exact" for o in a.layers[1:])
    assert a.target is not None and a.target.index == 1


def test_copy_from_recorded_as_a_local_copy_by_the_legacy_builder():
    history = [*BUILDKIT_HISTORY[:2], nop("/bin/sh -c #(nop)  ARG VERSION=dev"),
               run("|1 VERSION=dev /bin/sh -c apt-get update  && apt-get install -y "
                   "--no-install-recommends ca-certificates  && rm -rf /var/lib/apt/lists/*"),
               run("/bin/sh -c #(nop) COPY file:39be6dc931a304848c209153a600a40c1dd95cdec97f10e"
                   "b39536a35d8cc0926 in /usr/local/bin/app "),
               nop("/bin/sh -c #(nop)  USER 10001"),
               nop('/bin/sh -c #(nop)  ENTRYPOINT ["/usr/local/bin/app"]')]
    a = attribute_layers(BUILDKIT, history)
    assert lines_of(a) == [None, 8, 11]
    assert {o.confidence for o in a.layers[1:]} == {"exact"}


def test_build_args_and_env_expand_in_copy_destinations():
    text = """\
FROM base
ARG APP_DIR=/opt/default
ENV HOME_DIR=/home/app
COPY app $APP_DIR/
WORKDIR ${HOME_DIR}/work
COPY conf ./conf
"""
    history = [run("/bin/sh -c #(nop) ADD file:aaaaaaaaaaaaaaaaaaaa in / "),
               nop("/bin/sh -c #(nop)  ARG APP_DIR=/opt/default"),
               nop("/bin/sh -c #(nop)  ENV HOME_DIR=/home/app"),
               run("/bin/sh -c #(nop) COPY dir:bbbbbbbbbbbbbbbbbbbb in /srv/app/ "),
               run("/bin/sh -c #(nop) WORKDIR /home/app/work"),
               run("/bin/sh -c #(nop) COPY dir:cccccccccccccccccccc in ./conf ")]
    a = attribute_layers(text, history, build_args={"APP_DIR": "/srv/app"})
    assert lines_of(a) == [None, 4, 5, 6]
    assert {o.confidence for o in a.layers[1:]} == {"exact"}
    # Without the build arg, the COPY's destination differs: not this build, said once.
    a = attribute_layers(text, history)
    assert a.mismatch is not None and "line 4" in a.mismatch and "--build-arg" in a.mismatch
    assert lines_of(a) == [None] * 4 and a.unmatched == (a.mismatch,)


def test_shell_form_cmd_and_healthcheck_shapes():
    text = """\
FROM base
COPY app /app
HEALTHCHECK --interval=30s --timeout=3s CMD ["/app", "--health"]
CMD /app --serve
"""
    history = [IMPORT, run("/bin/sh -c #(nop) COPY file:dddddddddddddddddddd in /app "),
               nop('/bin/sh -c #(nop)  HEALTHCHECK &{["CMD" "/app" "--health"] "30s" "3s" "0s"'
                   " '\\x00'}"),
               nop('/bin/sh -c #(nop)  CMD ["/bin/sh" "-c" "/app --serve"]')]
    a = attribute_layers(text, history)
    assert [s.confidence for s in a.steps] == ["exact", "exact", "exact"]


def test_line_continuations_and_whitespace_do_not_matter():
    text = "FROM base\nRUN set -e; \\\n    echo one \\\n    && echo two\n"
    history = [IMPORT, run("/bin/sh -c set -e;     echo one     && echo two")]
    a = attribute_layers(text, history)
    assert a.layers[1].confidence == "exact" and a.layers[1].dockerfile_line == 2


def test_parent_stage_instructions_are_in_the_chain():
    text = """\
FROM debian AS deps
RUN apt-get install -y libpq5
FROM deps
COPY app /app
"""
    history = [IMPORT, run("/bin/sh -c apt-get install -y libpq5"),
               run("/bin/sh -c #(nop) COPY file:eeeeeeeeeeeeeeeeeeee in /app ")]
    a = attribute_layers(text, history)
    assert lines_of(a) == [None, 2, 4]
    assert a.base_image == "debian" and a.base_layers == 1


def test_target_selects_a_middle_stage():
    text = """\
FROM base AS build
RUN make
FROM scratch
COPY --from=build /out /out
"""
    history = [IMPORT, run("/bin/sh -c make")]
    a = attribute_layers(text, history, target="build")
    assert lines_of(a) == [None, 2]
    with pytest.raises(UsageError, match="no stage 'nope'"):
        attribute_layers(text, history, target="nope")


def test_a_layer_no_instruction_made_is_said_not_guessed():
    history = [*C_SINGLE_HISTORY[:6], run("/bin/sh -c echo sneaked in"),
               *C_SINGLE_HISTORY[6:]]
    a = attribute_layers(C_SINGLE, history)
    assert a.mismatch is not None and "echo sneaked in" in a.mismatch
    assert all(o.dockerfile_line is None and o.confidence == "none" for o in a.layers)


def test_an_instruction_missing_from_history_is_reported():
    text = C_SINGLE.replace("RUN make hello", "RUN make hello\nRUN strip hello")
    a = attribute_layers(text, C_SINGLE_HISTORY)
    assert a.mismatch is not None and "line 6" in a.mismatch and "no entry" in a.mismatch
    assert lines_of(a) == [None] * 5 and a.base_layers == 0


def test_another_dockerfile_matches_nothing_exactly_and_is_not_trusted():
    text = "FROM base\nCOPY x /elsewhere\nRUN other command\nCMD [\"/bin/other\"]\n"
    a = attribute_layers(text, C_SINGLE_HISTORY)
    assert all(o.dockerfile_line is None and not o.from_base for o in a.layers)
    assert a.base_layers == 0 and a.mismatch is not None
    assert a.mismatch.startswith("the image's history does not match")
    assert all(s.history_index is None for s in a.steps)


def test_a_dockerfile_that_only_names_the_base_makes_every_layer_the_bases():
    a = attribute_layers("FROM toolchain\n", TOOLCHAIN)
    assert a.base_layers == 3 and all(o.from_base for o in a.layers)


def test_history_that_does_not_add_up_to_the_layers():
    a = attribute(C_SINGLE, C_SINGLE_HISTORY, 7)
    assert [o.confidence for o in a.layers] == ["none"] * 7
    assert a.base_layers == 0
    assert "7 layers" in a.unmatched[0]


def test_no_history_at_all():
    a = attribute(C_SINGLE, [], 2)
    assert [o.dockerfile_line for o in a.layers] == [None, None]
    assert a.unmatched


def test_unparsable_dockerfile_is_a_usage_error():
    with pytest.raises(UsageError):
        attribute("# only a comment\n", C_SINGLE_HISTORY, 5)
    with pytest.raises(UsageError, match="no FROM"):
        attribute("ARG A=1\n", C_SINGLE_HISTORY, 5)


@pytest.mark.parametrize(("word", "scope", "want"), [
    ("$A/x", {"A": "/opt"}, ("/opt/x", True)),
    ("${A}x", {"A": "1"}, ("1x", True)),
    ("${B:-dflt}", {}, ("dflt", True)),
    ("${A:+set}", {"A": "1"}, ("set", True)),
    ("'$A'", {"A": "1"}, ("$A", True)),
    ('"a b"', {}, ("a b", True)),
    ("\\$A", {"A": "1"}, ("$A", True)),
    ("$UNKNOWN/x", {}, ("/x", False)),
], ids=["plain", "braced", "default-when-unset", "alternative-when-set",
        "single-quotes-are-literal", "double-quotes-removed", "escaped-dollar",
        "unknown-variable-is-flagged"])
def test_expand(word: str, scope: dict[str, str], want: tuple[str, bool]):
    assert expand(word, scope) == want


def test_stages_names_and_source_lines():
    df = parse_dockerfile("ARG BASE=debian\nFROM ${BASE}:12 AS Build\nRUN a \\\n  b\n"
                          "FROM build\n")
    assert [s.name for s in df.stages] == ["build", None]
    assert df.stages[0].base == "debian:12"
    assert [s.index for s in df.chain()] == [0, 1]
    assert df.source(df.stages[0].instructions[0]) == "RUN a \\\n  b"


HEREDOC = """\
# syntax=docker/dockerfile:1
FROM busybox
COPY <<EOF /etc/greeting
hello
EOF
CMD ["cat", "/etc/greeting"]
"""
HEREDOC_HISTORY = [  # as BuildKit (docker 26, buildx) records it
    run("/bin/sh -c #(nop) ADD file:ab12cd34ef56ab12cd34ef56 in / "),
    nop('/bin/sh -c #(nop)  CMD ["sh"]'),
    run("COPY <<EOF /etc/greeting # buildkit"),
    nop('CMD ["cat" "/etc/greeting"]'),
]


def test_buildkit_heredoc_copy_is_exact():
    a = attribute_layers(HEREDOC, HEREDOC_HISTORY)
    assert lines_of(a) == [None, 3]
    assert a.layers[1].confidence == "exact"


QUOTED_ARG = """\
FROM busybox
ARG GREETING="hello world" PLACE='the moon'
ENV PATH=/opt/app/bin:$PATH
RUN echo "$GREETING" > /greeting
"""
QUOTED_ARG_HISTORY = [  # as BuildKit (docker 26, buildx) records it
    run("/bin/sh -c #(nop) ADD file:ab12cd34ef56ab12cd34ef56 in / "),
    nop('/bin/sh -c #(nop)  CMD ["sh"]'),
    nop("ARG GREETING=hello world PLACE=the moon"),
    nop("ENV PATH=/opt/app/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
    run('|2 GREETING=hello world PLACE=the moon /bin/sh -c echo "$GREETING" > /greeting'
        " # buildkit"),
]


def test_buildkit_quoted_arg_and_env_path_are_exact():
    a = attribute_layers(QUOTED_ARG, QUOTED_ARG_HISTORY)
    assert lines_of(a) == [None, 4]
    confidence = {s.instruction.keyword: s.confidence for s in a.steps}
    assert confidence == {"ARG": "exact", "ENV": "exact", "RUN": "exact"}, confidence


BUILDAH = """\
FROM busybox
WORKDIR /app
COPY greeting.txt .
CMD ["cat", "greeting.txt"]
"""
BUILDAH_HISTORY = [  # as buildah (podman build) records it
    run("/bin/sh -c #(nop) ADD file:ab12cd34ef56ab12cd34ef56 in / "),
    nop('/bin/sh -c #(nop)  CMD ["sh"]'),
    run("/bin/sh -c #(nop) WORKDIR /app"),
    run("/bin/sh -c #(nop) COPY file:5f0b1c3a9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d in . "),
    nop('/bin/sh -c #(nop) CMD ["cat", "greeting.txt"]'),
]


def test_buildah_copy_file_sha_is_exact():
    a = attribute_layers(BUILDAH, BUILDAH_HISTORY)
    assert lines_of(a)[-1] == 3
    confidence = {s.instruction.keyword: s.confidence for s in a.steps}
    assert confidence["COPY"] == "exact", confidence


# -- the wrong Dockerfile: said once, nothing attributed ---------------------------------

GO_MULTI = """\
FROM toolchain AS build
RUN go build -o /out/hello .
FROM scratch
COPY --from=build /out/hello /hello
USER 65532:65532
ENTRYPOINT ["/hello"]
"""


def test_buildkit_copy_sources_tell_two_same_shaped_stages_apart():
    history = [run("COPY /src/hello /hello # buildkit"), nop("USER 65532:65532"),
               nop('ENTRYPOINT ["/hello"]')]
    a = attribute_layers(GO_MULTI, history)
    assert a.mismatch is not None and "line 4" in a.mismatch and "other sources" in a.mismatch
    right = attribute_layers(GO_MULTI.replace("/out/hello /hello", "/src/hello /hello"),
                             history)
    assert right.mismatch is None and lines_of(right) == [4]


def test_legacy_multi_means_more_than_one_source():
    one = C_SINGLE.replace("COPY hello.c Makefile ./", "COPY hello.c ./")
    a = attribute_layers(one, C_SINGLE_HISTORY)  # the history's COPY is multi:...
    assert a.mismatch is not None and "line 4" in a.mismatch
    glob = C_SINGLE.replace("COPY hello.c Makefile ./", "COPY *.c ./")
    assert attribute_layers(glob, C_SINGLE_HISTORY).mismatch is None  # may match many


def test_a_run_with_other_text_is_a_mismatch_and_one_line():
    a = attribute_layers(C_SINGLE.replace("RUN make hello", "RUN go build ."),
                         C_SINGLE_HISTORY)
    assert a.mismatch is not None and "\n" not in a.mismatch
    assert "line 5 (RUN go build .)" in a.mismatch and "RUN make hello" in a.mismatch


def test_a_history_entry_after_the_dockerfiles_is_a_mismatch():
    history = [*C_SINGLE_HISTORY, run("/bin/sh -c rm -rf /src")]
    a = attribute_layers(C_SINGLE, history)
    assert a.mismatch is not None and "rm -rf /src" in a.mismatch


def test_legacy_chown_glued_to_the_hash_still_matches():
    text = "FROM busybox\nCOPY --chown=65534:65534 entrypoint.sh /usr/local/bin/entrypoint.sh\n"
    history = [IMPORT, run("/bin/sh -c #(nop) COPY --chown=65534:65534file:26eaddb53734e372"
                           "68298ce3107c9d1a in /usr/local/bin/entrypoint.sh ")]
    a = attribute_layers(text, history)
    assert a.mismatch is None and lines_of(a) == [None, 2]

"""Hostile Dockerfiles (issue 11): what the builder rejects is one sentence, never a
traceback; substitutions are bounded; stage indexes are ASCII numbers."""

from __future__ import annotations

import pytest

from auditor.errors import UsageError
from auditor.fixes.attribution import attribute
from auditor.fixes.dockerfile import (
    MAX_SUBSTITUTION_DEPTH,
    argument_problem,
    expand,
    parse_dockerfile,
)
from auditor.model.image import HistoryEntry

# (id, the instruction after `FROM busybox`, a fragment of the builder's complaint)
REJECTED = [
    ("healthcheck-cmd-without-command", "HEALTHCHECK CMD", "missing command after HEALTHCHECK"),
    ("healthcheck-cmd-empty-json", "HEALTHCHECK CMD []", "missing command after HEALTHCHECK"),
    ("healthcheck-flags-then-cmd-alone", "HEALTHCHECK --retries=3 CMD", "missing command"),
    ("healthcheck-nothing", "HEALTHCHECK", "HEALTHCHECK requires at least one argument"),
    ("healthcheck-none-with-words", "HEALTHCHECK NONE now", "takes no arguments"),
    ("healthcheck-unknown-type", "HEALTHCHECK RUN true", "unknown type 'RUN' in HEALTHCHECK"),
    ("copy-without-destination", "COPY a", "COPY requires at least two arguments"),
    ("copy-nothing", "COPY", "COPY requires at least two arguments"),
    ("add-heredoc-without-destination", "ADD <<EOF\nx\nEOF", "ADD requires at least two"),
    ("user-nothing", "USER", "USER requires exactly one argument"),
    ("workdir-nothing", "WORKDIR", "WORKDIR requires exactly one argument"),
    ("stopsignal-nothing", "STOPSIGNAL", "STOPSIGNAL requires exactly one argument"),
    ("expose-nothing", "EXPOSE", "EXPOSE requires at least one argument"),
    ("volume-nothing", "VOLUME", "VOLUME requires at least one argument"),
    ("env-nothing", "ENV", "ENV requires at least one argument"),
    ("env-blank-name", "ENV =1", "ENV names can not be blank"),
    ("arg-blank-name", "ARG =1", "ARG names can not be blank"),
    ("shell-not-json", "SHELL /bin/sh -c", "in JSON form"),
    ("shell-empty", "SHELL []", "SHELL requires at least one argument"),
    ("onbuild-nothing", "ONBUILD", "nothing is not allowed as an ONBUILD trigger"),
    ("onbuild-from", "ONBUILD FROM x", "FROM is not allowed as an ONBUILD trigger"),
    ("from-two-words", "FROM a b", "FROM requires either one or three arguments"),
    ("from-nothing", "FROM", "FROM requires either one or three arguments"),
    ("from-bad-stage-name", "FROM a AS 1st", "invalid name for build stage"),
]


@pytest.mark.parametrize(("line", "fragment"), [c[1:] for c in REJECTED],
                         ids=[c[0] for c in REJECTED])
def test_what_the_builder_rejects_is_one_sentence_naming_the_line(line: str,
                                                                 fragment: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_dockerfile(f"FROM busybox\n{line}\n")
    message = str(info.value)
    assert message.startswith("the Dockerfile cannot be parsed: line 2: ") and fragment in message


@pytest.mark.parametrize("line", [
    "HEALTHCHECK CMD curl -f http://localhost/", 'HEALTHCHECK CMD ["curl", "-f", "x"]',
    "HEALTHCHECK NONE", "healthcheck --interval=5s cmd true", "COPY <<EOF /x\nhi\nEOF",
    "ARG A B=1", "ENV A=1 B=2", "SHELL [\"/bin/bash\", \"-c\"]", "ONBUILD RUN true",
    "CMD", "RUN", "ENTRYPOINT []", "FROM busybox AS Build-1.x", "LABEL a=b",
])
def test_what_the_builder_accepts_still_parses(line: str) -> None:
    df = parse_dockerfile(f"FROM busybox\n{line}\n")
    assert all(argument_problem(i) is None for s in df.stages for i in s.instructions)


def test_a_healthcheck_without_command_never_reaches_attribution() -> None:
    history = [HistoryEntry("HEALTHCHECK &{[\"CMD\"] ...}", True)]
    with pytest.raises(UsageError, match="missing command after HEALTHCHECK CMD"):
        attribute("FROM scratch\nHEALTHCHECK CMD\n", history, 0)


@pytest.mark.parametrize("ref", ["²", "٣", "1²"])
def test_a_stage_index_is_an_ascii_number(ref: str) -> None:
    df = parse_dockerfile(f"FROM busybox AS b\nRUN true\nFROM {ref}\nRUN false\n")
    assert df.stage(ref) is None
    assert [s.index for s in df.chain()] == [1]  # "FROM ²" is an image, not stage 2
    with pytest.raises(UsageError, match=f"the Dockerfile has no stage '{ref}'"):
        df.chain(ref)
    assert df.stage("0") is df.stages[0]


def nested(depth: int) -> str:
    return "${A:-" * depth + "x" + "}" * depth


def test_substitutions_nest_up_to_the_limit() -> None:
    assert expand(nested(MAX_SUBSTITUTION_DEPTH), {}) == ("x", True)


@pytest.mark.parametrize("where", ["ARG A={}\nFROM busybox\n", "FROM {}\n",
                                   "FROM busybox\nARG B={}\n", "FROM busybox\nENV B={}\n"])
def test_1500_nested_substitutions_are_one_sentence(where: str) -> None:
    text = where.format(nested(1500))
    with pytest.raises(UsageError, match=r"nests \$\{\.\.\.\} substitutions more than 32 deep"):
        attribute(text, [HistoryEntry("ENV B=x", True)], 0)


@pytest.mark.parametrize("user", ["²", "1²", "²:0"])
def test_fix_keeps_a_user_that_only_looks_numeric(tmp_path, capsys, user: str) -> None:
    # "²".isdigit() is True and int("²") fails: the image's USER is text, not a uid
    import json

    from auditor.cli import main
    from tests.imagekit import config_for, docker_save
    from tests.layerkit import F, layer

    lays = [layer(F("/etc/passwd", "root:x:0:0::/:/bin/sh\n²:x:²:0::/:/bin/sh\n"),
                  F("/app/run", "#!/bin/sh\n", mode=0o755))]
    cfg = json.loads(config_for(lays, user=user, cmd=["/app/run"]))
    archive = docker_save(tmp_path / "img.tar", lays, config=json.dumps(cfg).encode())
    (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY run /app/run\n")
    code = main(["fix", str(archive), "--dockerfile", str(tmp_path / "Dockerfile"),
                 "--no-progress"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert f"USER {user}" in out


def test_a_nul_byte_is_refused_rather_than_the_rest_of_the_file_dropped() -> None:
    with pytest.raises(UsageError, match="line 2 holds a NUL byte"):
        parse_dockerfile("FROM a\nRUN x\x00y\nUSER root\n")

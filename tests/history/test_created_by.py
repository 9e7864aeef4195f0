"""Every shape the builders write into ``created_by``, read back as an instruction, the
text shown to users and the settings it records."""

from __future__ import annotations

import pytest

from auditor.history import created_by_text, parse_created_by, recorded_env, recorded_settings

SHA = "91b333ed05b33b11ab5a8e956af169474300d6df3105ecec7c23edd41d903f5a"


@pytest.mark.parametrize("created_by, expected", [
    ("/bin/sh -c apt-get update && apt-get install -y curl",
     ("RUN", "apt-get update && apt-get install -y curl", False)),
    ("/bin/sh -c #(nop)  USER toor", ("USER", "toor", False)),
    ("/bin/sh -c #(nop) ADD file:abc in / ", ("ADD", "file:abc in /", False)),
    ("/bin/sh -c #(nop) COPY dir:abc in /app ", ("COPY", "dir:abc in /app", False)),
    (f"/bin/sh -c #(nop) COPY file:{SHA} in . ", ("COPY", f"file:{SHA} in .", False)),
    (f"/bin/sh -c #(nop) ADD {SHA} in /x ", ("ADD", f"{SHA} in /x", False)),
    ("|2 A=1 B=two words /bin/sh -c make all", ("RUN", "make all", False)),
    ("|1 A=1 /bin/sh -c #(nop)  ENV B=2", ("ENV", "B=2", False)),
    ("/bin/sh -o pipefail -c curl x | sh", ("RUN", "curl x | sh", False)),
    ("/bin/sh -o pipefail -c #(nop)  VOLUME [/data]", ("VOLUME", "[/data]", False)),
    ("/bin/bash -exc set -x; make", ("RUN", "set -x; make", False)),
    ("RUN /bin/sh -c apt-get update # buildkit", ("RUN", "apt-get update", True)),
    ("RUN |1 V=1 /bin/sh -c make # buildkit", ("RUN", "make", True)),
    ("RUN /bin/bash -o pipefail -c make # buildkit", ("RUN", "make", True)),
    ("RUN make install # buildkit", ("RUN", "make install", True)),
    ("ADD https://example.com/x /x # buildkit", ("ADD", "https://example.com/x /x", True)),
    ("COPY --chown=1:1 a /b # buildkit", ("COPY", "--chown=1:1 a /b", True)),
    ("USER toor", ("USER", "toor", False)),
    ("ENV A=1 B=2", ("ENV", "A=1 B=2", False)),
    ("ARG V=1", ("ARG", "V=1", False)),
    ("EXPOSE map[22/tcp:{}]", ("EXPOSE", "map[22/tcp:{}]", False)),
    ("apt-get install -y x", ("RUN", "apt-get install -y x", False)),
    ("", ("", "", False)),
], ids=["legacy-run", "legacy-user", "legacy-add", "legacy-copy", "buildah-copy-in-dot",
        "legacy-remote-add", "legacy-build-args", "legacy-nop-with-build-args",
        "legacy-custom-shell", "legacy-nop-custom-shell", "bash-combined-flags",
        "buildkit-run", "buildkit-run-args", "buildkit-shell-changed", "buildkit-exec-form",
        "buildkit-add", "buildkit-copy-flags", "buildkit-user", "buildkit-env", "buildkit-arg",
        "buildkit-expose", "legacy-exec-form", "imported-base"])
def test_parse_created_by(created_by, expected):
    read = parse_created_by(created_by)
    assert (read.instruction, read.args, read.buildkit) == expected


@pytest.mark.parametrize("created_by, shell, build_args", [
    ("/bin/sh -c make", "/bin/sh -c", ()),
    ("|2 A=1 B=two words /bin/sh -c make", "/bin/sh -c", (("A", "1"), ("B", "two words"))),
    ("RUN |1 V=1 /bin/bash -o pipefail -c make # buildkit", "/bin/bash -o pipefail -c",
     (("V", "1"),)),
    ("|1 A=1 echo hi", "", (("A", "1"),)),
    ("echo hi", "", ()),
], ids=["legacy", "build-args-with-spaces", "buildkit-shell-changed", "exec-form-with-args",
        "exec-form"])
def test_a_run_knows_its_shell_and_build_args(created_by, shell, build_args):
    read = parse_created_by(created_by)
    assert (read.shell, read.build_args) == (shell, build_args)


@pytest.mark.parametrize("created_by, shown", [
    (None, "(no history)"),
    ("", "(no history)"),
    ("/bin/sh -c make hello", "RUN make hello"),
    (f"/bin/sh -c #(nop) COPY file:{SHA} in /app/app.sh ", f"COPY file:{SHA} in /app/app.sh"),
    ("/bin/sh -c #(nop)  ENV A=1  B=2", "ENV A=1  B=2"),
    ("|1 A=1 /bin/sh -c make", "RUN make"),
    ("/bin/bash -o pipefail -c make", "RUN make"),
    ("RUN /bin/sh -c make # buildkit", "RUN /bin/sh -c make"),
    ("USER app", "USER app"),
    ("bazel build //app", "bazel build //app"),
], ids=["none", "empty", "legacy-run", "legacy-copy", "legacy-env-spacing-kept",
        "build-args-dropped", "custom-shell", "buildkit-as-recorded", "bare-keyword",
        "another-tool-as-is"])
def test_created_by_text_shows_the_instruction(created_by, shown):
    assert created_by_text(created_by) == shown


@pytest.mark.parametrize("created_by, expected", [
    ("|2 A=1 B=x /bin/sh -c make", [("A", "1"), ("B", "x")]),
    ("RUN |1 TOKEN=a b /bin/sh -c make # buildkit", [("TOKEN", "a b")]),
    ("|1 A=1 echo hi", [("A", "1")]),
    ('/bin/sh -c #(nop)  ENV A="two words" B=c', [("A", "two words"), ("B", "c")]),
    ("/bin/sh -c #(nop)  ENV A=two words B=c", [("A", "two words"), ("B", "c")]),
    ("/bin/sh -c #(nop)  ENV LEGACY value here", [("LEGACY", "value here")]),
    ("/bin/sh -c #(nop)  ENV GOPATH=/go PATH=/go/bin:/usr/bin:/bin",
     [("GOPATH", "/go"), ("PATH", "/go/bin:/usr/bin:/bin")]),
    ("/bin/bash -o pipefail -c #(nop)  ENV X=1", [("X", "1")]),
    ("ENV URL=http://x/#a Q=a;b", [("URL", "http://x/#a"), ("Q", "a;b")]),
    ("ARG X=1", [("X", "1")]),
    ("/bin/sh -c #(nop)  ARG X", []),
    ("/bin/sh -c #(nop)  ARG X=1 Y", [("X", "1")]),
    ("|1 A=1 /bin/sh -c #(nop)  ENV B=2", [("A", "1"), ("B", "2")]),
    ("/bin/sh -c make A=1", []),
    ("USER A=1", []),
], ids=["build-args", "buildkit-build-arg-with-space", "exec-form-build-args",
        "env-quoted", "env-unquoted-legacy", "env-legacy-name-value", "env-two",
        "env-custom-shell", "env-operators-are-characters", "buildkit-arg", "arg-no-default",
        "arg-bare-word-is-another-arg", "nop-with-build-args", "run-words-are-not-settings",
        "user-records-nothing"])
def test_recorded_settings(created_by, expected):
    assert recorded_settings(created_by) == expected


def test_recorded_env_later_entries_win_and_runs_do_not_count():
    assert recorded_env(["/bin/sh -c #(nop)  ENV A=1 B=2", "|1 C=3 /bin/sh -c make",
                         "ENV A=3", "ARG D=4"]) == {"A": "3", "B": "2"}

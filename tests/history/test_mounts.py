"""RUN --mount flags: read from buildah's history and from a parsed Dockerfile; BuildKit's
history has none (shapes recorded from Docker 26 with buildx and podman 5)."""

from __future__ import annotations

import pytest

from auditor.fixes.dockerfile import parse_dockerfile
from auditor.history import RunMount, iter_commands, mounted, mounts_of_flags, parse_created_by
from auditor.history.mounts import parse_mount, split_run_flags

# podman 5 (buildah) on `RUN --mount=type=cache,target=/root/.cache/pip mkdir ...`
BUILDAH_CACHE = ("/bin/sh -c --mount=type=cache,target=/root/.cache/pip mkdir -p "
                 "/root/.cache/pip/wheels && echo data > /root/.cache/pip/wheels/x; echo hi > /hi")
BUILDAH_SECRET = "/bin/sh -c --mount=type=secret,id=tok cat /run/secrets/tok | wc -c > /tokenlen"
# Docker 26, buildx, the same RUN with a build arg in scope: no trace of the mounts
BUILDKIT_CACHE = ("RUN |1 TOKEN_NAME=npm token /bin/sh -c mkdir -p /root/.cache/pip/wheels "
                  "&& echo data > /root/.cache/pip/wheels/x # buildkit")


@pytest.mark.parametrize("spec, want", [
    ("type=cache,target=/root/.cache/pip", RunMount("cache", "/root/.cache/pip")),
    ("type=cache,id=gomod,dst=/go/pkg/mod/", RunMount("cache", "/go/pkg/mod", "gomod")),
    ("type=secret,id=npmrc", RunMount("secret", "/run/secrets/npmrc", "npmrc")),
    ("type=secret,id=npmrc,target=/root/.npmrc", RunMount("secret", "/root/.npmrc", "npmrc")),
    ("target=/src,source=.", RunMount("bind", "/src")),  # bind is the default type
    ("type=tmpfs,destination=/tmp", RunMount("tmpfs", "/tmp")),
    ('type=cache,"target=/a b"', RunMount("cache", "/a b")),
    ("type=ssh", RunMount("ssh", "")),
    ("type=nonsense,target=/x", None),
])
def test_parse_mount(spec, want):
    assert parse_mount(spec) == want


def test_mounted_holds_the_target_and_below_only():
    mounts = (RunMount("cache", "/root/.cache"), RunMount("secret", "/run/secrets/x", "x"))
    assert mounted("/root/.cache/pip/wheels/a", mounts)
    assert mounted("/root/.cache", mounts)
    assert not mounted("/root/.cachex/a", mounts)
    assert not mounted("/root/.cache/pip/a", mounts, types=("secret",))
    assert not mounted("/x", (RunMount("cache", "relative/dir"),))


def test_buildah_records_mounts_in_front_of_the_script():
    read = parse_created_by(BUILDAH_CACHE)
    assert read.instruction == "RUN" and read.mounts == (RunMount("cache", "/root/.cache/pip"),)
    assert read.args.startswith("mkdir -p /root/.cache/pip/wheels")
    assert read.written == "RUN --mount=type=cache,target=/root/.cache/pip " + read.args
    assert [c.program for c in iter_commands(read.args)] == ["mkdir", "echo", "echo"]
    secret = parse_created_by(BUILDAH_SECRET)
    assert secret.mounts == (RunMount("secret", "/run/secrets/tok", "tok"),)
    assert [c.program for c in iter_commands(secret.args)] == ["cat", "wc"]


def test_several_flags_and_build_args():
    text = ("|1 V=1 /bin/sh -c --network=none --mount=type=cache,target=/var/cache/apk "
            "--mount=type=bind,source=.,target=/src apk add curl")
    read = parse_created_by(text)
    assert read.build_args == (("V", "1"),) and read.args == "apk add curl"
    assert read.mounts == (RunMount("cache", "/var/cache/apk"), RunMount("bind", "/src"))


def test_buildkit_history_has_no_mounts_and_a_script_is_left_alone():
    assert parse_created_by(BUILDKIT_CACHE).mounts == ()
    assert split_run_flags("echo --mount=type=cache,target=/x") == (
        "echo --mount=type=cache,target=/x", ())
    # a script is only stripped of flags after a shell wrapper: other tools' text stays
    assert parse_created_by("--mount=type=cache,target=/x make").mounts == ()


def test_a_dockerfiles_run_flags():
    df = parse_dockerfile("FROM x\nRUN --mount=type=cache,target=/root/.cache/pip \\\n"
                          "    --mount=type=secret,id=npmrc --network=none pip install y\n")
    [run] = df.stages[0].instructions
    assert mounts_of_flags(run.flags) == (RunMount("cache", "/root/.cache/pip"),
                                          RunMount("secret", "/run/secrets/npmrc", "npmrc"))


def test_a_run_with_mounts_attributes_exactly_on_buildah_and_buildkit():
    from auditor.fixes.attribution import attribute, run_mounts
    from auditor.model.image import HistoryEntry

    text = ("FROM base\nRUN --mount=type=cache,target=/root/.cache/pip \\\n"
            "    pip install flask\nRUN echo done\n")
    flask = "pip install flask"
    for recorded in (f"/bin/sh -c --mount=type=cache,target=/root/.cache/pip {flask}",
                     f"RUN /bin/sh -c {flask} # buildkit"):
        history = [HistoryEntry("", False, comment="Imported from -"),
                   HistoryEntry(recorded, False), HistoryEntry("/bin/sh -c echo done", False)]
        a = attribute(text, history, 3)
        assert [(s.instruction.line, s.confidence) for s in a.steps] == [(2, "exact"),
                                                                           (4, "exact")]
        assert run_mounts(a) == {1: (RunMount("cache", "/root/.cache/pip"),)}

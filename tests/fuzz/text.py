"""Strategies for the text inputs: a policy (TOML) and a Dockerfile, mutated line by line
with the values that broke them before (issue 11) and the shapes people get wrong."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import strategies as st

from tests.fuzz.mutate import Blob

TOML_VALUES = ["nan", "inf", "-inf", "1e308", "-1", "0", "1e-320", "9" * 400, "9" * 5000,
               '"' + "9" * 400 + ' GB"', '"1.5 GiB"', '"big"', "true", "[]", "{}", '""',
               '"/bin/' + "*" * 50 + '"', '["' + "*" * 5000 + '"]', '["/a/[b"]', '["\\u00b2"]',
               "2099-02-30", "2020-01-01T00:00:00", '"AUD-NOPE"', '"/dev/zero"', '"/tmp"',
               '"default"', '"strict"', '"policy.toml"', "[" * 3000 + "]" * 3000,
               "{a = " * 2000 + "1" + "}" * 2000, '"\\u001b[2J"', '"' + "x" * 10000 + '"']
TOML_KEYS = ["name", "extends", "weight", "action", "severity", "enabled", "fail_under",
             "fail_on", "max_image_bytes", "max_wasted_percent", "scale", "allow_paths",
             "allow_packages", "paths", "packages", "versions", "ecosystem", "reason",
             "expires", "rule", "path", "fingerprint", "points", "packaged", "critical"]
TABLES = ["[thresholds]", "[score]", "[score.points]", "[allow]", "[categories.shell]",
          "[categories.secret]", "[rules.AUD-SHELL]", "[[packages]]", "[[waivers]]",
          "[categories.shell.packaged]", "[" * 40 + "x" + "]" * 40]


def _mutate_lines(draw: st.DrawFn, seed: str, change: Callable[[st.DrawFn, list[str], int],
                                                                None]) -> list[str]:
    """One to four edits of ``seed``'s lines: ``change`` edits line i in place, or the
    line is deleted or doubled."""
    lines = seed.splitlines()
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["change", "change", "change", "change", "delete", "dup"]))
        if op == "change":
            change(draw, lines, i)
        elif op == "delete" and len(lines) > 1:
            del lines[i]
        else:
            lines.insert(i, lines[i])
    return lines


def _policy_line(draw: st.DrawFn, lines: list[str], i: int) -> None:
    op = draw(st.sampled_from(["value", "value", "insert", "table"]))
    if op == "value" and "=" in lines[i]:
        key = lines[i].split("=", 1)[0]
        lines[i] = f"{key}= {draw(st.sampled_from(TOML_VALUES))}"
    elif op == "insert":
        key, value = draw(st.sampled_from(TOML_KEYS)), draw(st.sampled_from(TOML_VALUES))
        lines.insert(i, f"{key} = {value}")
    elif op == "table":
        lines.insert(i, draw(st.sampled_from(TABLES)))


@st.composite
def mutated_policy(draw: st.DrawFn, seed: str) -> bytes:
    text = "\n".join(_mutate_lines(draw, seed, _policy_line)) + "\n"
    if draw(st.integers(0, 9)) == 0:
        text += draw(st.text(max_size=40))
    raw = text.encode("utf-8", "surrogatepass")
    return Blob(raw if draw(st.integers(0, 19)) else raw + b"\xff\xfe")


WORDS = ["", "²", "٣", "\x1b[2J", "$A", "${A}", "${A:-" * 1500 + "x" + "}" * 1500,
         "${A:-${B:+${C}}}", "${", "}", "\\", "'", '"', "AS", "as", "--from=²", "--from=0",
         "--from=9", "--chown=a:b", "\x00", "[]", '["a"', '["a", 1]', "<<EOF", "CMD", "NONE", "/",
         "../../x", "a\\\nb", "x" * 5000, "scratch", "build", "final", "0", "-", "SIGKILL"]
KEYWORDS = ["FROM", "RUN", "CMD", "ENTRYPOINT", "COPY", "ADD", "ENV", "ARG", "LABEL", "USER",
            "WORKDIR", "EXPOSE", "VOLUME", "HEALTHCHECK", "STOPSIGNAL", "SHELL", "ONBUILD",
            "MAINTAINER", "FROBNICATE", "# escape=`", "# syntax=x"]


def _dockerfile_line(draw: st.DrawFn, lines: list[str], i: int) -> None:
    op = draw(st.sampled_from(["word", "word", "insert", "bare"]))
    words = lines[i].split(" ")
    if op == "word" and len(words) > 1:
        words[draw(st.integers(1, len(words) - 1))] = draw(st.sampled_from(WORDS))
        lines[i] = " ".join(words)
    elif op == "insert":
        args = draw(st.lists(st.sampled_from(WORDS), max_size=3))
        lines.insert(i, " ".join([draw(st.sampled_from(KEYWORDS)), *args]))
    elif op == "bare":
        lines[i] = words[0]


@st.composite
def mutated_dockerfile(draw: st.DrawFn, seed: str) -> bytes:
    text = "\n".join(_mutate_lines(draw, seed, _dockerfile_line)) + "\n"
    raw = text.encode("utf-8", "surrogatepass")
    return Blob(raw if draw(st.integers(0, 19)) else b"\xff" + raw)

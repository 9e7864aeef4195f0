"""The words and commands of a RUN script."""

from __future__ import annotations

import pytest

from auditor.history import iter_commands, operands, split_words


@pytest.mark.parametrize("script, expected", [
    ("apk add --no-cache pkg=1.2 other", [("apk", ("add", "--no-cache", "pkg=1.2", "other"))]),
    ("DEBIAN_FRONTEND=noninteractive apt-get install -y x",
     [("apt-get", ("install", "-y", "x"))]),
    ("echo 'a && apt-get update' > /f; true", [("echo", ("a && apt-get update",)),
                                               ("true", ())]),
    ('sh -c "apt-get update || exit 1"', [("apt-get", ("update",)), ("exit", ("1",))]),
    ("sudo -u app env X=1 pip install y 2>&1", [("pip", ("install", "y"))]),
    ("if [ -f x ]; then\n  yum install -y z\nfi", [("[", ("-f", "x", "]")),
                                                     ("yum", ("install", "-y", "z"))]),
    ("make \\\n  install", [("make", ("install",))]),
    ('echo "$(cat /etc/os-release | head -1)" # note', [
        ("echo", ("$(cat /etc/os-release | head -1)",))]),
], ids=["apk-version-is-not-assignment", "leading-assignment", "quoted-operators",
        "nested-sh-c", "sudo-and-env-wrappers", "if-then-fi", "line-continuation",
        "command-substitution-and-comment"])
def test_iter_commands(script, expected):
    assert [(c.program, c.args) for c in iter_commands(script)] == expected


def test_sudo_is_remembered():
    [cmd] = iter_commands("sudo apt-get install -y x")
    assert cmd.program == "apt-get" and cmd.via_sudo


def test_operands_skip_options_and_their_values():
    [cmd] = iter_commands("curl -o /tmp/x -fsSL https://example.com/x")
    assert operands(cmd, frozenset({"-o"})) == ["https://example.com/x"]


@pytest.mark.parametrize("text, expected", [
    ('A="two words" B=c', [["A=two words", "B=c"]]),
    ("URL=http://x/#frag X=a;b", [["URL=http://x/#frag", "X=a;b"]]),
    ("A=1\nB=<x>", [["A=1", "B=<x>"]]),
    ("A=${HOME}/x B='$(y)'", [["A=${HOME}/x", "B=$(y)"]]),
    ("A='unbalanced", [["A=unbalanced"]]),
], ids=["quotes-removed", "operators-are-characters", "newline-and-angles", "expansions-kept",
        "unbalanced-quote"])
def test_words_without_operators_as_in_env_lines(text, expected):
    assert split_words(text, operators=False) == expected


def test_the_same_text_as_a_script_splits_at_operators():
    assert split_words("X=a;b") == [["X=a"], ["b"]]


def test_tokenize_keeps_operators_and_reads_here_documents_whole():
    from auditor.history.shell import HereDoc, Op, tokenize

    tokens = tokenize("cat <<-'EOF' >/x\n\tapt-get install y\n\tEOF\nid -u", heredocs=True)
    assert tokens == ["cat", "\tapt-get install y", "\n", "id", "-u"]
    assert isinstance(tokens[1], HereDoc) and isinstance(tokens[2], Op)
    # without heredocs=True the body is lines of the script, as RUN detectors read it
    assert split_words("cat <<EOF\nx y\nEOF") == [["cat"], ["x", "y"], ["EOF"]]


def test_substitutions_are_the_scripts_inside_a_word():
    from auditor.history.shell import substitutions

    assert substitutions("a=$(id -u)`uname`$((1+2))${x:-y}") == ["id -u", "uname"]
    assert substitutions("$(echo $(basename /x))") == ["echo $(basename /x)"]

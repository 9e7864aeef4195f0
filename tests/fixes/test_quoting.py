"""Every value an image controls, in every field ``fix`` writes, read back by BuildKit's own
parser (the ``dockerfile`` package): the rewrite has exactly the instructions meant, no
injected RUN, and each value comes back as it was or is left out with a note, in a
comment that is inert text."""

from __future__ import annotations

import functools
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import dockerfile
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.fixes import dockerquote as dq
from auditor.fixes.dockerfile import env_pairs, expand, parse_dockerfile
from auditor.fixes.rewrite import LocalBase, Rewrite, rewrite
from auditor.model.dockerfile import Instruction
from auditor.model.image import HistoryEntry, ImageConfig
from tests.fixes.fixkit import APP, BASE, DOCKERFILE, HISTORY, Closure, attribution_of, result_of
from tests.layerkit import D, F, Spec

PWNED = "RUN touch /tmp/pwned"
PAYLOADS = {
    "newline": f"x\n{PWNED}",
    "crlf": f"x\r\n{PWNED}",
    "carriage-return": f"x\r{PWNED}",
    "line-separator": f"x\u2028{PWNED}",
    "next-line-c1": f"x\x85{PWNED}",
    "form-feed": f"x\x0c{PWNED}",
    "continuation": "x\\",
    "continuation-blanks": "x\\  \t",
    "backtick-continuation": "x`",
    "comment": f"# {PWNED}",
    "comment-after-newline": "x\n# a comment",
    "heredoc": "<<EOF",
    "heredoc-dash": f"<<-EOF {PWNED}",
    "dollar": "$HOME",
    "dollar-brace": "${PATH:-pwned}",
    "escape-directive": "# escape=`",
    "double-quote": 'a"b',
    "single-quote": "a'b",
    "json": '["sh", "-c", "touch /tmp/pwned"]',
    "flag": "--from=evil",
    "backslash": "a\\b",
    "backslash-quote": 'a\\"b',
    "tab": "a\tb",
    "space": "a b",
    "ansi": "\x1b[2J\x1b]0;title\x07fake",
    "bidi": "a\u202eb",
    "long": "a" * 70_000,
    "not-utf8": "a\udcffb",
    "pattern": "a*b?[c]",
    "unicode": "é²漢",
    "equals": "a=b",
    "semicolon": "a; touch /tmp/pwned",
}
IDS = list(PAYLOADS)
SPECIALS = ["\n", "\r", "\\", "`", "#", "<<", "$", "${", '"', "'", "[", "]", " ", "\t", "=",
            "-", "--", "*", "\u2028", "\x85", "\x1b", "é", "RUN ", "EOF", ":", "/", "&&"]
# Text built from the pieces the parser treats specially, and from anything else.
HOSTILE = st.lists(st.one_of(st.sampled_from(SPECIALS), st.text(max_size=3)),
                   max_size=12).map("".join)
FUZZ = settings(derandomize=True, max_examples=25, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])


@dataclass
class Field:
    """Where a value goes: the image (config, files, Dockerfile) built around it, and the
    value read back out of the parsed rewrite (None: not there)."""

    keyword: str
    config: Callable[[str], dict[str, Any]] = lambda v: {}
    read: Callable[[list[Instruction], str], list[str]] = lambda ins, esc: []
    files: Callable[[str], list[Spec]] = lambda v: []
    closure: Callable[[str], tuple[str, ...]] = lambda v: ()
    dockerfile: str = DOCKERFILE
    history: tuple[HistoryEntry, ...] = HISTORY
    on_base: bool = False  # final stage on a base with a shell, not scratch
    separable: bool = False  # the other values of the instruction stay when one is left out
    empty_is_unset: bool = False  # the image config's "" means the setting is not there
    expect: Callable[[str], list[str]] = field(default=lambda v: [v])


def _words(keyword: str, expanded: bool = True) -> Callable[[list[Instruction], str], list[str]]:
    def read(final: list[Instruction], esc: str) -> list[str]:
        return [expand(w, {}, esc)[0] if expanded else w
                for i in final if i.keyword == keyword for w in i.args]
    return read


def _env_read(final: list[Instruction], esc: str) -> list[str]:
    return [f"{k}={v}" for i in final if i.keyword == "ENV" for k, v, _ in env_pairs(i, {}, esc)]


def _label_read(final: list[Instruction], esc: str) -> list[str]:
    return [v for i in final if i.keyword == "LABEL" for _, v, _ in env_pairs(i, {}, esc)]


def _exec(keyword: str, skip: int = 0) -> Callable[[list[Instruction], str], list[str]]:
    def read(final: list[Instruction], esc: str) -> list[str]:
        return [a for i in final if i.keyword == keyword and i.json for a in i.args[skip:]]
    return read


def _shell_healthcheck(final: list[Instruction], esc: str) -> list[str]:
    out = []
    for i in final:
        if i.keyword == "HEALTHCHECK":
            out += list(i.args[1:]) if not i.json else list(i.args[3:])  # CMD sh -c ...
    return out


def _copied(final: list[Instruction], esc: str) -> list[str]:
    """The COPY paths under /src/ but /src/hello (the app's own)."""
    return [p for i in final if i.keyword == "COPY" for w in i.args
            if (p := expand(w, {}, esc)[0]).startswith("/src/") and p != "/src/hello"]


def _safe_path(value: str) -> str:
    return value.replace("/", "_")[:4000] or "_"  # a file name the tar reader takes


LABELLED = DOCKERFILE + "LABEL k=v\n"
LABEL_HISTORY = (*HISTORY, HistoryEntry("/bin/sh -c #(nop)  LABEL k=v", True))
FIELDS = {
    "WORKDIR": Field("WORKDIR", lambda v: {"working_dir": "/srv/" + v}, _words("WORKDIR"),
                     expect=lambda v: ["/srv/" + v]),
    "EXPOSE": Field("EXPOSE", lambda v: {"exposed_ports": (v, "80/tcp")}, _words("EXPOSE"),
                    expect=lambda v: [v, "80/tcp"], separable=True),
    "STOPSIGNAL": Field("STOPSIGNAL", lambda v: {"stop_signal": v}, _words("STOPSIGNAL"),
                        empty_is_unset=True),
    "USER": Field("USER", lambda v: {"user": v}, _words("USER"), empty_is_unset=True),
    "ENV-name": Field("ENV", lambda v: {"env": (f"{v}=1", "PATH=/bin")}, _env_read,
                      expect=lambda v: [f"{v}=1", "PATH=/bin"], separable=True),
    "ENV-value": Field("ENV", lambda v: {"env": (f"A={v}",)}, _env_read,
                       expect=lambda v: [f"A={v}"]),
    "LABEL-value": Field("LABEL", lambda v: {"labels": {"k": v}}, _label_read,
                         dockerfile=LABELLED, history=LABEL_HISTORY),
    "HEALTHCHECK-shell": Field("HEALTHCHECK", lambda v: {"healthcheck": ("CMD-SHELL", v)},
                               _shell_healthcheck, on_base=True),
    "HEALTHCHECK-exec": Field("HEALTHCHECK",
                              lambda v: {"healthcheck": ("CMD", "/src/hello", v)},
                              _exec("HEALTHCHECK", 1), expect=lambda v: ["/src/hello", v]),
    "CMD": Field("CMD", lambda v: {"cmd": ("/src/hello", v)}, _exec("CMD"),
                 expect=lambda v: ["/src/hello", v]),
    "ENTRYPOINT": Field("ENTRYPOINT", lambda v: {"entrypoint": ("/src/hello", v)},
                        _exec("ENTRYPOINT"), expect=lambda v: ["/src/hello", v]),
    "VOLUME": Field("VOLUME", lambda v: {"volumes": ("/data/" + _safe_path(v),)},
                    _words("VOLUME"), expect=lambda v: ["/data/" + _safe_path(v)]),
    "COPY-path": Field("COPY", files=lambda v: [F("/src/" + _safe_path(v), "x")],
                       closure=lambda v: ("/src/" + _safe_path(v),), read=_copied,
                       expect=lambda v: ["/src/" + _safe_path(v)] * 2),
}


def _rewrite(spec: Field, value: str) -> Rewrite:
    base = ImageConfig(cmd=("/src/hello",), working_dir="/src", env=("PATH=/usr/bin:/bin",))
    config = replace(base, **spec.config(value))
    result = result_of(BASE, [*APP, *spec.files(value)], config=config, history=spec.history)
    attribution = attribution_of(result, spec.dockerfile)
    closure = Closure(files=(*Closure().files, *spec.closure(value)))
    kw: dict[str, Any] = {}
    if spec.on_base:
        kw = {"runtime_base": "debian:bookworm",
              "available_bases": [LocalBase("debian:bookworm", result.image.config.diff_ids[:1])]}
    return rewrite(spec.dockerfile, attribution, closure, image_user=config.user,
                   result=result, **kw)


@functools.cache
def _benign(name: str) -> Rewrite:
    return _rewrite(FIELDS[name], "benign")


def _check(name: str, value: str) -> None:
    spec = FIELDS[name]
    benign = _benign(name)
    rw = _rewrite(spec, value)
    # BuildKit's parser: the same instructions as with a benign value, or that one less.
    ours = [c.cmd for c in dockerfile.parse_string(rw.text)]
    theirs = [c.cmd for c in dockerfile.parse_string(benign.text)]
    if spec.keyword == "COPY":  # a name COPY cannot take is gathered by the builder's RUN
        ours, theirs = ([k for k in x if k not in ("COPY", "RUN")] for x in (ours, theirs))
    if ours != theirs:
        assert spec.keyword in theirs, (ours, theirs)
        assert any(ours == theirs[:i] + theirs[i + 1:] for i, k in enumerate(theirs)
                   if k == spec.keyword), (ours, theirs)
    runs = [c.original for c in dockerfile.parse_string(rw.text) if c.cmd == "RUN"]
    assert all(r.startswith(("RUN mkdir -p /auditor-etc", "RUN mkdir -p /auditor-runtime"))
               for r in runs), runs
    assert len(runs) <= len([c for c in dockerfile.parse_string(benign.text) if c.cmd == "RUN"]
                            ) + (spec.keyword == "COPY")
    # Nothing unwritable anywhere: no control character, no line break but \n.
    assert all(dq.writable(line) for line in rw.text.split("\n")), name
    assert all(dq.writable(n) for n in rw.notes)
    df = parse_dockerfile(rw.text)
    final = list(df.stages[-1].instructions)
    got, want = spec.read(final, df.escape), spec.expect(value)
    if spec.keyword == "COPY" and got != want:
        staged = ["/" + w.removeprefix("./") for r in runs if "/auditor-runtime" in r
                  for w in shlex.split(r[4:])]  # files, or directories gathered whole
        got = [p for p in want if any(p == w or p.startswith(w + "/") for w in staged)]
    if spec.empty_is_unset and not value.strip():
        return
    if got != want:  # left out, said in a note and in a comment
        if spec.separable:
            assert all(w in got for w in want if w in spec.expect("benign")), (got, want)
        assert any("left out" in n or "not copied" in n or "cannot be written" in n
                   or "exec form" in n for n in rw.notes), rw.notes
        if spec.keyword == "HEALTHCHECK" and any("exec form" in n for n in rw.notes):
            assert got == [value]  # the same command, through the shell
        elif spec.keyword != "COPY":
            assert re.search(rf"^# auditor: .*{spec.keyword}", rw.text, re.M), rw.text


@pytest.mark.parametrize("name", list(FIELDS))
@pytest.mark.parametrize("value", list(PAYLOADS.values()), ids=IDS)
def test_a_payload_in_any_field_reads_back_as_itself_or_is_left_out(name: str, value: str):
    _check(name, value)


@pytest.mark.parametrize("name", list(FIELDS))
def test_hostile_text_in_any_field(name: str):
    @FUZZ
    @given(HOSTILE)
    def check(value: str) -> None:
        _check(name, value)

    check()


@pytest.mark.parametrize("value", [v for v in PAYLOADS.values() if dq.writable(v)] + [
    "plain", "org.opencontainers.image.title"], ids=lambda v: repr(v)[:20])
@pytest.mark.parametrize("escape", ["\\", "`"])
def test_a_label_key_and_value_read_back_under_either_escape(value: str, escape: str):
    pair = dq.label_pair(value, value, escape)
    if "=" in value or not value:
        assert pair is None
        return
    assert pair is not None
    text = f"# escape={escape}\nFROM scratch\nLABEL {pair} \\\n    other=1\n".replace(
        "\\\n", escape + "\n")
    df = parse_dockerfile(text)
    [label] = df.stages[0].instructions
    assert env_pairs(label, {}, escape) == [(value, value, True), ("other", "1", True)]


@pytest.mark.parametrize("value", list(PAYLOADS.values()), ids=IDS)
@pytest.mark.parametrize("escape", ["\\", "`"])
def test_env_values_read_back_under_either_escape(value: str, escape: str):
    pair = dq.env_pair("A", value, escape)
    if pair is None:
        assert not dq.writable(value)
        return
    text = f"# escape={escape}\nFROM scratch\nENV {pair} \\\n    B=2\nUSER 1\n".replace(
        "\\\n", escape + "\n")
    commands = [c.cmd for c in dockerfile.parse_string(text)]
    assert commands == ["FROM", "ENV", "USER"]
    [env, _] = parse_dockerfile(text).stages[0].instructions
    assert env_pairs(env, {}, escape) == [("A", value, True), ("B", "2", True)]


@pytest.mark.parametrize("value", list(PAYLOADS.values()), ids=IDS)
def test_a_generated_run_quotes_image_words_for_the_shell(value: str):
    # The passwd extraction and the tar gathering: one RUN, the word itself to the shell.
    word = dq.shell_word(value)
    if word is None:
        assert not dq.writable(value)
        return
    text = f"FROM scratch\nRUN grep {word} /etc/passwd \\\n && tar -cf - {word}\nUSER 1\n"
    [_, run, _] = dockerfile.parse_string(text)
    assert run.cmd == "RUN" and not run.heredocs
    assert shlex.split(run.value[0]) == ["grep", value, "/etc/passwd", "&&", "tar", "-cf",
                                         "-", value]


def test_a_user_name_in_the_passwd_extraction_is_quoted_and_checked():
    layers = [*BASE[:-2], F("/etc/passwd", "root:x:0:0::/:/bin/sh\nweb.app:x:1001:1001::/:/x\n"),
              F("/etc/group", "web:x:1001:\n")]
    result = result_of(layers, APP, config=ImageConfig(cmd=("/src/hello",), user="web.app"))
    rw = rewrite(DOCKERFILE, attribution_of(result), Closure(), image_user="web.app",
                 result=result)
    assert "grep '^web\\.app:' /etc/passwd" in rw.text
    assert "USER 1001:1001" in rw.text
    assert dq.passwd_pattern("a;b") is None and dq.passwd_pattern("-x") is None


def test_a_staged_name_that_looks_like_an_option_is_not_one():
    assert dq.tar_name("/-rf") == "./-rf"
    assert dq.tar_name("/usr/lib/x y") == "'usr/lib/x y'"
    assert dq.tar_name("/a\nb") is None


@pytest.mark.parametrize(("spec", "ok"), [
    ("80/tcp", True), ("53/udp", True), ("8000-8010/tcp", True), ("9", True),
    ("70000/tcp", False), ("80/tcp\nRUN x", False), ("80/TCP ", False), ("$P", False),
    ("10-2", False)])
def test_expose_takes_ports_only(spec: str, ok: bool):
    assert (dq.port(spec) is not None) == ok


@pytest.mark.parametrize(("signal", "ok"), [
    ("SIGTERM", True), ("RTMIN+3", True), ("9", True), ("SIGQUIT\nRUN x", False),
    ("$SIG", False), ("-9", False)])
def test_stopsignal_takes_signals_only(signal: str, ok: bool):
    assert (dq.stop_signal(signal) is not None) == ok


def test_a_value_that_would_not_read_back_stops_the_rewrite(monkeypatch):
    # The last line of defence: the rewrite is parsed again before it is returned.
    from auditor.fixes.rewrite import RewriteError

    result = result_of(config=ImageConfig(cmd=("/src/hello",), working_dir="/a\nRUN x"))
    monkeypatch.setattr(dq, "workdir", lambda path, escape="\\": path)  # quoting gone wrong
    with pytest.raises(RewriteError, match="would not read back as written"):
        rewrite(DOCKERFILE, attribution_of(result), Closure(), result=result)


def test_a_dockerfile_with_other_line_breaks_is_cut_where_the_parser_cuts_it():
    # \x0c and \u2028 are line breaks to Python's splitlines, not to BuildKit.
    text = DOCKERFILE.replace("COPY hello ./", "COPY hello ./\x0c") + "LABEL a=\"x\u2028y\"\n"
    result = result_of()
    rw = rewrite(text, attribution_of(result, text), Closure(), result=result)
    assert "COPY hello ./\x0c\n" in rw.text and 'LABEL a="x\u2028y"\n' in rw.text
    assert [c.cmd for c in dockerfile.parse_string(rw.text)][:5] == [
        "FROM", "WORKDIR", "COPY", "CMD", "LABEL"]


def test_directories_are_copied_whole_without_a_chown():
    layers = [D("/src", uid=1000, gid=1000), F("/src/hello", b"\x7fELF", uid=1000, gid=1000)]
    result = result_of(BASE, layers)
    rw = rewrite(DOCKERFILE, attribution_of(result), Closure(files=("/src",)), result=result)
    assert "COPY --from=build /src /src" in rw.text


def test_auditor_fix_on_an_image_full_of_payloads(tmp_path, capsys):
    # Through the whole path a user takes: the config's JSON (lone surrogates included),
    # the pipeline, the CLI writing the file and its notes.
    import json

    from auditor.cli import main
    from tests.imagekit import config_for, docker_save
    from tests.layerkit import layer

    values = [v for v in PAYLOADS.values() if len(v) < 1000]
    lays = [layer(*BASE), layer(*APP)]
    extra = {"WorkingDir": "/srv/x\nRUN touch /tmp/pwned-workdir",
             "ExposedPorts": {f"{i}{v}": {} for i, v in enumerate(values)},
             "StopSignal": "SIGTERM\nRUN touch /tmp/pwned-signal",
             "Env": [f"A{i}={v}" for i, v in enumerate(values)] + [f"{v}=1" for v in values],
             "Labels": {v: v for v in values},
             "Healthcheck": {"Test": ["CMD-SHELL", "true\nRUN touch /tmp/pwned-health"]},
             "Entrypoint": ["/src/hello", *values, "\ud800"]}
    cfg = json.loads(config_for(lays, user="app\nRUN touch /tmp/pwned-user",
                                cmd=["/src/hello"], **extra))
    cfg["history"] = [{"created_by": h.created_by, "empty_layer": h.empty_layer}
                      for h in HISTORY]
    archive = docker_save(tmp_path / "img.tar", lays, config=json.dumps(cfg).encode())
    (tmp_path / "Dockerfile").write_text(DOCKERFILE)
    out = tmp_path / "Dockerfile.suggested"
    code = main(["fix", str(archive), "--dockerfile", str(tmp_path / "Dockerfile"), "-o",
                 str(out), "--no-progress"])
    printed, err = capsys.readouterr()
    assert code == 0, err
    text = out.read_text()
    commands = dockerfile.parse_string(text)
    assert [c.cmd for c in commands if c.cmd == "RUN"] == []  # not even the passwd one
    assert not any("pwned" in c.original for c in commands if c.cmd not in ("ENV", "LABEL",
                                                                            "CMD", "ENTRYPOINT"))
    assert all(dq.writable(line) for line in text.split("\n"))
    assert all(dq.writable(line) for line in printed.split("\n"))
    assert "USER 65532:65532" in text and "left out" in printed

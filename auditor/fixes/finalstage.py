"""The final stage of a rewritten Dockerfile: a base, the runtime closure copied from the
builder, a non-root user, and the original image's settings (ENV, WORKDIR, EXPOSE, LABEL,
HEALTHCHECK, ENTRYPOINT, CMD). It must build with the legacy builder
(Engine 20.10, ``DOCKER_BUILDKIT=0``): no heredocs, no ``RUN --mount``, no ``COPY
--chmod``; and its base must be one that can be had where the build runs: ``scratch``
(always), or an image the engine already has.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field

from auditor.detectors.secrets import ENV_RULE
from auditor.filetree import Node
from auditor.fixes import dockerquote as dq
from auditor.fixes.bases import SCRATCH, Bases, choose_base, not_keep
from auditor.fixes.copyplan import STAGING_DIR, CopyPlan, plan_copies, trace
from auditor.fixes.dockerfile import env_pairs
from auditor.model.attribution import Attribution, StepMatch
from auditor.model.closure import Closure
from auditor.model.image import ImageConfig
from auditor.model.result import AuditResult
from auditor.model.text import human_bytes
from auditor.model.tree import Tree

NONROOT = "65532:65532"  # the uid distroless calls "nonroot": needs no passwd entry
PASSWD, PASSWD_DIR = "/etc/passwd", "/auditor-etc"
_SHELL_META = re.compile(r"[|&;<>()$`\\*?\[\]{}~#'\"\n]")


@dataclass
class FinalStage:
    base: str
    lines: list[str] = field(default_factory=list)
    builder_lines: list[str] = field(default_factory=list)  # appended to the builder stage
    notes: list[str] = field(default_factory=list)
    expected_bytes: int = 0
    plan: CopyPlan | None = None
    base_has: Callable[[Node], bool] | None = None  # the image's files the base provides


# -- the final stage ---------------------------------------------------------------------

def escaped(line: str, escape: str) -> str:
    """A generated line with the Dockerfile's own escape character (``# escape=```)."""
    return line if escape == "\\" else line.replace(" \\\n", f" {escape}\n")


def builder_alias(attribution: Attribution | None) -> str:
    """The name the final stage copies from: the target stage's own, or a free one."""
    target = attribution.target if attribution is not None else None
    if target is not None and target.name:
        return target.name
    df = attribution.dockerfile if attribution is not None else None
    taken = {s.name for s in df.stages} if df is not None else set()
    return next(n for n in ("build", "auditor-build", "auditor-build-2", "auditor-build-3",
                            "auditor-runtime-build") if n not in taken)


def final_stage(attribution: Attribution | None, closure: Closure | None, *,
                runtime_base: str | None, image_user: str, result: AuditResult | None,
                available_bases: Bases, builder: str = "build"
                ) -> FinalStage:
    """The final stage's lines, what the builder must add for it, and its expected size."""
    tree = result.tree if result is not None else None
    config = result.image.config if result is not None else ImageConfig()
    esc = attribution.dockerfile.escape if attribution and attribution.dockerfile else "\\"
    base, keep, base_size, why = choose_base(closure, runtime_base, available_bases, result)
    if dq.reference(base) is None:
        why = f"the base {base!r} is not an image reference: final base scratch instead"
        base, keep, base_size = SCRATCH, None, 0
    out = FinalStage(base, notes=[why])
    out.base_has = not_keep(base, keep)
    files = list(closure.files) if closure is not None else []
    if closure is None or not files:
        out.notes.append("no runtime closure is known, so the final stage copies nothing "
                         "from the builder: add the COPY --from lines your program needs")
    can_stage = tree is not None and _has_tools(tree)
    plan = plan_copies(files, tree, keep=keep, can_stage=can_stage)
    out.plan = plan
    out.notes += list(plan.notes)
    if plan.missing:
        out.notes.append("not in the image, so not copied: " + ", ".join(plan.missing[:8]))
    entry = str(closure.entry) if closure is not None and closure.entry else "the program"
    out.lines += [dq.comment(f"auditor: the image: {base} plus only what {entry} needs at "
                             f"run time ({human_bytes(plan.bytes)})")]
    if closure is not None and closure.reason:
        out.lines.append(dq.comment("auditor: " + closure.reason))
    out.lines.append(f"FROM {base}")
    if plan.staging:
        out.builder_lines += [
            "# auditor: gather the runtime files, and the links that name them, in one "
            "directory", *_as_root(attribution), plan.builder_run()]
        out.lines.append(f"COPY --from={builder} {STAGING_DIR}/ /")
    out.lines += [_copy_line(builder, p, tree) for p in plan.copies]
    has_passwd = any(trace(tree, p)[1] == PASSWD for p in files) if tree is not None else False
    user_line, passwd = _user(image_user, tree, base, out.notes, has_passwd)
    if passwd is not None:
        out.builder_lines += ["# auditor: the account the app runs as, for the final stage's "
                              "/etc/passwd", *_as_root(attribution), passwd]
        out.lines.append(f"COPY --from={builder} {PASSWD_DIR}/ /etc/")
    out.lines += _settings(attribution, config, result, base, plan, tree, out.notes, esc)
    out.lines += user_line
    out.lines += _command(attribution, config, base, plan, tree, out.notes)
    out.expected_bytes = plan.bytes + base_size
    return out


def _has_tools(tree: Tree) -> bool:
    """The builder can run the gathering step: a shell and tar."""
    return trace(tree, "/bin/sh")[1] is not None and any(
        trace(tree, p)[1] is not None for p in ("/usr/bin/tar", "/bin/tar"))


def _last(attribution: Attribution | None, keyword: str) -> StepMatch | None:
    return attribution.last(keyword) if attribution is not None else None


def _as_root(attribution: Attribution | None) -> list[str]:
    """``USER 0`` when the builder ends as another user (the step writes to /)."""
    last = _last(attribution, "USER")
    if last is None or last.instruction.args[:1] in (("root",), ("0",), ("0:0",)):
        return []
    return ["USER 0"]


def _copy_line(builder: str, path: str, tree: Tree | None) -> str:
    """COPY --from of one closure path (the plan wrote only paths COPY reads back as
    themselves). COPY --from keeps the owner and mode the builder gave a file, under
    either builder; the owner is also written out (``--chown``, numbers only: the final
    stage may have no /etc/passwd to name them), so that it is kept where the reader of
    the Dockerfile can see it."""
    real = tree.get(trace(tree, path)[1] or path) if tree is not None else None
    chown = ""
    if real is not None and real.kind != "dir" and (real.uid or real.gid):
        chown = f" --chown={real.uid}:{real.gid}"
    return f"COPY --from={builder}{chown} {dq.copy_args(path, path)}"


# -- user, settings, command ---------------------------------------------------------------

def _user(image_user: str, tree: Tree | None, base: str, notes: list[str],
          has_passwd: bool = False) -> tuple[list[str], str | None]:
    """The USER lines of the final stage, and the builder step that extracts a named
    account's passwd line (or None)."""
    spec = image_user.strip()
    if spec and dq.user(spec) is None:
        notes.append(f"USER left out, as it cannot be written in a Dockerfile as it is (runs "
                     f"as {NONROOT} instead): {spec!r}")
        return [dq.comment(f"auditor: USER left out, as it cannot be written here: {spec!r}"),
                f"USER {NONROOT}"], None
    name, _, group = spec.partition(":")
    uid, gid = _account(name, group, tree, notes)
    if not spec or uid == 0 or (uid is None and name == "root"):
        why = "no USER" if not spec else f"USER {spec} is uid 0"
        notes.append(f"runs as {NONROOT} instead of root ({why})")
        return [f"# auditor: not root ({why} before): a numeric uid needs no passwd entry",
                f"USER {NONROOT}"], None
    if uid is None:
        notes.append(f"USER {spec} kept as written: its uid is unknown")
        return [f"USER {spec}"], None
    numeric = f"{uid}:{gid}" if gid else str(uid)
    if _digits(name):
        return [f"USER {numeric}"], None
    if has_passwd:
        notes.append(f"USER {spec} became {numeric}; /etc/passwd comes with the closure")
        return [f"# auditor: USER {spec} by number; /etc/passwd is copied above",
                f"USER {numeric}"], None
    if base != SCRATCH:
        notes.append(f"USER {spec} became {numeric}: the base {base} may not have the account")
        return [f"# auditor: USER {spec} by number: {base} may lack the account",
                f"USER {numeric}"], None
    notes.append(f"USER {spec} became {numeric}, with its passwd line copied from the builder")
    gid_word = gid if gid and _digits(gid) else str(uid)
    pattern = dq.passwd_pattern(name)
    assert pattern is not None  # dq.user() checked the name
    extract = (f"RUN mkdir -p {PASSWD_DIR} && grep {pattern} /etc/passwd > {PASSWD_DIR}/passwd"
               f" && awk -F: '$3 == {gid_word}' /etc/group > {PASSWD_DIR}/group")
    return [f"# auditor: USER {spec} by number; its passwd entry is copied above",
            f"USER {numeric}"], extract


def _digits(word: str) -> bool:
    return word.isascii() and word.isdigit()  # not "²"


def _account(name: str, group: str, tree: Tree | None, notes: list[str]
             ) -> tuple[int | None, str | None]:
    """The uid of account ``name`` (a number, or looked up in the image's /etc/passwd) and
    the group to run as (``group``, else the account's own gid, when it is a number)."""
    if not name or _digits(name):
        return (int(name) if name else None), group or None
    passwd = tree.read_prefix(PASSWD, 1 << 20) if tree is not None else None
    for line in (passwd or b"").decode("utf-8", "replace").splitlines():
        fields = line.split(":")
        if len(fields) > 3 and fields[0] == name and _digits(fields[2]):
            return int(fields[2]), group or (fields[3] if _digits(fields[3]) else None)
    if passwd is not None:
        notes.append(f"USER {name} is not in the image's /etc/passwd")
    return None, group or None


def _settings(attribution: Attribution | None, config: ImageConfig, result: AuditResult | None,
              base: str, plan: CopyPlan, tree: Tree | None, notes: list[str],
              esc: str = "\\") -> list[str]:
    lines = _env(config, result, notes, esc)
    if config.working_dir:
        lines += _written("WORKDIR", config.working_dir, dq.workdir(config.working_dir, esc),
                          notes)
    lines += _labels(attribution, config, notes, esc)
    ports = [p for p in config.exposed_ports if dq.port(p) is not None]
    lines += _left_out("EXPOSE", [p for p in config.exposed_ports if p not in ports], notes)
    if ports:
        lines.append("EXPOSE " + " ".join(ports))
    if config.volumes:
        lines += _written("VOLUME", ", ".join(config.volumes), dq.json_words(config.volumes),
                          notes)
    if config.stop_signal:
        lines += _written("STOPSIGNAL", config.stop_signal, dq.stop_signal(config.stop_signal),
                          notes)
    lines += _healthcheck(attribution, config, base, plan, tree, notes)
    return lines


def _written(keyword: str, value: str, text: str | None, notes: list[str]) -> list[str]:
    """``KEYWORD text``, or, when the value could not be written (``text`` is None), a
    comment and a note saying it was left out."""
    return [f"{keyword} {text}"] if text is not None else _left_out(keyword, [value], notes)


def _left_out(keyword: str, values: list[str], notes: list[str]) -> list[str]:
    lines = []
    for value in values:
        notes.append(f"{keyword} left out, as it cannot be written in a Dockerfile as it "
                     f"is: {value!r}")
        lines.append(dq.comment(f"auditor: {keyword} left out, as it cannot be written here "
                                f"as it is: {value!r}"))
    return lines


def _env(config: ImageConfig, result: AuditResult | None, notes: list[str], esc: str
         ) -> list[str]:
    secret_env = {str(f.evidence.variable) for f in (result.findings if result else ())
                  if f.rule_id == ENV_RULE.id}
    lines: list[str] = []
    env = [(k, v) for k, _, v in (e.partition("=") for e in config.env)]
    for name in sorted(secret_env & {k for k, _ in env}):
        lines.append(dq.comment(f"auditor: ENV {name} left out: a secret in ENV is readable "
                                "by anyone with the image; pass it at run time"))
        notes.append(f"ENV {name} was not carried over: it holds a secret")
    pairs = []
    for name, value in env:
        if name in secret_env:
            continue
        pair = dq.env_pair(name, value, esc)
        if pair is None:
            lines += _left_out("ENV", [f"{name}={value}"], notes)
        else:
            pairs.append(pair)
    if pairs:
        lines.append("# auditor: the environment the original image ran with")
        lines.append("ENV " + " \\\n    ".join(pairs))
    return lines


def _labels(attribution: Attribution | None, config: ImageConfig, notes: list[str], esc: str
            ) -> list[str]:
    """The labels the Dockerfile's own LABEL lines set (a base image's stay behind)."""
    df = attribution.dockerfile if attribution is not None else None
    label_keys = {k for s in (attribution.steps if attribution is not None else ())
                  if s.instruction.keyword == "LABEL" and df
                  for k, _, _ in env_pairs(s.instruction, {}, df.escape)}
    labels = sorted((k, v) for k, v in config.labels.items() if k in label_keys)
    pairs = [(k, v, dq.label_pair(k, v, esc)) for k, v in labels]
    lines = _left_out("LABEL", [f"{k}={v}" for k, v, p in pairs if p is None], notes)
    if any(p is not None for _, _, p in pairs):
        lines.append("LABEL " + " ".join(p for _, _, p in pairs if p is not None))
    return lines


def _has_shell(base: str, plan: CopyPlan, tree: Tree | None) -> bool:
    if base != SCRATCH:
        return True  # a distribution base; a distroless one would say otherwise
    shells = ("/bin/sh", "/usr/bin/sh", "/usr/bin/dash", "/usr/bin/bash")
    present = set(plan.copies) | set(plan.staged)
    if tree is None:
        return bool(present & set(shells))
    reals = {trace(tree, p)[1] for p in present}
    return trace(tree, "/bin/sh")[1] in reals


def _present(path: str, base: str, plan: CopyPlan, tree: Tree | None) -> bool:
    if base != SCRATCH or tree is None:
        return True
    real = trace(tree, path)[1] if path.startswith("/") else None
    named = set(plan.copies) | set(plan.staged)
    if real is None:
        return any(p.rsplit("/", 1)[-1] == path for p in named)
    return real in {trace(tree, p)[1] for p in named} or any(
        real.startswith(d + "/") for d in plan.staged_dirs)


def _source(attribution: Attribution, step: StepMatch) -> str:
    """The instruction's lines as the user wrote them, cut where the parser cuts lines
    (at ``\n`` only)."""
    assert attribution.dockerfile is not None
    lines = attribution.dockerfile.text.split("\n")
    return "\n".join(lines[step.instruction.line - 1:step.instruction.end_line])


def _healthcheck(attribution: Attribution | None, config: ImageConfig, base: str, plan: CopyPlan,
                 tree: Tree | None, notes: list[str]) -> list[str]:
    step = _last(attribution, "HEALTHCHECK")
    test = list(config.healthcheck or ())
    if step is not None and attribution is not None and attribution.dockerfile is not None:
        text: str | None = _source(attribution, step)
    elif test and test[0] in ("CMD", "CMD-SHELL") and len(test) > 1:
        text = _healthcheck_of(test, config, notes)
    else:
        return []
    if text is None:
        return _left_out("HEALTHCHECK", [" ".join(test)], notes)
    if not test or test[0] == "NONE":
        return [text]
    if test[0] == "CMD-SHELL" and not _has_shell(base, plan, tree):
        notes.append("HEALTHCHECK left out: it runs through a shell, and the final stage "
                     "has none; use an exec-form check (CMD [\"/app\", \"--health\"])")
        return ["# auditor: this HEALTHCHECK needs /bin/sh, which the final stage lacks:",
                *(dq.comment(line) for line in text.split("\n"))]
    if test[0] == "CMD" and len(test) > 1 and not _present(test[1], base, plan, tree):
        notes.append(f"HEALTHCHECK left out: {test[1]} is not in the final stage")
        return [dq.comment(f"auditor: this HEALTHCHECK runs {test[1]}, not in the final "
                           "stage:"), *(dq.comment(line) for line in text.split("\n"))]
    return [text]


def _healthcheck_of(test: list[str], config: ImageConfig, notes: list[str]) -> str | None:
    """HEALTHCHECK from the image's config: its command as it was (exec form as JSON, a
    shell command on its line when it can be written there as it is, else through the
    image's shell in exec form), or None."""
    if test[0] == "CMD":
        argv = dq.exec_form(test[1:])
        return None if argv is None else f"HEALTHCHECK CMD {argv}"
    line = dq.shell_form(test[1])
    if line is not None:
        return f"HEALTHCHECK CMD {line}"
    argv = dq.exec_form([*(config.shell or ("/bin/sh", "-c")), test[1]])
    if argv is not None:
        notes.append("HEALTHCHECK written in exec form, through the image's shell: its "
                     "command cannot be written on one line as it is")
    return None if argv is None else f"HEALTHCHECK CMD {argv}"


def _command(attribution: Attribution | None, config: ImageConfig, base: str, plan: CopyPlan,
             tree: Tree | None, notes: list[str]) -> list[str]:
    lines: list[str] = []
    for word, given in (("ENTRYPOINT", config.entrypoint), ("CMD", config.cmd)):
        if not given:
            continue
        argv = list(given)
        shell_form = len(argv) == 3 and argv[0] in ("/bin/sh", "sh") and argv[1] == "-c"
        if shell_form and not _has_shell(base, plan, tree):
            words = _simple_words(argv[2])
            if words is None:
                notes.append(f"{word} {argv[2]!r} needs a shell, which the final stage lacks")
                lines.append(f"# auditor: {word} runs through /bin/sh, which this stage lacks")
            else:
                argv = words
                notes.append(f"{word} in shell form became exec form: {json.dumps(argv)}")
                lines.append("# auditor: exec form: the final stage has no shell")
        origin = _last(attribution, word)
        if origin is None:
            lines.append(f"# auditor: {word} inherited from the base image")
        lines += _written(word, json.dumps(argv), dq.exec_form(argv), notes)
    return lines


def _simple_words(command: str) -> list[str] | None:
    """The argv of a shell command line that is only words (no quoting, expansion,
    redirection or second command), or None when it needs the shell."""
    if _SHELL_META.search(command):
        return None
    words = shlex.split(command)
    return words if words and "=" not in words[0] else None

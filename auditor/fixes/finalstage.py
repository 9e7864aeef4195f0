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
from auditor.filetree import FileTree, Node
from auditor.fixes.bases import SCRATCH, Bases, choose_base, not_keep
from auditor.fixes.copyplan import STAGING_DIR, CopyPlan, plan_copies, trace
from auditor.fixes.dockerfile import env_pairs
from auditor.model.attribution import Attribution, StepMatch
from auditor.model.closure import Closure
from auditor.model.image import ImageConfig
from auditor.model.result import AuditResult
from auditor.model.text import human_bytes

NONROOT = "65532:65532"  # the uid distroless calls "nonroot": needs no passwd entry
PASSWD, PASSWD_DIR = "/etc/passwd", "/auditor-etc"
_SHELL_META = re.compile(r"[|&;<>()$`\\*?\[\]{}~#]")




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
    base, keep, base_size, why = choose_base(closure, runtime_base, available_bases, result)
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
    out.lines += [f"# auditor: the image: {base} plus only what {entry} needs at run time "
                  f"({human_bytes(plan.bytes)})"]
    if closure is not None and closure.reason:
        out.lines.append("# auditor: " + " ".join(closure.reason.split()))
    out.lines.append(f"FROM {base}")
    if plan.staging:
        out.builder_lines += [
            "# auditor: gather the runtime files, and the links that name them, in one "
            "directory", *_as_root(attribution), plan.builder_run()]
        out.lines.append(f"COPY --from={builder} {STAGING_DIR}/ /")
    out.lines += [_copy_line(builder, p) for p in plan.copies]
    has_passwd = any(trace(tree, p)[1] == PASSWD for p in files) if tree is not None else False
    user_line, passwd = _user(image_user, tree, base, out.notes, has_passwd)
    if passwd is not None:
        out.builder_lines += ["# auditor: the account the app runs as, for the final stage's "
                              "/etc/passwd", *_as_root(attribution), passwd]
        out.lines.append(f"COPY --from={builder} {PASSWD_DIR}/ /etc/")
    out.lines += _settings(attribution, config, result, base, plan, tree, out.notes)
    out.lines += user_line
    out.lines += _command(attribution, config, base, plan, tree, out.notes)
    out.expected_bytes = plan.bytes + base_size
    return out


def _has_tools(tree: FileTree) -> bool:
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


def _copy_line(builder: str, path: str) -> str:
    if re.search(r"\s", path):
        return f"COPY --from={builder} {json.dumps([path, path])}"
    return f"COPY --from={builder} {path} {path}"


# -- user, settings, command ---------------------------------------------------------------

def _user(image_user: str, tree: FileTree | None, base: str, notes: list[str],
          has_passwd: bool = False) -> tuple[list[str], str | None]:
    """The USER lines of the final stage, and the builder step that extracts a named
    account's passwd line (or None)."""
    spec = image_user.strip()
    name, _, group = spec.partition(":")
    passwd = tree.read_prefix(PASSWD, 1 << 20) if tree is not None else None
    uid: int | None = int(name) if name.isascii() and name.isdigit() else None  # not "²"
    gid: str | None = group or None
    if name and uid is None:
        for line in (passwd or b"").decode("utf-8", "replace").splitlines():
            fields = line.split(":")
            if len(fields) > 3 and fields[0] == name and fields[2].isascii() \
                    and fields[2].isdigit():
                uid, gid = int(fields[2]), group or fields[3]
                break
        if uid is None and passwd is not None:
            notes.append(f"USER {name} is not in the image's /etc/passwd")
    if not spec or uid == 0 or (uid is None and name == "root"):
        why = "no USER" if not spec else f"USER {spec} is uid 0"
        notes.append(f"runs as {NONROOT} instead of root ({why})")
        return [f"# auditor: not root ({why} before): a numeric uid needs no passwd entry",
                f"USER {NONROOT}"], None
    if uid is None:
        notes.append(f"USER {spec} kept as written: its uid is unknown")
        return [f"USER {spec}"], None
    numeric = f"{uid}:{gid}" if gid else str(uid)
    if name.isdigit():
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
    gid_word = gid if gid and gid.isdigit() else str(uid)
    extract = (f"RUN mkdir -p {PASSWD_DIR} && grep '^{name}:' /etc/passwd > {PASSWD_DIR}/passwd"
              f" && awk -F: '$3 == {gid_word}' /etc/group > {PASSWD_DIR}/group")
    return [f"# auditor: USER {spec} by number; its passwd entry is copied above",
            f"USER {numeric}"], extract


def _quote_env(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$") + '"'


def _settings(attribution: Attribution | None, config: ImageConfig, result: AuditResult | None,
              base: str, plan: CopyPlan, tree: FileTree | None, notes: list[str]) -> list[str]:
    secret_env = {str(f.evidence.variable) for f in (result.findings if result else ())
                  if f.rule_id == ENV_RULE.id}
    lines: list[str] = []
    env = [(k, v) for k, _, v in (e.partition("=") for e in config.env)]
    for name in sorted(secret_env & {k for k, _ in env}):
        lines.append(f"# auditor: ENV {name} left out: a secret in ENV is readable by anyone "
                     "with the image; pass it at run time")
        notes.append(f"ENV {name} was not carried over: it holds a secret")
    env = [(k, v) for k, v in env if k not in secret_env]
    if env:
        lines.append("# auditor: the environment the original image ran with")
        lines.append("ENV " + " \\\n    ".join(f"{k}={_quote_env(v)}" for k, v in env))
    if config.working_dir:
        lines.append(f"WORKDIR {config.working_dir}")
    df = attribution.dockerfile if attribution is not None else None
    label_keys = {k for s in (attribution.steps if attribution is not None else ())
                  if s.instruction.keyword == "LABEL" and df
                  for k, _, _ in env_pairs(s.instruction, {}, df.escape)}
    labels = {k: v for k, v in config.labels.items() if k in label_keys}
    if labels:
        lines.append("LABEL " + " ".join(f"{json.dumps(k)}={json.dumps(v)}"
                                         for k, v in sorted(labels.items())))
    if config.exposed_ports:
        lines.append("EXPOSE " + " ".join(config.exposed_ports))
    if config.volumes:
        lines.append("VOLUME " + json.dumps(list(config.volumes)))
    if config.stop_signal:
        lines.append(f"STOPSIGNAL {config.stop_signal}")
    lines += _healthcheck(attribution, config, base, plan, tree, notes)
    return lines


def _has_shell(base: str, plan: CopyPlan, tree: FileTree | None) -> bool:
    if base != SCRATCH:
        return True  # a distribution base; a distroless one would say otherwise
    shells = ("/bin/sh", "/usr/bin/sh", "/usr/bin/dash", "/usr/bin/bash")
    present = set(plan.copies) | set(plan.staged)
    if tree is None:
        return bool(present & set(shells))
    reals = {trace(tree, p)[1] for p in present}
    return trace(tree, "/bin/sh")[1] in reals


def _present(path: str, base: str, plan: CopyPlan, tree: FileTree | None) -> bool:
    if base != SCRATCH or tree is None:
        return True
    real = trace(tree, path)[1] if path.startswith("/") else None
    named = set(plan.copies) | set(plan.staged)
    if real is None:
        return any(p.rsplit("/", 1)[-1] == path for p in named)
    return real in {trace(tree, p)[1] for p in named} or any(
        real.startswith(d + "/") for d in plan.staged_dirs)


def _healthcheck(attribution: Attribution | None, config: ImageConfig, base: str, plan: CopyPlan,
                 tree: FileTree | None, notes: list[str]) -> list[str]:
    step = _last(attribution, "HEALTHCHECK")
    test = list(config.healthcheck or ())
    if step is not None and attribution is not None and attribution.dockerfile is not None:
        text = attribution.dockerfile.source(step.instruction)
    elif test and test[0] in ("CMD", "CMD-SHELL"):
        text = ("HEALTHCHECK CMD " + (json.dumps(test[1:]) if test[0] == "CMD" else test[1]))
    else:
        return []
    if not test or test[0] == "NONE":
        return [text]
    if test[0] == "CMD-SHELL" and not _has_shell(base, plan, tree):
        notes.append("HEALTHCHECK left out: it runs through a shell, and the final stage "
                     "has none; use an exec-form check (CMD [\"/app\", \"--health\"])")
        return ["# auditor: this HEALTHCHECK needs /bin/sh, which the final stage lacks:",
                *("# " + line for line in text.splitlines())]
    if test[0] == "CMD" and len(test) > 1 and not _present(test[1], base, plan, tree):
        notes.append(f"HEALTHCHECK left out: {test[1]} is not in the final stage")
        return [f"# auditor: this HEALTHCHECK runs {test[1]}, not in the final stage:",
                *("# " + line for line in text.splitlines())]
    return [text]


def _command(attribution: Attribution | None, config: ImageConfig, base: str, plan: CopyPlan,
             tree: FileTree | None, notes: list[str]) -> list[str]:
    lines: list[str] = []
    for word, given in (("ENTRYPOINT", config.entrypoint), ("CMD", config.cmd)):
        if not given:
            continue
        argv = list(given)
        shell_form = len(argv) == 3 and argv[0] in ("/bin/sh", "sh") and argv[1] == "-c"
        if shell_form and not _has_shell(base, plan, tree):
            if _SHELL_META.search(argv[2]):
                notes.append(f"{word} {argv[2]!r} needs a shell, which the final stage lacks")
                lines.append(f"# auditor: {word} runs through /bin/sh, which this stage lacks")
            else:
                argv = shlex.split(argv[2])
                notes.append(f"{word} in shell form became exec form: {json.dumps(argv)}")
                lines.append("# auditor: exec form: the final stage has no shell")
        origin = _last(attribution, word)
        if origin is None:
            lines.append(f"# auditor: {word} inherited from the base image")
        lines.append(f"{word} {json.dumps(argv)}")
    return lines


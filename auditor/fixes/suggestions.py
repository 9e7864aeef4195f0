"""Stage fixes: from the findings to concrete Dockerfile changes, each with its bytes.

Every suggestion names the findings it answers (rule ids), the layer and the Dockerfile
line that brought the problem in, and text a user can paste: the final stage to append,
the RUN as it should read. Advice depends on where the problem came from: a base image
gets "build on it, ship something smaller", the user's own RUN gets "change this line".
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from auditor.detectors import history as layer_rules
from auditor.detectors.secrets import ENV_RULE
from auditor.fixes.bases import Bases
from auditor.fixes.copyplan import held_by, keeper
from auditor.fixes.finalstage import (
    FinalStage,
    builder_alias,
    escaped,
    final_stage,
)
from auditor.model.attribution import Attribution, LayerOrigin, StepMatch
from auditor.model.closure import Closure
from auditor.model.findings import Finding
from auditor.model.result import AuditResult
from auditor.model.suggestion import Suggestion
from auditor.model.text import human_bytes, inert, shorten

TOOLCHAIN = ("compiler", "network-tool")  # what only a build needs
DROPPED_BY_STAGE = (*TOOLCHAIN, "package-manager", "leftover-source", "cache", "shell", "setuid")
CACHE_RULES = {layer_rules.APT_CACHE.id: "apt-get clean",
               layer_rules.APT_LISTS.id: "rm -rf /var/lib/apt/lists/*",
               layer_rules.NPM_CACHE.id: "npm cache clean --force",
               layer_rules.RPM_CACHE.id: "yum clean all"}
SHOWN = 6


def _one(text: object) -> str:
    """A string from the image (a path, a package, USER, an ENV name) on one line, its
    control characters shown as escapes: a newline in a path cannot start a line of the
    suggestion that reads as an instruction of ours."""
    return inert(str(text))


@dataclass
class _Ctx:
    result: AuditResult
    closure: Closure | None
    attribution: Attribution | None
    by_category: dict[str, list[Finding]] = field(default_factory=lambda: defaultdict(list))
    final: FinalStage | None = None

    @property
    def image_bytes(self) -> int:
        """What ``docker images`` counts: every layer's bytes, deleted ones included."""
        return sum(s.added_bytes for s in self.result.tree.layers)

    def origin(self, f: Finding) -> tuple[LayerOrigin | None, StepMatch | None]:
        a = self.attribution
        if a is None:
            return None, None
        step = a.step_of_layer(f.layer) if f.layer is not None else None
        index = f.evidence.history_index
        if step is None and index is not None:
            step = a.step_of_history(index)
        return a.origin(f.layer), step

    def user_run(self, f: Finding) -> StepMatch | None:
        """The user's own RUN that made ``f``, when attribution is sure of it."""
        origin, step = self.origin(f)
        if step is None or step.confidence == "none" or step.instruction.keyword != "RUN":
            return None
        return None if origin is not None and origin.from_base else step


def suggest(result: AuditResult, closure: Closure | None,
            attribution: Attribution | None, bases: Bases = ()) -> list[Suggestion]:
    """Suggestions for ``result``'s findings. ``closure`` (the runtime closure, or None)
    makes the multi-stage and base suggestions possible; ``attribution`` (from
    ``attribute``, with ``--dockerfile``) ties each to its Dockerfile line and lets the
    suggestions quote and amend the user's own instructions; ``bases`` are the images
    the final stage may start from, as ``auditor fix`` is given them."""
    ctx = _Ctx(result, closure, attribution)
    for f in result.findings:
        ctx.by_category[f.category].append(f)
    if closure is not None and closure.files:
        ctx.final = final_stage(attribution, closure, runtime_base=None,
                                image_user=result.image.config.user, result=result,
                                available_bases=bases, builder=builder_alias(attribution))
    out: list[Suggestion] = []
    first = _multi_stage(ctx) or _smaller_base(ctx)
    if first is not None:
        out.append(first)
    out += _secrets(ctx)
    out += _non_root(ctx)
    rest: list[Suggestion] = []
    for make in (_caches, _no_recommends, _pip_no_cache, _npm_omit_dev, _waste, _setuid):
        rest += make(ctx)
    return out + sorted(rest, key=lambda s: -s.saves_bytes)


def _names(findings: Iterable[Finding]) -> str:
    seen: dict[str, None] = {}
    for f in findings:
        seen[_one((f.package.name if f.package is not None else "") or f.path or f.title)] = None
    names = list(seen)
    return ", ".join(names[:SHOWN]) + (f" and {len(names) - SHOWN} more" if len(names) > SHOWN
                                       else "")


def _ids(findings: Iterable[Finding]) -> tuple[str, ...]:
    """The rules a suggestion answers: its ``rule_ids``, and what its text names."""
    return tuple(sorted({f.rule_id for f in findings}))


def _rules(findings: Iterable[Finding]) -> str:
    return ", ".join(_ids(findings))


def _line_ref(step: StepMatch | None) -> str:
    return f" (line {step.instruction.line})" if step is not None else ""


# -- the final stage ---------------------------------------------------------------------

def _stage_text(ctx: _Ctx, final: FinalStage) -> str:
    df = ctx.attribution.dockerfile if ctx.attribution is not None else None
    esc = df.escape if df is not None else "\\"
    parts = []
    if final.builder_lines:
        parts += ["At the end of the build stage:", "", *final.builder_lines, ""]
    parts += ["Append the final stage:", "", *final.lines]
    return "\n".join(escaped(p, esc) for p in parts)


def _multi_stage(ctx: _Ctx) -> Suggestion | None:
    final, closure, a = ctx.final, ctx.closure, ctx.attribution
    toolchain = [f for c in TOOLCHAIN for f in ctx.by_category[c]]
    if final is None or closure is None or not toolchain:
        return None
    dropped, stays = _split_kept(ctx, final)
    toolchain = [f for f in toolchain if f in dropped]
    if not dropped:  # the program needs the toolchain itself: a stage removes none of it
        return _nothing_to_drop(closure, stays)
    # The culprit is a tool the stage drops; when the program keeps every build tool (a
    # JDK's compiler lives in the runtime java needs) the stage still drops the rest.
    culprit = max(toolchain or dropped, key=lambda f: f.bytes)
    origin, step = ctx.origin(culprit)
    saves = max(ctx.image_bytes - final.expected_bytes, 0)
    stage_name = builder_alias(a)
    if origin is not None and origin.from_base and a is not None:
        title = (f"Build on {a.base_image} as a builder stage, ship {final.base} with only "
                 "the runtime files")
        line, why = a.from_line, (f"The base image {a.base_image} (FROM at line {a.from_line}) "
                                  "brings the build toolchain.")
    elif step is not None and step.confidence != "none":
        title = (f"Move line {step.instruction.line} ({shorten(step.instruction.original, 40)}) "
                 "and the build into a builder stage")
        line, why = step.instruction.line, (f"Line {step.instruction.line} installs the build "
                                            "toolchain into the shipped image.")
    else:
        title, line, why = "Use a multi-stage build: ship only the runtime files", None, ""
    removes = "; ".join(f"{c} ({_names(fs)})" for c in DROPPED_BY_STAGE
                        if (fs := [f for f in dropped if f.category == c]))
    text = (f"{why} The program ({_one(closure.entry)}, {closure.kind}) needs "
            f"{human_bytes(final.expected_bytes)} of the image's {human_bytes(ctx.image_bytes)}"
            f". Building in a builder stage and copying only that into {final.base} removes: "
            f"{removes} [{_rules(dropped)}].{_kept_text(stays, closure)}\n"
            f"Name the build stage `AS {stage_name}`. "
            f"{_stage_text(ctx, final)}\n`auditor fix IMAGE --dockerfile Dockerfile` writes "
            "the whole Dockerfile.")
    return Suggestion(title, text.strip(), saves, culprit.layer, line, _ids(dropped))


def _split_kept(ctx: _Ctx, final: FinalStage) -> tuple[list[Finding], list[Finding]]:
    """The findings a stage fix drops, and those it keeps because the final stage still
    holds one of their paths (the program needs the file, or the new base has it). A
    multi-call binary the program runs as its shell keeps every applet with it."""
    found = [f for c in DROPPED_BY_STAGE for f in ctx.by_category[c]]
    if final.plan is None:
        return found, []
    kept = keeper(ctx.result.tree, final.plan, final.base_has)
    stays = [f for f in found if any(kept(p) for p in held_by(f))]
    return [f for f in found if f not in stays], stays


def _nothing_to_drop(closure: Closure, stays: Sequence[Finding]) -> Suggestion | None:
    if not stays:
        return None
    text = (f"A multi-stage build would not remove the tools found here: the program "
            f"({_one(closure.entry)}, {closure.kind}) needs the files they are."
            f"{_kept_text(stays, closure)}")
    first = stays[0]
    return Suggestion(f"The program needs {_names(stays[:1])}: a stage fix removes nothing",
                      text, 0, first.layer, None, _ids(stays))


def _kept_text(stays: Sequence[Finding], closure: Closure) -> str:
    text = _unfollowed_text(closure)
    if not stays:
        return text
    multicall = sorted({f.path for f in stays if f.path and f.rule_id.endswith("-MULTICALL")})
    text += (" It keeps what the program itself needs: " + "; ".join(
        f"{c} ({_names(fs)})" for c in DROPPED_BY_STAGE
        if (fs := [f for f in stays if f.category == c])) + f" [{_rules(stays)}].")
    for f in stays:
        if f.category == "compiler" and f.evidence.extras.get("install_tree_kind") == "java":
            text += (f" {_one(str(f.evidence.extras.get('install_tree')))}/lib/modules stays for "
                     "java, and it holds the compiler (the jdk.compiler module) whatever the "
                     "launcher: a runtime made with jlink --add-modules (only the modules the "
                     "program uses) or a JRE base drops it.")
            break
    for path in multicall:
        applets = [_one(a) for a in closure.applets_of(path)]
        if applets:
            text += (f" {_one(path)} stays: the program runs it as "
                     f"{', '.join(applets[:SHOWN * 2])}"
                     f"{' and more' if len(applets) > SHOWN * 2 else ''}, and a multi-call "
                     "binary brings every applet it was built with (wget, nc, ... where "
                     "listed above).")
        else:
            text += (f" {_one(path)} is a multi-call binary: copied for its shell, it brings every "
                     "applet it was built with (wget, nc, ... where listed above); a program "
                     "that needs no shell (exec form, a static binary) would drop it.")
    return text


def _unfollowed_text(closure: Closure) -> str:
    """What a script does that the closure could not follow, and what that costs."""
    if not closure.unfollowed:
        return ""
    return (" What the program runs cannot all be known without running it ("
            + "; ".join(_one(u) for u in closure.unfollowed[:SHOWN]) + "), so the stage "
            "keeps every program "
            "on PATH, the shell among them.")


def _smaller_base(ctx: _Ctx) -> Suggestion | None:
    final, closure, a = ctx.final, ctx.closure, ctx.attribution
    if final is None or closure is None or a is None or a.base_image == "scratch":
        return None
    from_base = [f for c in DROPPED_BY_STAGE for f in ctx.by_category[c]
                 if (o := a.origin(f.layer)) is not None and o.from_base]
    saves = ctx.image_bytes - final.expected_bytes
    if not from_base or saves <= 0:
        return None
    text = (f"The final stage's base {a.base_image} (FROM at line {a.from_line}) brings "
            f"{_names(from_base)} [{_rules(from_base)}]; the program ({_one(closure.entry)}, "
            f"{closure.kind}) needs none of it ({closure.reason}). Options, smallest first: "
            f"{_base_options(closure.base_candidate)}.{_unfollowed_text(closure)} The "
            "closure-only variant:\n"
            f"{_stage_text(ctx, final)}")
    return Suggestion(f"Use {final.base} instead of {a.base_image} as the final base", text,
                      saves, from_base[0].layer, a.from_line, _ids(from_base))


def _base_options(candidate: str) -> str:
    return {
        "scratch": "scratch (the binary is static)",
        "distroless-static": "scratch, gcr.io/distroless/static-debian12",
        "distroless-cc": "scratch plus the loader and libraries (below), "
                         "gcr.io/distroless/cc-debian12",
        "slim": "scratch plus the interpreter and its libraries (below), the runtime's slim "
                "image (python:3.11-slim, node:18-slim), debian:bookworm-slim",
    }.get(candidate, "scratch plus the files below")


# -- user and secrets -------------------------------------------------------------------------

def _non_root(ctx: _Ctx) -> list[Suggestion]:
    found = ctx.by_category["root-user"]
    if not found:
        return []
    a = ctx.attribution
    step = a.last("USER") if a is not None else None
    user = ctx.result.image.config.user
    why = (f"USER {_one(user)}{_line_ref(step)} is uid 0" if user else "No USER is set, so the "
           "process runs as uid 0")
    text = (f"{why} [{_rules(found)}]. In the final stage, run as an unprivileged numeric "
            "user, which needs no /etc/passwd entry:\n\nUSER 65532:65532\n\nIf the program "
            "looks up its account by name, create it in the build stage (`RUN useradd --uid "
            "10001 --no-create-home --shell /usr/sbin/nologin app`) and copy its passwd line "
            "into the final stage (`auditor fix` writes both steps).")
    return [Suggestion("Run as a non-root user: USER 65532:65532", text, 0, None,
                       step.instruction.line if step is not None else None, _ids(found))]


def _secrets(ctx: _Ctx) -> list[Suggestion]:
    out: list[Suggestion] = []
    for f in ctx.by_category["secret"]:
        _, step = ctx.origin(f)
        if step is not None and step.confidence == "none":
            step = None
        line = step.instruction.line if step is not None else None
        if f.path is not None:
            path = _one(f.path)
            name = path.rsplit("/", 1)[-1]
            how = (f"{step.instruction.keyword} at line {line}" if step is not None
                   else f"layer {f.layer}")
            text = (f"{path} [{f.rule_id}] came in with the {how}. Remove it from the "
                    f"image and add `{name}` to .dockerignore. If a build step needs it, mount "
                    "it for that step only (BuildKit):\n\n"
                    f"RUN --mount=type=secret,id={_secret_id(name)},target={path} <command>"
                    f"\n\nand build with `docker build --secret id={_secret_id(name)},"
                    f"src={name} .` (`RUN --mount=type=ssh` forwards an SSH agent instead). "
                    "Rotate it: every copy of the image holds it.")
            out.append(Suggestion(f"Keep {path} out of the image", text, f.bytes, f.layer,
                                  line, (f.rule_id,)))
        elif f.rule_id == ENV_RULE.id:
            raw = f.evidence.variable if f.evidence.variable is not None else "the variable"
            var = _one(raw)
            env = ctx.attribution.last("ENV", raw + "=") if ctx.attribution else None
            line = env.instruction.line if env is not None else None
            text = (f"ENV {var}{_line_ref(env)} [{f.rule_id}] stores a secret in the image "
                    "config. Remove the ENV line; pass the value when the container starts "
                    f"(`docker run -e {var}`, or the orchestrator's secrets). If a build step "
                    "needs it (BuildKit):\n\n"
                    f"RUN --mount=type=secret,id={_secret_id(var)} "
                    f"{var}=\"$(cat /run/secrets/{_secret_id(var)})\" <command>\n\nRotate it.")
            out.append(Suggestion(f"Remove ENV {var} from the image", text, 0, None, line,
                                  (f.rule_id,)))
        else:
            text = (f"{_one(f.message)} [{f.rule_id}]. Pass build secrets with `RUN "
                    "--mount=type=secret` (BuildKit) instead of ARG or ENV, and rotate it.")
            out.append(Suggestion("Keep build secrets out of the history", text, 0, f.layer,
                                  line, (f.rule_id,)))
    return out


def _secret_id(name: str) -> str:
    return re.sub(r"[^a-z0-9_-]", "_", name.lower().lstrip(".")) or "secret"


# -- RUN amendments ---------------------------------------------------------------------------

def _amend(ctx: _Ctx, step: StepMatch, edit: Callable[[str], str] | None = None,
           append: Sequence[str] = ()) -> str | None:
    """The user's RUN, edited and with commands appended; None for exec form or heredocs."""
    ins, a = step.instruction, ctx.attribution
    if a is None or a.dockerfile is None or ins.json or ins.heredoc:
        return None
    text = a.dockerfile.source(ins)
    if edit is not None:
        text = edit(text)
    for cmd in append:
        if cmd not in text:
            text += f" {a.dockerfile.escape}\n && {cmd}"
    return text


def _cleanup(f: Finding) -> str:
    if f.rule_id in CACHE_RULES:
        return CACHE_RULES[f.rule_id]
    path = f.path or ""
    if path.startswith("/var/cache/apt"):
        return "apt-get clean"
    if path.startswith("/var/lib/apt/lists"):
        return "rm -rf /var/lib/apt/lists/*"
    return f"rm -rf {_one(path)}"


def _caches(ctx: _Ctx) -> list[Suggestion]:
    by_step: dict[int, tuple[StepMatch, list[Finding]]] = {}
    rules = set(CACHE_RULES)
    for f in [*ctx.by_category["cache"], *(f for f in ctx.by_category["config"]
                                            if f.rule_id in rules)]:
        step = ctx.user_run(f)
        if step is not None and ".cache/pip" not in (f.path or ""):
            by_step.setdefault(step.instruction.line, (step, []))[1].append(f)
    out = []
    for line, (step, found) in sorted(by_step.items()):
        cmds = list(dict.fromkeys(_cleanup(f) for f in found))
        amended = _amend(ctx, step, append=cmds)
        cache_bytes = sum(f.bytes for f in found if f.category == "cache")
        kept = max([cache_bytes, *(f.evidence.bytes_in_final_tree or 0 for f in found)])
        what = _names(f for f in found if f.category == "cache") or "package caches"
        body = (amended if amended is not None else
                "(exec-form RUN: add these commands to it) " + " && ".join(cmds))
        text = (f"The RUN at line {line} leaves {what} ({human_bytes(kept)}) "
                f"[{_rules(found)}]. Remove caches in the same RUN that fills them (a later "
                f"RUN cannot shrink this layer):\n\n{body}")
        out.append(Suggestion(f"Clean caches in the RUN at line {line}", text, kept,
                              step.layer, line, _ids(found)))
    return out


_APT_INSTALL = re.compile(r"\b(apt(?:-get)?(?:\s+-\S+)*\s+install)\b")
_PIP_INSTALL = re.compile(r"\b((?:pip3?|python3?(?:\.\d+)? -m pip)(?:\s+-\S+)*\s+install)\b")


def _no_recommends(ctx: _Ctx) -> list[Suggestion]:
    out = []
    for f in ctx.by_category["config"]:
        step = ctx.user_run(f) if f.rule_id == layer_rules.APT_RECOMMENDS.id else None
        if step is None:
            continue
        amended = _amend(ctx, step, edit=lambda t: _APT_INSTALL.sub(
            r"\1 --no-install-recommends", t))
        line = step.instruction.line
        text = (f"The RUN at line {line} installs recommended packages nobody asked for "
                f"[{f.rule_id}]. The bytes saved depend on the recommends; rebuild to "
                f"measure.\n\n{amended or 'apt-get install -y --no-install-recommends ...'}")
        out.append(Suggestion(f"apt-get install --no-install-recommends at line {line}",
                              text, 0, step.layer, line, (f.rule_id,)))
    return out


def _pip_no_cache(ctx: _Ctx) -> list[Suggestion]:
    found = [f for f in [*ctx.by_category["config"], *ctx.by_category["cache"]]
             if f.rule_id == layer_rules.PIP_CACHE.id or ".cache/pip" in (f.path or "")]
    steps: dict[int, tuple[StepMatch, list[Finding]]] = {}
    for f in found:
        step = ctx.user_run(f)
        if step is not None:
            steps.setdefault(step.instruction.line, (step, []))[1].append(f)
    out = []
    for line, (step, fs) in sorted(steps.items()):
        amended = _amend(ctx, step, edit=lambda t: _PIP_INSTALL.sub(r"\1 --no-cache-dir", t)
                         if "--no-cache-dir" not in t else t)
        saves = max(f.bytes or (f.evidence.bytes_in_final_tree or 0) for f in fs)
        text = (f"pip keeps its download cache in the layer of line {line} [{_rules(fs)}]:\n\n"
                f"{amended or 'pip install --no-cache-dir ...'}")
        out.append(Suggestion(f"pip install --no-cache-dir at line {line}", text, saves,
                              step.layer, line, _ids(fs)))
    return out


def _npm_omit_dev(ctx: _Ctx) -> list[Suggestion]:
    dev = [p for p in ctx.result.inventory if p.ecosystem == "npm" and p.dev]
    if not dev:
        return []
    tree = ctx.result.tree
    size = sum(p.installed_size for p in dev) or sum(
        n.size for p in dev for path in p.files if (n := tree.get(path)) is not None)
    node = tree.get(dev[0].location) if dev[0].location else None
    layer = node.layer if node is not None else None
    a = ctx.attribution
    step = a.step_of_layer(layer) if a is not None else None
    names = ", ".join(sorted({_one(p.name) for p in dev})[:SHOWN])
    if step is not None and step.instruction.keyword == "RUN":
        amended = _amend(ctx, step, edit=lambda t: re.sub(
            r"\bnpm (ci|install)\b(?![^\n&;|]*--omit=dev)", r"npm \1 --omit=dev", t))
        how = f"\n\n{amended}" if amended else ""
    else:
        how = (f"\n\n{_line_ref(step).strip(' ()').capitalize() or 'The layer'} copies a "
               "node_modules made outside the build: make it with `npm ci --omit=dev` (or run "
               "`npm prune --omit=dev` before building), or install in the build stage:\n\n"
               "RUN npm ci --omit=dev && npm cache clean --force")
    text = f"devDependencies ship in the image: {names} ({human_bytes(size)}).{how}"
    return [Suggestion("Install production dependencies only: npm ci --omit=dev", text, size,
                       layer, step.instruction.line if step is not None else None)]


def _waste(ctx: _Ctx) -> list[Suggestion]:
    out = []
    a = ctx.attribution
    for f in ctx.by_category["wasted-space"]:
        wrote, removed = f.evidence.written_by, f.evidence.removed_by
        w = a.step_of_layer(wrote.layer) if a is not None and wrote is not None else None
        r = a.step_of_layer(removed.layer) if a is not None and removed is not None else None
        if w is None or r is None or w.instruction.keyword != "RUN" \
                or r.instruction.keyword != "RUN" or r.instruction.json:
            continue
        merged = _amend(ctx, w, append=[r.instruction.args[0]])
        text = (f"Line {r.instruction.line} deletes what line {w.instruction.line} wrote, but "
                f"the bytes stay in line {w.instruction.line}'s layer [{f.rule_id}]. Do both in "
                f"one RUN (and drop line {r.instruction.line}):\n\n{merged}")
        out.append(Suggestion(f"Merge the RUNs at lines {w.instruction.line} and "
                              f"{r.instruction.line}", text, f.bytes, f.layer,
                              w.instruction.line, (f.rule_id,)))
    return out


def _setuid(ctx: _Ctx) -> list[Suggestion]:
    out = []
    for f in ctx.by_category["setuid"]:
        step = ctx.user_run(f)
        if f.package is not None or step is None or f.path is None:
            continue
        amended = _amend(ctx, step, append=[f"chmod u-s,g-s {_one(f.path)}"])
        text = (f"The RUN at line {step.instruction.line} leaves {_one(f.path)} setuid "
                f"[{f.rule_id}]; drop the bit in the same RUN:\n\n{amended}")
        out.append(Suggestion(f"Drop the setuid bit of {_one(f.path)}", text, 0, f.layer,
                              step.instruction.line, (f.rule_id,)))
    return out

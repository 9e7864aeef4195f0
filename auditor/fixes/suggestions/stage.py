"""The final-stage advice: a multi-stage build that ships only the runtime closure, or a
smaller base for the final stage, each with the stage to paste."""

from __future__ import annotations

from collections.abc import Sequence

from auditor.fixes.copyplan import held_by, keeper
from auditor.fixes.finalstage import FinalStage, builder_alias, escaped
from auditor.fixes.suggestions.context import (
    DROPPED_BY_STAGE,
    SHOWN,
    TOOLCHAIN,
    Ctx,
    ids,
    names,
    one,
    rules,
)
from auditor.model.closure import Closure
from auditor.model.findings import Finding
from auditor.model.suggestion import Suggestion
from auditor.model.text import human_bytes, shorten


def _stage_text(ctx: Ctx, final: FinalStage) -> str:
    df = ctx.attribution.dockerfile if ctx.attribution is not None else None
    esc = df.escape if df is not None else "\\"
    parts = []
    if final.builder_lines:
        parts += ["At the end of the build stage:", "", *final.builder_lines, ""]
    parts += ["Append the final stage:", "", *final.lines]
    return "\n".join(escaped(p, esc) for p in parts)


def multi_stage(ctx: Ctx) -> Suggestion | None:
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
    removes = "; ".join(f"{c} ({names(fs)})" for c in DROPPED_BY_STAGE
                        if (fs := [f for f in dropped if f.category == c]))
    text = (f"{why} The program ({one(closure.entry)}, {closure.kind}) needs "
            f"{human_bytes(final.expected_bytes)} of the image's {human_bytes(ctx.image_bytes)}"
            f". Building in a builder stage and copying only that into {final.base} removes: "
            f"{removes} [{rules(dropped)}].{_kept_text(stays, closure)}\n"
            f"Name the build stage `AS {stage_name}`. "
            f"{_stage_text(ctx, final)}\n`auditor fix IMAGE --dockerfile Dockerfile` writes "
            "the whole Dockerfile.")
    return Suggestion(title, text.strip(), saves, culprit.layer, line, ids(dropped))


def _split_kept(ctx: Ctx, final: FinalStage) -> tuple[list[Finding], list[Finding]]:
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
            f"({one(closure.entry)}, {closure.kind}) needs the files they are."
            f"{_kept_text(stays, closure)}")
    first = stays[0]
    return Suggestion(f"The program needs {names(stays[:1])}: a stage fix removes nothing",
                      text, 0, first.layer, None, ids(stays))


def _kept_text(stays: Sequence[Finding], closure: Closure) -> str:
    text = _unfollowed_text(closure)
    if not stays:
        return text
    multicall = sorted({f.path for f in stays if f.path and f.rule_id.endswith("-MULTICALL")})
    text += (" It keeps what the program itself needs: " + "; ".join(
        f"{c} ({names(fs)})" for c in DROPPED_BY_STAGE
        if (fs := [f for f in stays if f.category == c])) + f" [{rules(stays)}].")
    for f in stays:
        if f.category == "compiler" and f.evidence.extras.get("install_tree_kind") == "java":
            text += (f" {one(str(f.evidence.extras.get('install_tree')))}/lib/modules stays for "
                     "java, and it holds the compiler (the jdk.compiler module) whatever the "
                     "launcher: a runtime made with jlink --add-modules (only the modules the "
                     "program uses) or a JRE base drops it.")
            break
    for path in multicall:
        applets = [one(a) for a in closure.applets_of(path)]
        if applets:
            text += (f" {one(path)} stays: the program runs it as "
                     f"{', '.join(applets[:SHOWN * 2])}"
                     f"{' and more' if len(applets) > SHOWN * 2 else ''}, and a multi-call "
                     "binary brings every applet it was built with (wget, nc, ... where "
                     "listed above).")
        else:
            text += (f" {one(path)} is a multi-call binary: copied for its shell, it brings every "
                     "applet it was built with (wget, nc, ... where listed above); a program "
                     "that needs no shell (exec form, a static binary) would drop it.")
    return text


def _unfollowed_text(closure: Closure) -> str:
    """What a script does that the closure could not follow, and what that costs."""
    if not closure.unfollowed:
        return ""
    return (" What the program runs cannot all be known without running it ("
            + "; ".join(one(u) for u in closure.unfollowed[:SHOWN]) + "), so the stage "
            "keeps every program "
            "on PATH, the shell among them.")


def smaller_base(ctx: Ctx) -> Suggestion | None:
    final, closure, a = ctx.final, ctx.closure, ctx.attribution
    if final is None or closure is None or a is None or a.base_image == "scratch":
        return None
    from_base = [f for c in DROPPED_BY_STAGE for f in ctx.by_category[c]
                 if (o := a.origin(f.layer)) is not None and o.from_base]
    saves = ctx.image_bytes - final.expected_bytes
    if not from_base or saves <= 0:
        return None
    text = (f"The final stage's base {a.base_image} (FROM at line {a.from_line}) brings "
            f"{names(from_base)} [{rules(from_base)}]; the program ({one(closure.entry)}, "
            f"{closure.kind}) needs none of it ({closure.reason}). Options, smallest first: "
            f"{_base_options(closure.base_candidate)}.{_unfollowed_text(closure)} The "
            "closure-only variant:\n"
            f"{_stage_text(ctx, final)}")
    return Suggestion(f"Use {final.base} instead of {a.base_image} as the final base", text,
                      saves, from_base[0].layer, a.from_line, ids(from_base))


def _base_options(candidate: str) -> str:
    return {
        "scratch": "scratch (the binary is static)",
        "distroless-static": "scratch, gcr.io/distroless/static-debian12",
        "distroless-cc": "scratch plus the loader and libraries (below), "
                         "gcr.io/distroless/cc-debian12",
        "slim": "scratch plus the interpreter and its libraries (below), the runtime's slim "
                "image (python:3.11-slim, node:18-slim), debian:bookworm-slim",
    }.get(candidate, "scratch plus the files below")

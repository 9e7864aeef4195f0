"""Advice on who the process runs as (USER) and on secrets the image holds: in a file, in
an ENV, or in the build history."""

from __future__ import annotations

import re

from auditor.detectors.secrets import ENV_RULE
from auditor.fixes.suggestions.context import Ctx, ids, line_ref, one, rules
from auditor.model.suggestion import Suggestion


def non_root(ctx: Ctx) -> list[Suggestion]:
    found = ctx.by_category["root-user"]
    if not found:
        return []
    a = ctx.attribution
    step = a.last("USER") if a is not None else None
    user = ctx.result.image.config.user
    why = (f"USER {one(user)}{line_ref(step)} is uid 0" if user else "No USER is set, so the "
           "process runs as uid 0")
    text = (f"{why} [{rules(found)}]. In the final stage, run as an unprivileged numeric "
            "user, which needs no /etc/passwd entry:\n\nUSER 65532:65532\n\nIf the program "
            "looks up its account by name, create it in the build stage (`RUN useradd --uid "
            "10001 --no-create-home --shell /usr/sbin/nologin app`) and copy its passwd line "
            "into the final stage (`auditor fix` writes both steps).")
    return [Suggestion("Run as a non-root user: USER 65532:65532", text, 0, None,
                       step.instruction.line if step is not None else None, ids(found))]


def secrets(ctx: Ctx) -> list[Suggestion]:
    out: list[Suggestion] = []
    for f in ctx.by_category["secret"]:
        _, step = ctx.origin(f)
        if step is not None and step.confidence == "none":
            step = None
        line = step.instruction.line if step is not None else None
        if f.path is not None:
            path = one(f.path)
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
            var = one(raw)
            env = ctx.attribution.last("ENV", raw + "=") if ctx.attribution else None
            line = env.instruction.line if env is not None else None
            text = (f"ENV {var}{line_ref(env)} [{f.rule_id}] stores a secret in the image "
                    "config. Remove the ENV line; pass the value when the container starts "
                    f"(`docker run -e {var}`, or the orchestrator's secrets). If a build step "
                    "needs it (BuildKit):\n\n"
                    f"RUN --mount=type=secret,id={_secret_id(var)} "
                    f"{var}=\"$(cat /run/secrets/{_secret_id(var)})\" <command>\n\nRotate it.")
            out.append(Suggestion(f"Remove ENV {var} from the image", text, 0, None, line,
                                  (f.rule_id,)))
        else:
            text = (f"{one(f.message)} [{f.rule_id}]. Pass build secrets with `RUN "
                    "--mount=type=secret` (BuildKit) instead of ARG or ENV, and rotate it.")
            out.append(Suggestion("Keep build secrets out of the history", text, 0, f.layer,
                                  line, (f.rule_id,)))
    return out


def _secret_id(name: str) -> str:
    return re.sub(r"[^a-z0-9_-]", "_", name.lower().lstrip(".")) or "secret"

"""Stage fixes: from the findings to concrete Dockerfile changes, each with its bytes.

Every suggestion names the findings it answers (rule ids), the layer and the Dockerfile
line that brought the problem in, and text a user can paste: the final stage to append,
the RUN as it should read. Advice depends on where the problem came from: a base image
gets "build on it, ship something smaller", the user's own RUN gets "change this line".
"""

from __future__ import annotations

from auditor.fixes.bases import Bases
from auditor.fixes.finalstage import builder_alias, final_stage
from auditor.fixes.suggestions.context import Ctx
from auditor.fixes.suggestions.runs import (
    caches,
    no_recommends,
    npm_omit_dev,
    pip_no_cache,
    setuid,
    waste,
)
from auditor.fixes.suggestions.stage import multi_stage, smaller_base
from auditor.fixes.suggestions.user_secrets import non_root, secrets
from auditor.model.attribution import Attribution
from auditor.model.closure import Closure
from auditor.model.result import AuditResult
from auditor.model.suggestion import Suggestion


def suggest(result: AuditResult, closure: Closure | None,
            attribution: Attribution | None, bases: Bases = ()) -> list[Suggestion]:
    """Suggestions for ``result``'s findings. ``closure`` (the runtime closure, or None)
    makes the multi-stage and base suggestions possible; ``attribution`` (from
    ``attribute``, with ``--dockerfile``) ties each to its Dockerfile line and lets the
    suggestions quote and amend the user's own instructions; ``bases`` are the images
    the final stage may start from, as ``auditor fix`` is given them."""
    ctx = Ctx(result, closure, attribution)
    for f in result.findings:
        ctx.by_category[f.category].append(f)
    if closure is not None and closure.files:
        ctx.final = final_stage(attribution, closure, runtime_base=None,
                                image_user=result.image.config.user, result=result,
                                available_bases=bases, builder=builder_alias(attribution))
    out: list[Suggestion] = []
    first = multi_stage(ctx) or smaller_base(ctx)
    if first is not None:
        out.append(first)
    out += secrets(ctx)
    out += non_root(ctx)
    rest: list[Suggestion] = []
    for make in (caches, no_recommends, pip_no_cache, npm_omit_dev, waste, setuid):
        rest += make(ctx)
    return out + sorted(rest, key=lambda s: -s.saves_bytes)

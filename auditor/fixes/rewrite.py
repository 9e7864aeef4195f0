"""The rewritten Dockerfile: the user's build kept as a builder stage, and a final stage
that carries only the runtime closure, as a non-root user, with the original settings.

Every instruction of the original stays where it was, so the build does what it did; the
target stage only gets a name (``AS build``) and, at its end, the steps that gather what
the final stage copies. The new final stage (``auditor.fixes.finalstage``) is appended.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from auditor.detectors.secrets import ENV_RULE, HISTORY_RULE
from auditor.errors import AuditorError
from auditor.filetree import Node
from auditor.fixes.bases import Bases, LocalBase
from auditor.fixes.copyplan import CopyPlan, held_by, keeper
from auditor.fixes.dockerfile import parse_dockerfile
from auditor.fixes.finalstage import (
    builder_alias,
    escaped,
    final_stage,
)
from auditor.model.attribution import Attribution
from auditor.model.closure import Closure
from auditor.model.dockerfile import Dockerfile
from auditor.model.findings import Finding
from auditor.model.result import AuditResult
from auditor.model.text import inert, shorten

__all__ = ["LocalBase", "Rewrite", "expected_findings", "rewrite"]


@dataclass(frozen=True)
class Rewrite:
    text: str
    notes: list[str]
    expected_bytes: int  # file bytes of the rewritten image: base plus what is copied
    base: str
    plan: CopyPlan | None = None
    base_has: Callable[[Node], bool] | None = None  # the image's files the new base provides


def rewrite(dockerfile_text: str, attribution: Attribution, closure: Closure | None, *,
            runtime_base: str | None = None, image_user: str = "",
            result: AuditResult | None = None,
            available_bases: Bases = ()) -> Rewrite:
    """The multi-stage Dockerfile for ``dockerfile_text``.

    ``attribution`` (from :func:`auditor.fixes.attribution.attribute`) selects the target
    stage; ``closure`` (``compute_closure``) says what the final stage copies;
    ``runtime_base`` is the user's ``--runtime-base`` (default: ``scratch`` when the closure
    is complete, else the smallest local image the image was built on); ``image_user`` is
    the image's ``Config.User``; ``result`` (the audit) lends the file tree, the inventory,
    the config and the secret findings; ``available_bases`` the images the engine has
    (names, or :class:`LocalBase` with layers and size; or a function listing them,
    called only if the choice of base needs them). Notes say what was decided and
    what could not be.
    """
    df = attribution.dockerfile or parse_dockerfile(dockerfile_text)
    target = attribution.target or df.stages[-1]
    alias = builder_alias(attribution)
    final = final_stage(attribution, closure, runtime_base=runtime_base, image_user=image_user,
                        result=result, available_bases=available_bases, builder=alias)
    lines = dockerfile_text.removesuffix("\n").split("\n")  # lines as the parser counts them
    from_end = target.from_instruction.end_line
    head = lines[:target.from_line - 1]
    from_lines = lines[target.from_line - 1:from_end]
    if target.name is None:
        from_lines[-1] = from_lines[-1].rstrip() + f" AS {alias}"
    stage_end = max([from_end, *(i.end_line for i in target.instructions)])
    esc = df.escape
    generated_builder = [escaped(line, esc) for line in final.builder_lines]
    generated_final = [escaped(line, esc) for line in final.lines]
    out = [*head,
           f"# auditor: this stage builds as before; the image is the last stage below "
           f"({final.base} and the runtime files only)",
           *from_lines, *lines[from_end:stage_end]]
    if generated_builder:
        out += ["", *generated_builder]
    rest = lines[stage_end:]
    while rest and not rest[-1].strip():
        rest.pop()
    out += [*rest, "", *generated_final]
    notes = list(final.notes)
    if attribution.base_image == "scratch":
        notes.append("the target stage already starts FROM scratch: the new final stage "
                     "changes what is copied, the user and the settings only")
    notes += [f"attribution: {n}" for n in attribution.unmatched]
    notes += [f"closure: {n}" for n in (getattr(closure, "notes", ()) or ())]
    text = "\n".join(out) + "\n"
    _reads_back(text, df, target.index, generated_builder, generated_final)
    return Rewrite(text, [inert(shorten(n, MAX_NOTE)) for n in notes], final.expected_bytes,
                   final.base, final.plan, final.base_has)


MAX_NOTE = 1000  # characters of a note: image text in it is shown, not all of it


class RewriteError(AuditorError):
    """The rewrite would not read back as written: nothing is written."""


def _keywords(generated: list[str]) -> list[str]:
    """The instructions generated lines are meant to be (comments are not)."""
    return [line.split(None, 1)[0].upper() for line in generated
            if line.strip() and not line.lstrip().startswith("#")]


def _reads_back(text: str, original: Dockerfile, target: int, builder: list[str],
                final: list[str]) -> None:
    """BuildKit's parser reads the rewrite as the original's instructions, the generated
    ones at the end of the target stage, and one more stage of exactly the generated
    instructions: no value from the image became, joined or hid an instruction."""
    df = parse_dockerfile(text)
    added, wanted = _keywords(builder), _keywords(final)
    stages = [[i.keyword for i in s.instructions] for s in df.stages]
    before = [[i.keyword for i in s.instructions] for s in original.stages]
    before[target] += added
    got = [s.from_instruction.keyword for s in df.stages[-1:]] + stages[-1]
    if stages[:-1] != before or got != wanted:
        raise RewriteError("the rewritten Dockerfile would not read back as written (an "
                           "image value got past the quoting); it is not written",
                           tip="please report this with the image")


# Config findings the rewritten final stage no longer has: it runs as a numeric non-root
# user, carries no secret ENV, and has none of the original build steps or their waste.
_FIXED_RULES = frozenset({ENV_RULE.id, HISTORY_RULE.id})


def expected_findings(result: AuditResult, fixed: Rewrite) -> list[Finding] | None:
    """The findings the rewritten image should still have, for an expected score: those
    about files it keeps (the copied closure, and what the new base provides when that is
    an image this one was built on) and the image-config findings the rewrite does not
    change. None when the new base's contents are unknown."""
    if fixed.base_has is None or fixed.plan is None:
        return None
    kept = keeper(result.tree, fixed.plan, fixed.base_has)
    out = []
    for f in result.findings:
        paths = held_by(f)
        if paths:
            if any(kept(p) for p in paths):
                out.append(f)
        elif not (f.category in ("root-user", "wasted-space") or f.rule_id in _FIXED_RULES
                  or f.layer is not None or f.evidence.history_index is not None):
            out.append(f)
    return out


"""Amendments to the user's own RUN lines: clean caches in the RUN that fills them, skip
recommends and pip's cache, install npm's production dependencies only, merge a RUN with
the one that deletes its bytes, drop a setuid bit. Each quotes the RUN as it should read."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from auditor.detectors import history as layer_rules
from auditor.fixes.suggestions.context import SHOWN, Ctx, ids, line_ref, names, one, rules
from auditor.model.attribution import StepMatch
from auditor.model.findings import Finding
from auditor.model.suggestion import Suggestion
from auditor.model.text import human_bytes

CACHE_RULES = {layer_rules.APT_CACHE.id: "apt-get clean",
               layer_rules.APT_LISTS.id: "rm -rf /var/lib/apt/lists/*",
               layer_rules.NPM_CACHE.id: "npm cache clean --force",
               layer_rules.RPM_CACHE.id: "yum clean all"}


def _amend(ctx: Ctx, step: StepMatch, edit: Callable[[str], str] | None = None,
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
    return f"rm -rf {one(path)}"


def caches(ctx: Ctx) -> list[Suggestion]:
    by_step: dict[int, tuple[StepMatch, list[Finding]]] = {}
    cache_rules = set(CACHE_RULES)
    for f in [*ctx.by_category["cache"], *(f for f in ctx.by_category["config"]
                                            if f.rule_id in cache_rules)]:
        step = ctx.user_run(f)
        if step is not None and ".cache/pip" not in (f.path or ""):
            by_step.setdefault(step.instruction.line, (step, []))[1].append(f)
    out = []
    for line, (step, found) in sorted(by_step.items()):
        cmds = list(dict.fromkeys(_cleanup(f) for f in found))
        amended = _amend(ctx, step, append=cmds)
        cache_bytes = sum(f.bytes for f in found if f.category == "cache")
        kept = max([cache_bytes, *(f.evidence.bytes_in_final_tree or 0 for f in found)])
        what = names(f for f in found if f.category == "cache") or "package caches"
        body = (amended if amended is not None else
                "(exec-form RUN: add these commands to it) " + " && ".join(cmds))
        text = (f"The RUN at line {line} leaves {what} ({human_bytes(kept)}) "
                f"[{rules(found)}]. Remove caches in the same RUN that fills them (a later "
                f"RUN cannot shrink this layer):\n\n{body}")
        out.append(Suggestion(f"Clean caches in the RUN at line {line}", text, kept,
                              step.layer, line, ids(found)))
    return out


_APT_INSTALL = re.compile(r"\b(apt(?:-get)?(?:\s+-\S+)*\s+install)\b")
_PIP_INSTALL = re.compile(r"\b((?:pip3?|python3?(?:\.\d+)? -m pip)(?:\s+-\S+)*\s+install)\b")


def no_recommends(ctx: Ctx) -> list[Suggestion]:
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


def pip_no_cache(ctx: Ctx) -> list[Suggestion]:
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
        text = (f"pip keeps its download cache in the layer of line {line} [{rules(fs)}]:\n\n"
                f"{amended or 'pip install --no-cache-dir ...'}")
        out.append(Suggestion(f"pip install --no-cache-dir at line {line}", text, saves,
                              step.layer, line, ids(fs)))
    return out


def npm_omit_dev(ctx: Ctx) -> list[Suggestion]:
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
    dev_names = ", ".join(sorted({one(p.name) for p in dev})[:SHOWN])
    if step is not None and step.instruction.keyword == "RUN":
        amended = _amend(ctx, step, edit=lambda t: re.sub(
            r"\bnpm (ci|install)\b(?![^\n&;|]*--omit=dev)", r"npm \1 --omit=dev", t))
        how = f"\n\n{amended}" if amended else ""
    else:
        how = (f"\n\n{line_ref(step).strip(' ()').capitalize() or 'The layer'} copies a "
               "node_modules made outside the build: make it with `npm ci --omit=dev` (or run "
               "`npm prune --omit=dev` before building), or install in the build stage:\n\n"
               "RUN npm ci --omit=dev && npm cache clean --force")
    text = f"devDependencies ship in the image: {dev_names} ({human_bytes(size)}).{how}"
    return [Suggestion("Install production dependencies only: npm ci --omit=dev", text, size,
                       layer, step.instruction.line if step is not None else None)]


def waste(ctx: Ctx) -> list[Suggestion]:
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


def setuid(ctx: Ctx) -> list[Suggestion]:
    out = []
    for f in ctx.by_category["setuid"]:
        step = ctx.user_run(f)
        if f.package is not None or step is None or f.path is None:
            continue
        amended = _amend(ctx, step, append=[f"chmod u-s,g-s {one(f.path)}"])
        text = (f"The RUN at line {step.instruction.line} leaves {one(f.path)} setuid "
                f"[{f.rule_id}]; drop the bit in the same RUN:\n\n{amended}")
        out.append(Suggestion(f"Drop the setuid bit of {one(f.path)}", text, 0, f.layer,
                              step.instruction.line, (f.rule_id,)))
    return out

"""Which Dockerfile instruction made each layer of a built image.

A built image keeps one history entry per instruction of its final stage, after the
history of its base image, and one layer per non-empty entry. So the final stage's
instructions are matched to the *end* of the history, aligning the two sequences the
way ``diff`` aligns lines: an instruction pairs with a history entry when the keywords
agree, and the pair is ``exact`` when the text the builder recorded is the text the
instruction gives (after the builder's own rewriting: ``$VAR`` expansion, ``COPY``
recorded as ``file:<sha> in <dest>``, a shell-form ``CMD`` as ``["/bin/sh" "-c" ...]``),
``order`` when only the keyword and the position agree. Everything before the first
paired entry is the base image's history. When the history does not add up to the
layers, or nothing matches exactly, we say so and attribute nothing rather than guess.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Mapping, Sequence

from auditor.fixes.attribution_check import mismatch
from auditor.fixes.dockerfile import (
    DEFAULT_SHELL,
    arg_pairs,
    env_pairs,
    expand,
    parse_dockerfile,
)
from auditor.history import (
    RunMount,
    created_by_text,
    mounts_of_flags,
    parse_created_by,
    recorded_env,
)
from auditor.model.attribution import Attribution, LayerOrigin, StepMatch
from auditor.model.dockerfile import Dockerfile, Instruction, Stage
from auditor.model.image import HistoryEntry
from auditor.model.text import shorten

EXACT, ORDER, NONE = "exact", "order", "none"
_EXACT_SCORE, _ORDER_SCORE, _GAP = 4, 1, 2


def attribute(dockerfile_text: str, history: Sequence[HistoryEntry], layer_count: int, *,
              target: str | None = None, build_args: Mapping[str, str] | None = None
              ) -> Attribution:
    """Attribute each of ``layer_count`` layers to the Dockerfile line that made it.

    ``history`` is the image config's history (all entries, empty-layer ones included);
    ``target`` selects the stage that was built (``--target``; default: the last);
    ``build_args`` are the ``--build-arg`` values, used to expand ``$VAR`` the way the
    builder did. The result names, per layer, whether the base image made it, the line
    and instruction, and how sure the match is; ``unmatched`` says what did not match.
    Raises UsageError when the Dockerfile cannot be parsed or has no such stage.
    """
    args = dict(build_args or {})
    df = parse_dockerfile(dockerfile_text, args)
    chain = df.chain(target)
    instructions = [(stage, ins) for stage in chain for ins in stage.instructions]
    expected, values = _expected_keys(df, chain, args, history)
    observed = [_observed_keys(h.created_by) for h in history]
    pairs = _align(expected, observed)
    notes: list[str] = []
    wrong = mismatch(df, instructions, expected, history, pairs, values)
    if wrong is not None:
        return _nothing(df, chain, instructions, layer_count, wrong)

    producing = [i for i, h in enumerate(history) if not h.empty_layer]
    layer_of = ({idx: n for n, idx in enumerate(producing)}
                if len(producing) == layer_count else {})
    if not layer_of and layer_count:
        notes.append(f"the image has {layer_count} layers but its history records "
                     f"{len(producing)} that made one, so no layer can be attributed")

    exact = sum(1 for _, _, c in pairs if c == EXACT)
    if pairs and not exact:
        notes.append("no instruction's text matches the image's history: this may not be "
                     "the Dockerfile (or the build args, or the --target) that built it")
        pairs = [(i, j, NONE) for i, j, _ in pairs]
    paired_i = {i: (j, c) for i, j, c in pairs}
    paired_j = {j: (i, c) for i, j, c in pairs}

    steps: list[StepMatch] = []
    for i, (stage, ins) in enumerate(instructions):
        j, conf = paired_i.get(i, (None, NONE))
        if j is None:
            notes.append(f"line {ins.line} ({shorten(ins.original, 60)}) has no entry in the "
                         "image's history: the image may come from another version of the "
                         "Dockerfile")
        steps.append(StepMatch(ins, stage, j, layer_of.get(j) if j is not None else None,
                               conf))

    first = min(paired_j) if paired_j else len(history)
    base_conf = paired_j[first][1] if paired_j else NONE
    trusted = exact > 0 or not pairs  # with nothing exact, even the base's end is a guess
    layers: list[LayerOrigin] = []
    for n in range(layer_count):
        idx = producing[n] if layer_of else None
        if idx is None or not trusted:
            layers.append(LayerOrigin(n, False, None, None, NONE))
        elif idx < first:
            entry = history[idx]
            what = created_by_text(entry.created_by) if entry.created_by else entry.comment
            layers.append(LayerOrigin(n, True, None, what or None, base_conf))
        elif idx in paired_j:
            i, conf = paired_j[idx]
            ins = instructions[i][1]
            layers.append(LayerOrigin(n, False, ins.line if conf != NONE else None,
                                      ins.original if conf != NONE else None, conf))
        else:
            notes.append(f"layer {n} ({shorten(created_by_text(history[idx].created_by), 60)}) "
                         "matches no instruction of the Dockerfile")
            layers.append(LayerOrigin(n, False, None, None, NONE))
    base_layers = sum(1 for o in layers if o.from_base)
    root = chain[0]
    return Attribution(tuple(layers), base_layers, root.base, root.from_line, chain[-1],
                       tuple(steps), tuple(notes), df, layer_of)


def run_mounts(attribution: Attribution) -> dict[int, tuple[RunMount, ...]]:
    """Each matched RUN's ``--mount`` flags, by the history entry it made: what BuildKit's
    history leaves out and the cache and secret checks need."""
    out: dict[int, tuple[RunMount, ...]] = {}
    for step in attribution.steps:
        ins = step.instruction
        if step.history_index is None or step.confidence == NONE or ins.keyword != "RUN":
            continue
        mounts = mounts_of_flags(ins.flags)
        if mounts:
            out[step.history_index] = mounts
    return out


# -- alignment -------------------------------------------------------------------------

Keys = tuple[str, frozenset[str]]  # (keyword, the texts that count as exact)


def _align(expected: Sequence[Keys], observed: Sequence[Keys]) -> list[tuple[int, int, str]]:
    """Pairs (instruction, history entry, confidence): the best alignment of every
    instruction against the end of the history, whose leading entries (the base) are free."""
    n, m = len(expected), len(observed)
    neg = -(10 ** 9)
    score = [[0] * (m + 1) for _ in range(n + 1)]
    move = [[""] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        score[i][0], move[i][0] = score[i - 1][0] - _GAP, "i"
        for j in range(1, m + 1):
            pair = _pair_score(expected[i - 1], observed[j - 1])
            options = [
                (score[i - 1][j - 1] + pair if pair is not None else neg, "d"),
                (score[i - 1][j] - _GAP, "i"),  # an instruction with no history entry
                (score[i][j - 1] - _GAP, "h"),  # a history entry no instruction made
            ]
            score[i][j], move[i][j] = max(options, key=lambda o: o[0])
    pairs: list[tuple[int, int, str]] = []
    i, j = n, m
    while i > 0:
        step = move[i][j]
        if step == "d":
            pairs.append((i - 1, j - 1, EXACT if _pair_score(expected[i - 1], observed[j - 1])
                          == _EXACT_SCORE else ORDER))
            i, j = i - 1, j - 1
        elif step == "i" or j == 0:
            i -= 1
        else:
            j -= 1
    return pairs[::-1]


def _pair_score(exp: Keys, obs: Keys) -> int | None:
    if not exp[0] or exp[0] != obs[0]:
        return None
    return _EXACT_SCORE if exp[1] & obs[1] else _ORDER_SCORE


# -- what the builder records -----------------------------------------------------------

def _norm(text: str) -> str:
    return " ".join(text.split())


def _norm_path(path: str) -> str:
    path = _norm(path)
    if path in ("", ".", "./"):
        return "."
    out = posixpath.normpath(path)
    return out.removeprefix("./")


_GO_STRING = r'"(?:[^"\\]|\\.)*"'
_GO_LIST_RX = re.compile(r"\[((?:\s*" + _GO_STRING + r")*)\s*\]")


def _go_strings(text: str) -> list[str]:
    """The strings of a Go ``%q``-printed list (``["a" "b"]``) or a JSON list."""
    out = []
    for quoted in re.findall(_GO_STRING, text):
        try:
            out.append(str(json.loads(quoted)))
        except ValueError:
            out.append(quoted[1:-1])
    return out


def _argv_key(argv: Sequence[str]) -> str:
    return "argv:" + json.dumps(list(argv))


_PORT_RX = re.compile(r"(\d+(?:-\d+)?)(?:/(tcp|udp|sctp))?", re.IGNORECASE)


def _ports_key(text: str) -> str:
    ports = sorted({f"{p}/{(proto or 'tcp').lower()}" for p, proto in _PORT_RX.findall(text)})
    return "ports:" + " ".join(ports)


def _observed_keys(created_by: str) -> Keys:
    read = parse_created_by(created_by)
    keyword, args, buildkit = read.instruction, read.args, read.buildkit
    keys: set[str] = {_norm(args)}
    if keyword == "RUN":
        keys.add("run:" + _norm(args))
    elif keyword in ("COPY", "ADD"):
        legacy = re.match(r"^(?:--\S+\s+)*(?:(?:file|dir|multi):)?[0-9a-f]{16,}\s+in\s+(.*)$",
                          args.strip())
        if legacy and not buildkit:
            keys.add("dest:" + _norm_path(legacy.group(1)))
        else:
            words = [w for w in args.split() if not w.startswith("--")]
            if words:
                keys.add("dest:" + _norm_path(words[-1]))
    elif keyword in ("CMD", "ENTRYPOINT"):
        argv = _go_strings(args)
        keys.update({_argv_key(argv), "tail:" + _norm(argv[-1]) if argv else "tail:"})
    elif keyword == "HEALTHCHECK":
        m = _GO_LIST_RX.search(args)
        keys.add(_argv_key(_go_strings(m.group(1)) if m else []))
    elif keyword == "EXPOSE":
        keys.add(_ports_key(args))
    elif keyword in ("VOLUME", "SHELL"):
        keys.add(keyword.lower() + ":" + json.dumps(args.strip("[] ").split()))
    elif keyword == "WORKDIR":
        keys.add("wd:" + _norm_path(args))
    elif keyword in ("ARG", "ENV"):
        keys.add(f"{keyword.lower()}:" + " ".join(_recorded_names(args)))
    return keyword, frozenset(keys)


_NAME_RX = re.compile(r"(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)=")


def _recorded_names(args: str) -> list[str]:
    """The names an ``ARG``/``ENV`` history entry sets. The builder records values
    unquoted (``ARG A=hello world``), so a word is a name only when ``=`` follows it;
    an ``ARG`` of bare names has no ``=`` at all."""
    return _NAME_RX.findall(args) if "=" in args else args.split()


class _Scope:
    """The variables and settings an instruction sees, as the builder tracks them."""

    def __init__(self, base_env: Mapping[str, str]) -> None:
        self.env: dict[str, str] = dict(base_env)
        self.args: dict[str, str] = {}
        self.shell: tuple[str, ...] = DEFAULT_SHELL
        self.workdir: str | None = None

    def vars(self) -> dict[str, str]:
        return {**self.args, **self.env}


def _expected_keys(df: Dockerfile, chain: Sequence[Stage], build_args: Mapping[str, str],
                   history: Sequence[HistoryEntry]) -> tuple[list[Keys], list[dict[str, str]]]:
    """What the builder records for each instruction, and the variables each one sees."""
    # ENV values recorded in the history (the base image's among them), for the ``$VAR``s
    # the Dockerfile uses but does not set.
    scope = _Scope(recorded_env(h.created_by for h in history))
    out: list[Keys] = []
    values: list[dict[str, str]] = []
    for stage in chain:
        scope.args = {}
        for ins in stage.instructions:
            values.append(scope.vars())
            out.append((ins.keyword, frozenset(_instruction_keys(df, ins, scope, build_args))))
    return out, values


def _nothing(df: Dockerfile, chain: Sequence[Stage],
             instructions: Sequence[tuple[Stage, Instruction]], layer_count: int,
             why: str) -> Attribution:
    """The attribution of a Dockerfile that is not the image's: no layer, no line."""
    steps = tuple(StepMatch(ins, stage, None, None, NONE) for stage, ins in instructions)
    layers = tuple(LayerOrigin(n, False, None, None, NONE) for n in range(layer_count))
    return Attribution(layers, 0, chain[0].base, chain[0].from_line, chain[-1], steps,
                       (why,), df, {}, mismatch=why)


def _instruction_keys(df: Dockerfile, ins: Instruction, scope: _Scope,
                      build_args: Mapping[str, str]) -> set[str]:
    """The texts the builder would record for ``ins``; empty when we cannot know them.
    Also moves ``scope`` past the instruction."""
    kw, esc, words = ins.keyword, df.escape, list(ins.args)
    values = scope.vars()
    if kw == "RUN":
        if ins.heredoc:
            return set()
        return {"run:" + _norm(" ".join(words) if ins.json else (words[0] if words else ""))}
    if kw in ("COPY", "ADD"):
        expanded = [expand(w, values, esc) for w in words]
        # A heredoc COPY/ADD still ends in its destination, and BuildKit records it
        # (``COPY <<EOF /dest``): the destination is as exact as any other copy's.
        if not expanded or not all(ok for _, ok in expanded):
            return set()
        return {"dest:" + _norm_path(expanded[-1][0])}
    if kw in ("CMD", "ENTRYPOINT"):
        argv = words if ins.json else [*scope.shell, words[0] if words else ""]
        keys = {_argv_key(argv)}
        if not ins.json:
            keys.add("tail:" + _norm(argv[-1]))
        return keys
    if kw == "HEALTHCHECK":
        if not words or words[0].upper() == "NONE":
            return {_argv_key(["NONE"])}
        return {_argv_key(["CMD", *words[1:]] if ins.json else ["CMD-SHELL", words[1]])}
    if kw == "SHELL":
        scope.shell = tuple(words)
        return {"shell:" + json.dumps(words)}
    if kw in ("ENV", "LABEL"):
        pairs = env_pairs(ins, values, esc)
        if kw == "ENV":
            scope.env.update({k: v for k, v, _ in pairs})
        # ENV's names in order are exact even when a value reads a variable we cannot
        # know (``PATH=/x:$PATH`` on a base whose PATH is in its config, not its history).
        names = {"env:" + " ".join(k for k, _, _ in pairs)} if kw == "ENV" else set()
        if not all(ok for _, _, ok in pairs):
            return names
        return {*names, _norm(" ".join(f"{k}={v}" for k, v, _ in pairs)),
                _norm(ins.original[len(kw):])}
    if kw == "ARG":
        for name, default in arg_pairs(ins, values, esc):
            given = build_args.get(name)
            inherited = df.global_values.get(name) if default is None else default
            value = given if given is not None else inherited
            if value is not None:
                scope.args[name] = value
        return {"arg:" + " ".join(name for name, _ in arg_pairs(ins, values, esc))}
    expanded = [expand(w, values, esc) for w in words]
    known = all(ok for _, ok in expanded)
    text = " ".join(v for v, _ in expanded)
    if kw == "WORKDIR":
        path = text if text.startswith("/") or scope.workdir is None else posixpath.join(
            scope.workdir, text)
        scope.workdir = posixpath.normpath(path) if path.startswith("/") and known else None
        return {"wd:" + _norm_path(path)} if known and path.startswith("/") else set()
    if not known:
        return set()
    if kw == "EXPOSE":
        return {_ports_key(text)}
    if kw == "VOLUME":
        return {"volume:" + json.dumps(text.strip("[] ").split())}
    if kw == "ONBUILD":
        return {_norm(ins.original.partition(" ")[2])}
    return {_norm(text)}

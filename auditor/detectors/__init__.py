"""Detectors: one module per concern, each a generator registered with ``@detector``.

A detector declares its rules (id, category, severity, title, fix) and the file contents
it needs (``wants``) next to its code; its docstring is its documentation. It sees only
the squashed tree, the inventory and the image config (a ``ScanContext``) and yields
Findings made with ``ctx.finding(rule, ...)``, which fills in the evidence that every
finding carries: layer, the instruction that created it, owning package, bytes.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from auditor.detectors._overlap import mark_overlaps
from auditor.filetree import FileTree, Node
from auditor.history import RunMount, parse_created_by
from auditor.inventory import Inventory, Package
from auditor.model.evidence import Evidence
from auditor.model.findings import Copy, Finding, Rule
from auditor.model.image import HistoryEntry, Image, Skipped
from auditor.model.package import PackageRef
from auditor.read.wants import Want


@dataclass
class ScanContext:
    image: Image
    tree: FileTree
    inventory: Inventory
    history: list[HistoryEntry | None] = field(default_factory=list)  # per layer
    # Masks secrets in an instruction: findings carry created_by into every report.
    redact: Callable[[str], str] = field(default=lambda text: text)
    # RUN --mount flags the history does not record (BuildKit's), read from the Dockerfile
    # given with --dockerfile, by history index (see ``run_mounts``).
    dockerfile_mounts: Mapping[int, tuple[RunMount, ...]] = field(default_factory=dict)

    def run_mounts(self, history_index: int | None) -> tuple[RunMount, ...]:
        """The ``--mount`` flags of the RUN at ``history_index``: recorded in its history
        entry (buildah) or in the Dockerfile (BuildKit)."""
        entries = self.image.config.history
        if history_index is None or not 0 <= history_index < len(entries):
            return ()
        recorded = parse_created_by(entries[history_index].created_by).mounts
        return recorded + tuple(self.dockerfile_mounts.get(history_index, ()))

    def layer_mounts(self, layer: int) -> tuple[RunMount, ...]:
        """The ``--mount`` flags of the RUN that made ``layer`` (none when the history
        does not map onto the layers)."""
        producing = [i for i, h in enumerate(self.image.config.history) if not h.empty_layer]
        if len(producing) != len(self.image.layers) or not 0 <= layer < len(producing):
            return ()
        return self.run_mounts(producing[layer])

    def created_by(self, layer: int | None) -> str | None:
        if layer is None or not 0 <= layer < len(self.history):
            return None
        entry = self.history[layer]
        return self.redact(entry.created_by) if entry is not None and entry.created_by \
            else None

    def owner(self, path: str) -> Package | None:
        return self.inventory.owner(path)

    def finding(self, rule: Rule, message: str, *, path: str | None = None,
                paths: Sequence[str] = (), package: PackageRef | None = None,
                layer: int | None = None, size: int | None = None,
                evidence: Evidence | None = None, severity: str | None = None,
                fix: str | None = None, created_by: str | None = None,
                claim: Iterable[Copy] | None = None) -> Finding:
        """A Finding under ``rule``; layer, package and bytes default from ``path``.

        ``claim``: the file copies ``(layer, path, size)`` whose bytes ``size`` counts
        (see ``_overlap``); by default the regular files of ``paths`` when ``size`` is
        theirs, else none (not known).
        """
        all_paths = tuple(paths) or ((path,) if path else ())
        path = path or (all_paths[0] if all_paths else None)
        node: Node | None = self.tree.get(path) if path else None
        if layer is None and node is not None:
            layer = node.layer
        if package is None and path is not None:
            pkg = self.owner(path)
            if pkg is not None:
                package = pkg.ref
        if size is None:
            files = [n for p in all_paths if (n := self.tree.get(p)) is not None
                     and n.kind == "file"]
            size = sum(n.size for n in files)
            claim = [(n.layer, n.path, n.size) for n in files] if claim is None else claim
        return Finding(
            rule_id=rule.id, category=rule.category, severity=severity or rule.severity,
            title=rule.title, message=message, path=path, package=package, layer=layer,
            created_by=created_by or self.created_by(layer), bytes=size, fix=fix if fix is not None
            else rule.fix, paths=all_paths,
            evidence=evidence if evidence is not None else Evidence(),
            claim=frozenset(claim or ()),
        )


DetectFn = Callable[[ScanContext], Iterable[Finding]]


@dataclass(frozen=True, slots=True)
class Detector:
    name: str  # the module's name
    rules: tuple[Rule, ...]
    wants: tuple[Want, ...]
    run: DetectFn
    doc: str


DETECTORS: dict[str, Detector] = {}
RULES: dict[str, Rule] = {}


def detector(*rules: Rule, wants: Iterable[Want] = ()) -> Callable[[DetectFn], DetectFn]:
    """Register ``detect(ctx) -> Iterator[Finding]`` with the rules it reports under."""

    def register(fn: DetectFn) -> DetectFn:
        name = fn.__module__.rsplit(".", 1)[-1] + ("" if fn.__name__ == "detect"
                                                   else "." + fn.__name__)
        if name in DETECTORS:
            raise ValueError(f"detector {name!r} registered twice")
        for rule in rules:
            if rule.id in RULES:
                raise ValueError(f"rule id {rule.id} declared twice")
            RULES[rule.id] = rule
        doc = inspect.getdoc(fn) or inspect.getdoc(inspect.getmodule(fn)) or ""
        DETECTORS[name] = Detector(name, tuple(rules), tuple(wants), fn, doc)
        return fn

    return register


def load_detectors() -> dict[str, Detector]:
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")
    return DETECTORS


def detector_wants() -> list[Want]:
    return [w for d in load_detectors().values() for w in d.wants]


def run_detectors(ctx: ScanContext, skipped: list[Skipped]) -> list[Finding]:
    findings: list[Finding] = []
    for det in load_detectors().values():
        try:
            found = list(det.run(ctx))
        except Exception as exc:  # one broken detector never stops the scan
            skipped.append(Skipped(f"detector {det.name}", f"failed: {exc!r}"))
            continue
        declared = {r.id for r in det.rules}
        for f in found:
            if f.rule_id not in declared:
                skipped.append(Skipped(f"detector {det.name}",
                                       f"reported undeclared rule {f.rule_id}"))
            else:
                findings.append(f)
    return mark_overlaps(findings)


def redact_instruction(text: str) -> str:
    """``text`` (a history entry, a RUN script) with every secret the detectors know of
    masked: what reports may show of an instruction."""
    from auditor.detectors.secrets import redact_instruction as redact

    return redact(text)


def iter_rules() -> Iterator[Rule]:
    """Every rule auditor reports under: the detectors', then the policy's own."""
    from auditor.policy.model import POLICY_RULES  # policy's validation imports us

    load_detectors()
    yield from RULES.values()
    yield from POLICY_RULES.values()


POLICY_DOC = ("Rules the policy itself reports under, never a detector: a package its "
              "`[[packages]]` rules forbid, a waiver that has expired.")


def _rules_table(rules: Iterable[Rule]) -> list[str]:
    lines = ["| rule | category | severity | security | precision | title | fix |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for rule in rules:
        fix = rule.fix.replace("|", "\\|")
        lines.append(f"| `{rule.id}` | {rule.category} | {rule.severity} | "
                     f"{'yes' if rule.security else 'no'} | {rule.precision} | {rule.title} "
                     f"| {fix} |")
    return lines


def rules_markdown() -> str:
    """docs/rules.md: each detector's docstring, then a table of its rules; the policy's
    rules last."""
    from auditor.policy.model import POLICY_RULES

    detectors = load_detectors()
    lines = ["# Rules", "",
             "Generated by `auditor rules --markdown` from the detectors' own docstrings and "
             "rule declarations; a test keeps it current. A security rule is filed under "
             "security by code scanning (SARIF), with a security-severity from its "
             "findings' severity; precision says how often its findings are right.", ""]
    for name in sorted(detectors):
        det = detectors[name]
        lines += [f"## {name}", "", det.doc.strip(), "", *_rules_table(det.rules), ""]
    lines += ["## policy", "", POLICY_DOC, ""]
    lines += [f"- `{rule.id}`: {rule.help}" for rule in POLICY_RULES.values()]
    lines += ["", *_rules_table(POLICY_RULES.values()), ""]
    return "\n".join(lines)

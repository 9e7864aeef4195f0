"""The pipeline in one function: source -> Image -> FileTree -> Inventory -> findings ->
Verdict -> runtime closure -> attribution to Dockerfile lines -> suggestions -> Report.

``audit(request)`` is what ``auditor scan`` runs and ``fix(request)`` what ``auditor fix``
runs (the same audit, then the rewritten Dockerfile); tests call them the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from auditor.errors import UsageError
from auditor.filetree import FileTree, LayerSquash
from auditor.model.attribution import Attribution
from auditor.model.closure import Closure
from auditor.model.findings import Finding
from auditor.model.image import Image, Skipped
from auditor.model.platform import INDEX_SOURCES, check_platform
from auditor.model.result import AuditResult, Report
from auditor.model.suggestion import Suggestion
from auditor.model.verdict import Verdict
from auditor.read.progress import Progress
from auditor.read.wants import NOTHING, ContentWants
from auditor.sources import open_image
from auditor.sources.common import ScanOptions

if TYPE_CHECKING:
    from auditor.fixes.bases import LocalBase
    from auditor.fixes.rewrite import Rewrite
    from auditor.history import RunMount
    from auditor.policy import Baseline, Policy

# The detectors, catalogers, policy, closure and fixes are imported where they are first
# needed: a scan starts its reading (the engine's save, the digest checks) before it
# loads them.

ListBases = Callable[[], Sequence["str | LocalBase"]]
# The RUN mounts a Dockerfile declares for an image, by history index (BuildKit's history
# leaves them out).
MountsOf = Callable[[Image], Mapping[int, tuple["RunMount", ...]]]


def _engine_bases() -> Sequence[str | LocalBase]:
    from auditor.fixes.bases import engine_bases

    return engine_bases()


@dataclass(frozen=True)
class AuditRequest:
    """What to audit and how: the command line's arguments, checked and loaded."""

    source: str  # NAME[:TAG], docker-archive:PATH, oci-dir:PATH, ... (auditor.sources)
    platform: str | None = None
    verify: bool | None = None  # check layer digests: None is each source's default
    policy: Policy | None = None  # no verdict without one
    baseline: Baseline | None = None
    fail_under: int | None = None  # override the policy's thresholds
    fail_on: str | None = None
    ignore: tuple[str, ...] = ()  # rule ids the gate ignores (--ignore)
    dockerfile_text: str | None = None  # ties findings to lines; None: no attribution
    dockerfile: str | None = None  # its path as the user gave it, for the reports
    target: str | None = None
    build_args: Mapping[str, str] = field(default_factory=dict)
    sarif_category: str | None = None
    # The images a final stage may start from; asked for only when a choice needs them,
    # the same for `scan`'s suggestions and `fix`'s rewrite. Default: the engine's.
    bases: ListBases = _engine_bases
    progress: Progress | None = field(default=None, compare=False)


@dataclass(frozen=True)
class FixResult:
    report: Report
    rewrite: Rewrite
    # The policy's verdict on the rewritten image; None when what its base holds is unknown.
    expected: Verdict | None


def audit(request: AuditRequest) -> Report:
    """The whole pipeline. Problems that are the user's (a bad policy threshold, an
    unknown --target) stop it; a step after the findings that fails is recorded as
    skipped, and the report still holds everything before it."""
    attribution_of = _attributor(request)
    result = scan(request.source, platform=request.platform, progress=request.progress,
                  verify=request.verify, dockerfile_mounts=_mounts_of(attribution_of),
                  wants=_audit_wants)
    verdict = None if request.policy is None else judge(
        result, request.policy, baseline=request.baseline, fail_under=request.fail_under,
        fail_on=request.fail_on, ignore=request.ignore)
    skipped: list[Skipped] = []  # what goes wrong from here on
    closure = _closure(result, skipped)
    attribution = attribution_of(result.image)
    if attribution is not None and attribution.mismatch is not None:
        # said in every report; the suggestions quote no line of that Dockerfile
        skipped.append(Skipped(f"--dockerfile {request.dockerfile or 'Dockerfile'}",
                               attribution.mismatch))
    trusted = attribution if attribution is None or attribution.mismatch is None else None
    suggestions = _suggestions(result, closure, trusted, _once(request.bases), skipped)
    return Report(
        replace(result, skipped=(*result.skipped, *skipped)), verdict,
        policy_name=request.policy.name if request.policy is not None else None,
        policy_source=request.policy.source if request.policy is not None else None,
        suggestions=tuple(suggestions), dockerfile=request.dockerfile,
        dockerfile_lines=dockerfile_lines(attribution), sarif_category=request.sarif_category,
        closure=closure, attribution=attribution)


def fix(request: AuditRequest, runtime_base: str | None = None) -> FixResult:
    """The audit, then the multi-stage Dockerfile that removes what the image should not
    carry, with the verdict the policy should give the rebuilt image."""
    from auditor.fixes.rewrite import expected_findings, rewrite
    from auditor.policy import evaluate

    if request.dockerfile_text is None:
        raise ValueError("fix needs the Dockerfile's text")
    bases = _once(request.bases)
    report = audit(replace(request, bases=bases))
    result = report.result
    assert report.attribution is not None  # made from the Dockerfile text
    if report.attribution.mismatch is not None:
        raise UsageError(f"{request.dockerfile or 'the Dockerfile'}: "
                         f"{report.attribution.mismatch}; fix rewrites only the Dockerfile "
                         "that built the image")
    fixed = rewrite(request.dockerfile_text, report.attribution, report.closure,
                    runtime_base=runtime_base, image_user=result.image.config.user,
                    result=result, available_bases=bases)
    remaining = expected_findings(result, fixed)
    unchanged = _nothing_to_fix(request.dockerfile_text, report, fixed, remaining)
    if unchanged is not None:
        return FixResult(report, unchanged, report.verdict)
    expected = None
    if remaining is not None and request.policy is not None:
        expected = evaluate(request.policy, remaining, image_size=fixed.expected_bytes,
                            wasted_bytes=0, packages=())
    return FixResult(report, fixed, expected)


NOTHING_TO_FIX_SHARE = 0.9  # a rewrite that keeps this much of the image and no finding less


def _nothing_to_fix(text: str, report: Report, fixed: Rewrite,
                    remaining: Sequence[Finding] | None) -> Rewrite | None:
    """The Dockerfile unchanged, with a note saying why, when the rewrite would remove no
    finding and save little: adding a stage to an image that is already clean only adds
    a build step. None when the rewrite is worth writing."""
    from auditor.fixes.rewrite import Rewrite

    result = report.result
    if remaining is None:
        return None
    gone = [f for f in result.findings if f not in remaining]
    image_bytes = sum(s.added_bytes for s in result.tree.layers)
    if gone or fixed.expected_bytes < NOTHING_TO_FIX_SHARE * image_bytes:
        return None
    kept = sorted({f.rule_id for f in result.findings if f.severity != "info"})
    why = ("nothing to fix: the rewrite would remove no finding"
           + (f" (the program needs what {', '.join(kept)} found)" if kept else "")
           + " and save little; the Dockerfile is written unchanged")
    base = report.attribution.base_image if report.attribution is not None else ""
    return Rewrite(text, [why], image_bytes, base or "")


def _once(bases: ListBases) -> ListBases:
    """``bases``, asked at most once however many steps want them."""
    listed: list[Sequence[str | LocalBase]] = []

    def ask() -> Sequence[str | LocalBase]:
        if not listed:
            listed.append(bases())
        return listed[0]

    return ask


def judge(result: AuditResult, policy: Policy, *, baseline: Baseline | None = None,
          fail_under: int | None = None, fail_on: str | None = None,
          ignore: tuple[str, ...] = ()) -> Verdict:
    """The policy's verdict on an audited image (the pipeline's policy step)."""
    from auditor.policy import evaluate

    return evaluate(policy, result.findings, image_size=result.tree.size_bytes,
                    wasted_bytes=result.tree.wasted_bytes, packages=result.inventory.packages,
                    baseline=baseline, fail_under=fail_under, fail_on=fail_on,
                    ignore=ignore)


def _closure(result: AuditResult, skipped: list[Skipped]) -> Closure | None:
    from auditor.closure.compute import compute_closure

    try:
        return compute_closure(result.tree, result.image.config, None, result.inventory)
    except Exception as exc:  # a bug here must not cost the user the report
        skipped.append(Skipped("runtime closure", f"failed: {exc!r}"))
        return None


def _attributor(request: AuditRequest) -> Callable[[Image], Attribution | None]:
    """The image's attribution to the request's Dockerfile, made once when first asked
    (the detectors ask first, for the RUN mounts; the suggestions after)."""
    made: list[Attribution | None] = []

    def attribution_of(image: Image) -> Attribution | None:
        if not made:
            made.append(None if request.dockerfile_text is None else _attribute(request, image))
        return made[0]

    return attribution_of


def _attribute(request: AuditRequest, image: Image) -> Attribution:
    from auditor.fixes.attribution import attribute

    assert request.dockerfile_text is not None
    return attribute(request.dockerfile_text, image.config.history, len(image.layers),
                     target=request.target, build_args=request.build_args)


def _mounts_of(attribution_of: Callable[[Image], Attribution | None]) -> MountsOf:
    def mounts(image: Image) -> Mapping[int, tuple[RunMount, ...]]:
        from auditor.fixes.attribution import run_mounts

        attribution = attribution_of(image)
        return run_mounts(attribution) if attribution is not None else {}

    return mounts


def dockerfile_lines(attribution: Attribution | None) -> dict[int, int]:
    """Each layer's Dockerfile line; a base layer's is the FROM that brought the base in."""
    if attribution is None:
        return {}
    lines = {}
    for origin in attribution.layers:
        line = origin.dockerfile_line or (attribution.from_line if origin.from_base else None)
        if line:
            lines[origin.layer] = line
    return lines


def _suggestions(result: AuditResult, closure: Closure | None,
                 attribution: Attribution | None, bases: ListBases,
                 skipped: list[Skipped]) -> list[Suggestion]:
    from auditor.fixes.suggestions import suggest

    try:
        return suggest(result, closure, attribution, bases)
    except Exception as exc:  # the findings stand without advice
        skipped.append(Skipped("suggestions", f"failed: {exc!r}"))
        return []


# -- the first steps: source -> Image -> FileTree -> Inventory -> findings ------------------

def scan_wants() -> ContentWants:
    """Everything the detectors and catalogers will read, known before the first byte."""
    from auditor.closure.compute import CLOSURE_WANTS
    from auditor.detectors import detector_wants
    from auditor.inventory import inventory_wants

    return ContentWants(detector_wants() + inventory_wants() + list(CLOSURE_WANTS))


def _audit_wants() -> ContentWants:
    """scan_wants(), with the modules audit() needs after the last byte loaded too: the
    source calls it once it has started reading, so they load while the bytes arrive."""
    import auditor.fixes.attribution
    import auditor.fixes.suggestions  # noqa: F401

    return scan_wants()


def read_tree(source: str, *, platform: str | None = None, progress: Progress | None = None,
              wants: ContentWants = NOTHING, verify: bool | None = None
              ) -> tuple[Image, FileTree]:
    squash = LayerSquash()  # layers squashed as they arrive, where the source can tell
    image = _open(source, ScanOptions(wants, platform, progress, verify=verify,
                                      defer_checks=True, on_layer=squash.add))
    tree = squash.tree_of(image.layers)  # while the layer digests are checked
    image.wait_checks()
    return image, tree


def _open(source: str, options: ScanOptions) -> Image:
    """The image SOURCE names, refused when --platform asked for another one (a source
    that resolves an index has picked the platform already; a single-platform image is
    checked here, whichever source read it)."""
    image = open_image(source, options)
    if image.source not in INDEX_SOURCES:
        check_platform(image.config.os, image.config.architecture, options.platform,
                       image.reference)
    return image


def audit_image(image: Image, tree: FileTree, detect: bool = True,
                dockerfile_mounts: MountsOf | None = None) -> AuditResult:
    from auditor.detectors import ScanContext, redact_instruction, run_detectors
    from auditor.inventory import build_inventory

    inventory = build_inventory(tree)
    history = image.config.layer_history(len(image.layers))
    # Reports show each layer's instruction: never a secret that a RUN or ENV recorded.
    shown = tuple(replace(h, created_by=redact_instruction(h.created_by))
                  if h is not None else None for h in history)
    skipped = [*image.skipped, *tree.skipped, *inventory.skipped]
    findings = []
    if detect:
        mounts = dockerfile_mounts(image) if dockerfile_mounts is not None else {}
        ctx = ScanContext(image, tree, inventory, history, redact=redact_instruction,
                          dockerfile_mounts=mounts)
        findings = run_detectors(ctx, skipped)
    return AuditResult(image, tree, inventory, shown, tuple(findings), tuple(skipped))


def scan(source: str, *, platform: str | None = None, progress: Progress | None = None,
         detect: bool = True, verify: bool | None = None,
         dockerfile_mounts: MountsOf | None = None,
         wants: Callable[[], ContentWants] = scan_wants) -> AuditResult:
    """The image read and audited: its tree, its packages and the detectors' findings.
    ``dockerfile_mounts`` gives the RUN mounts a Dockerfile declares, by history index;
    ``wants`` what the detectors read (scan_wants, made once the source has started
    reading)."""
    squash = LayerSquash()  # layers squashed as they arrive, where the source can tell
    image = _open(source, ScanOptions(wants if detect else NOTHING, platform, progress,
                                      verify=verify, defer_checks=True, on_layer=squash.add))
    # Layer digests are checked in the background while the tree is squashed and audited;
    # a mismatch is raised here, before anything is reported.
    result = audit_image(image, squash.tree_of(image.layers), detect, dockerfile_mounts)
    image.wait_checks()
    return result

"""The pipeline in one function: source -> Image -> FileTree -> Inventory -> findings."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from auditor.filetree import FileTree, squash_layers
from auditor.model.findings import Finding
from auditor.model.image import HistoryEntry, Image, Skipped
from auditor.read.progress import Progress
from auditor.read.wants import NOTHING, ContentWants
from auditor.sources import open_image
from auditor.sources.common import ScanOptions

if TYPE_CHECKING:
    from auditor.inventory import Inventory

# The detectors, catalogers and closure are imported where they are first needed: a scan
# starts its reading (the engine's save, the digest checks) before it loads them.


@dataclass
class AuditResult:
    image: Image
    tree: FileTree
    inventory: Inventory
    history: list[HistoryEntry | None]
    findings: list[Finding] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def scan_wants() -> ContentWants:
    """Everything the detectors and catalogers will read, known before the first byte."""
    from auditor.closure.compute import CLOSURE_WANTS
    from auditor.detectors import detector_wants
    from auditor.inventory import inventory_wants

    return ContentWants(detector_wants() + inventory_wants() + list(CLOSURE_WANTS))


def read_tree(source: str, *, platform: str | None = None, progress: Progress | None = None,
              wants: ContentWants = NOTHING, verify: bool | None = None
              ) -> tuple[Image, FileTree]:
    image = open_image(source, ScanOptions(wants, platform, progress, verify=verify,
                                           defer_checks=True))
    tree = squash_layers(image.layers)  # while the layer digests are checked
    image.wait_checks()
    return image, tree


def audit_image(image: Image, tree: FileTree, detect: bool = True) -> AuditResult:
    from auditor.detectors import ScanContext, run_detectors
    from auditor.detectors.secrets import redact_instruction
    from auditor.inventory import build_inventory

    inventory = build_inventory(tree)
    history = image.config.layer_history(len(image.layers))
    # Reports show each layer's instruction: never a secret that a RUN or ENV recorded.
    shown = [replace(h, created_by=redact_instruction(h.created_by)) if h is not None else None
             for h in history]
    result = AuditResult(image, tree, inventory, shown,
                         skipped=[*image.skipped, *tree.skipped, *inventory.skipped])
    if detect:
        ctx = ScanContext(image, tree, inventory, history, redact=redact_instruction)
        result.findings = run_detectors(ctx, result.skipped)
    return result


def audit(source: str, *, platform: str | None = None, progress: Progress | None = None,
          detect: bool = True, verify: bool | None = None) -> AuditResult:
    wants = scan_wants if detect else NOTHING  # made once the source has started reading
    image = open_image(source, ScanOptions(wants, platform, progress, verify=verify,
                                           defer_checks=True))
    # Layer digests are checked in the background while the tree is squashed and audited;
    # a mismatch is raised here, before anything is reported.
    result = audit_image(image, squash_layers(image.layers), detect)
    image.wait_checks()
    return result

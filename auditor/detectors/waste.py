"""Wasted space: bytes one layer wrote that a later layer deleted or overwrote."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator

from auditor.detectors import ScanContext, detector
from auditor.filetree import WastedCopy
from auditor.history import created_by_text
from auditor.model.evidence import Evidence, LayerStep
from auditor.model.findings import Finding, Rule
from auditor.model.text import human_bytes, shorten

WASTE = Rule("AUD-WASTE", "wasted-space", "low", "Bytes written by one layer and removed by "
             "a later one", fix="Delete files in the same RUN that creates them, or build in "
             "a separate stage and copy only the result into the final image.")
MIN_BYTES = 1024
# Editing a file (useradd on /etc/passwd, dpkg on its status file) always leaves the old
# copy behind; below this, a pair that only overwrote is the price of any change, not waste.
MIN_OVERWRITE_BYTES = 16 * 1024
MEDIUM_FROM = 10_000_000
AREA_DEPTH = 4  # /var/lib/apt/lists, /usr/share/doc/curl: deep enough to say what it was
SHOWN_AREAS = 5

# Where waste usually comes from: what to call it, and what to do about it.
KNOWN_AREAS = (
    ("/var/lib/apt/lists", "apt lists from `apt-get update`",
     "Remove the apt lists in the RUN that downloads them (`&& rm -rf /var/lib/apt/lists/*`)."),
    ("/var/cache/apt", "apt's caches", "Run `apt-get clean` in the RUN that installs."),
    ("/var/cache/apk", "apk's cache", "Use `apk add --no-cache`."),
    ("/root/.cache", "a build cache",
     "Clean the cache in the RUN that fills it, or use a BuildKit cache mount."),
)
PURGED = ("packages installed, then removed",
          "Install, use and purge build-only packages in a single RUN, or use a build stage.")
_PURGE = re.compile(r"\b(?:apt-get|apt|apk|dnf|yum)\s+(?:-\S+\s+)*(?:purge|remove|del)\b")


def size_text(n: int) -> str:
    return human_bytes(n)


def instruction_text(created_by: str | None) -> str:
    """An instruction as it was written, shortened for a message."""
    return shorten(created_by_text(created_by) if created_by else "no history", 100)


def area_of(path: str) -> str:
    parts = path.split("/")
    return "/".join(parts[:AREA_DEPTH + 1]) if len(parts) > AREA_DEPTH + 1 else path


def summarize(copies: Iterable[WastedCopy]) -> list[tuple[str, int, int]]:
    """(area, bytes, files), largest first."""
    sizes: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for c in copies:
        entry = sizes[area_of(c.path)]
        entry[0] += c.size
        entry[1] += 1
    return sorted(((a, b, n) for a, (b, n) in sizes.items()), key=lambda t: (-t[1], t[0]))


@detector(WASTE)
def detect(ctx: ScanContext) -> Iterator[Finding]:
    """Wasted space: bytes a layer wrote that a later layer deleted or replaced.

    Layers only add. A file deleted by a later RUN is hidden by a whiteout, and a file
    rewritten by a later RUN is stored again, but the first copy still sits in its layer:
    every pull downloads it and every host stores it. The classic case is
    ``RUN apt-get update && apt-get install ...`` followed by a separate
    ``RUN rm -rf /var/lib/apt/lists/*`` (or ``apt-get purge``): the lists and the packages
    are gone from the container's view but not from the image.

    One finding per pair of layers (the one that wrote, the one that deleted or overwrote),
    naming the places the bytes were under and both instructions; pairs under 1 KiB are not
    reported, nor pairs under 16 KiB that only rewrote files (editing ``/etc/passwd`` in a
    later RUN always keeps the old copy: the price of any change, not a mistake). Severity
    is medium from 10 MB, low below. Every finding's evidence also gives
    the whole image's figures: ``wasted_bytes`` (every copy that did not survive) and
    ``dive_wasted_bytes`` (as the dive tool counts: every version of a path written more than
    once, the surviving copy included).

    Fix: delete in the same RUN that creates (``&& rm -rf ...`` at its end), install and
    purge build-only packages in one RUN, or build in a separate stage and copy only the
    result into the final one.
    """
    pairs: dict[tuple[int, int], list[WastedCopy]] = defaultdict(list)
    for copy in ctx.tree.wasted:
        pairs[(copy.layer, copy.by_layer)].append(copy)
    image = {"wasted_bytes": ctx.tree.wasted_bytes,
             "dive_wasted_bytes": ctx.tree.dive_wasted_bytes}
    ranked = sorted(pairs.items(), key=lambda kv: -sum(c.size for c in kv[1]))
    for (writer, remover), copies in ranked:
        size = sum(c.size for c in copies)
        only_overwritten = not any(c.removed for c in copies)
        if size < MIN_BYTES or (only_overwritten and size < MIN_OVERWRITE_BYTES):
            continue
        yield _finding(ctx, writer, remover, copies, size, image)


def _finding(ctx: ScanContext, writer: int, remover: int, copies: list[WastedCopy],
             size: int, image: dict[str, int]) -> Finding:
    areas = summarize(copies)
    deleted = sum(c.size for c in copies if c.removed)
    verb = ("deleted" if deleted == size else "overwrote" if deleted == 0
            else "deleted or overwrote")
    shown = ", ".join(f"{a} ({size_text(b)})" for a, b, _ in areas[:SHOWN_AREAS])
    more = len(areas) - SHOWN_AREAS
    wrote_by, removed_by = ctx.created_by(writer), ctx.created_by(remover)
    notes = [(label, advice) for prefix, label, advice in KNOWN_AREAS
             if any(a == prefix or a.startswith(prefix + "/") for a, _, _ in areas)]
    if removed_by and _PURGE.search(removed_by):
        notes.append(PURGED)
    message = (f"layer {writer} ({instruction_text(wrote_by)}) wrote {size_text(size)} that "
               f"layer {remover} ({instruction_text(removed_by)}) {verb}: {shown}"
               + (f" and {more} more" if more > 0 else ""))
    if notes:
        message += " (" + "; ".join(label for label, _ in notes) + ")"
    fix = " ".join(advice for _, advice in notes) or None
    return ctx.finding(
        WASTE, message, layer=writer, size=size, fix=fix,
        claim=[(c.layer, c.path, c.size) for c in copies],
        severity="medium" if size >= MEDIUM_FROM else "low",
        evidence=Evidence.of(
            subject=f"{instruction_text(wrote_by)} -> {instruction_text(removed_by)}",
            written_by=LayerStep(writer, wrote_by),
            removed_by=LayerStep(remover, removed_by),
            deleted_bytes=deleted, overwritten_bytes=size - deleted,
            files=len(copies),
            areas=[{"path": a, "bytes": b, "files": n} for a, b, n in areas[:20]],
            image=image,
        ))

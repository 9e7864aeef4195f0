"""Every byte belongs to one finding in the totals.

Two concerns often see the same files: the apt lists a RUN left behind are an apt cache
(``AUD-CACHE``) and that RUN's hygiene finding (``AUD-APT-LISTS-KEPT``); BusyBox is a
shell, a network tool and a package manager at once; rustc and cargo share one tree. Each
finding keeps the bytes it is about (what removing that one thing saves), and the pass
here marks, on the later of two findings, the bytes the earlier one already counts, so
that totals (``own_bytes``) add each file copy once.

Which finding owns shared bytes: the one whose concern the bytes are most directly about,
in ``CATEGORY_ORDER`` (a cache before the RUN that left it, a deleted copy's wasted space
before the RUN that wrote it), then the more severe, then the larger.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from auditor.model.findings import SEVERITY_RANK, Finding, Overlap

CATEGORY_ORDER = ("cache", "wasted-space", "compiler", "package-manager", "shell",
                  "network-tool", "leftover-source", "secret", "setuid", "root-user", "config")


def _precedence(f: Finding) -> tuple[int, int, int, str, str]:
    rank = CATEGORY_ORDER.index(f.category) if f.category in CATEGORY_ORDER else 99
    return (rank, -SEVERITY_RANK[f.severity], -f.bytes, f.rule_id, f.path or "")


def mark_overlaps(findings: Iterable[Finding]) -> list[Finding]:
    """``findings`` in their order, each with the overlaps its claim has with the claims
    of findings that take precedence over it."""
    found = list(findings)
    owner: dict[tuple[int, str], int] = {}  # copy -> index of the finding it belongs to
    overlaps: dict[int, list[Overlap]] = {}
    for i in sorted(range(len(found)), key=lambda i: _precedence(found[i])):
        f = found[i]
        shared: dict[int, int] = {}
        for layer, path, size in f.claim:
            first = owner.setdefault((layer, path), i)
            if first != i:
                shared[first] = shared.get(first, 0) + size
        left = f.bytes
        for j in sorted(shared, key=lambda j: -shared[j]):
            take = min(shared[j], left)
            if take > 0:
                other = found[j]
                overlaps.setdefault(i, []).append(
                    Overlap(other.fingerprint, other.rule_id, other.path, take))
                left -= take
    return [replace(f, overlaps=tuple(overlaps[i])) if i in overlaps else f
            for i, f in enumerate(found)]


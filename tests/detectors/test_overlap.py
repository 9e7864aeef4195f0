"""Every byte belongs to one finding in the totals: overlaps between concerns are marked."""

from __future__ import annotations

from auditor.detectors import run_detectors
from auditor.detectors._overlap import mark_overlaps
from auditor.model.findings import Finding
from auditor.model.image import Skipped
from tests.detectors.configkit import context_of
from tests.layerkit import F, L, Spec, W

LISTS = "/var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages"
DEB = "/var/cache/apt/archives/curl_7.88.1-10_amd64.deb"
INSTALL = "/bin/sh -c apt-get update && apt-get install -y --no-install-recommends curl"


def _scan(*layers: list[Spec], history: list[str]) -> list[Finding]:
    skipped: list[Skipped] = []
    found = run_detectors(context_of(*layers, history=history), skipped)
    assert not [s for s in skipped if s.where.startswith("detector")], skipped
    return found


def _one(found: list[Finding], rule_id: str) -> Finding:
    hits = [f for f in found if f.rule_id == rule_id]
    assert len(hits) == 1, [(f.rule_id, f.path) for f in found]
    return hits[0]


def test_apt_lists_left_by_a_run_count_once_under_cache() -> None:
    found = _scan([F(LISTS, b"p" * 50_000)], history=[INSTALL])
    cache, kept = _one(found, "AUD-CACHE"), _one(found, "AUD-APT-LISTS-KEPT")
    assert cache.bytes == kept.bytes == 50_000
    assert cache.overlaps == () and cache.own_bytes == 50_000
    assert [(o.rule_id, o.path, o.bytes) for o in kept.overlaps] == [
        ("AUD-CACHE", "/var/lib/apt/lists", 50_000)]
    assert kept.overlaps[0].fingerprint == cache.fingerprint
    assert kept.own_bytes == 0
    by_category: dict[str, int] = {}
    for f in found:
        by_category[f.category] = by_category.get(f.category, 0) + f.own_bytes
    assert by_category["cache"] == 50_000 and by_category.get("config", 0) == 0
    assert kept.to_json()["overlaps"] == [{"fingerprint": cache.fingerprint,
                                           "rule_id": "AUD-CACHE",
                                           "path": "/var/lib/apt/lists", "bytes": 50_000}]


def test_downloaded_debs_are_the_debs_and_not_pkgcache_bin() -> None:
    found = _scan([F(DEB, b"d" * 3000), F("/var/cache/apt/pkgcache.bin", b"c" * 70_000),
                   F("/var/cache/apt/srcpkgcache.bin", b"s" * 8000)], history=[INSTALL])
    debs = _one(found, "AUD-APT-CACHE-KEPT")
    assert debs.bytes == 3000 and debs.evidence["files"] == 1
    caches = {f.path: f.bytes for f in found if f.rule_id == "AUD-CACHE"}
    assert caches == {"/var/cache/apt/archives": 3000, "/var/cache/apt/pkgcache.bin": 78_000}
    assert sum(f.own_bytes for f in found) == 81_000  # every byte once


def test_deleted_lists_are_wasted_space_and_the_run_overlaps_it() -> None:
    found = _scan([F(LISTS, b"p" * 40_000)], [W("/var/lib/apt/lists")],
                  history=[INSTALL, "/bin/sh -c rm -rf /var/lib/apt/lists"])
    waste, kept = _one(found, "AUD-WASTE"), _one(found, "AUD-APT-LISTS-KEPT")
    assert waste.bytes == 40_000 and waste.own_bytes == 40_000
    assert [(o.rule_id, o.bytes) for o in kept.overlaps] == [("AUD-WASTE", 40_000)]
    assert not [f for f in found if f.rule_id == "AUD-CACHE"]


def test_busybox_is_counted_once_over_its_three_findings() -> None:
    applets = ["sh", "ash", "wget", "nc", "dpkg", "ls", "cat", "cp", "mv", "rm", "mkdir",
               "echo", "sed", "grep", *(f"a{i}" for i in range(20))]
    layer: list[Spec] = [F("/bin/busybox", b"\x7fELF" + b"\0" * 5000, mode=0o755),
             *(L(f"/bin/{a}", "busybox") for a in applets)]
    found = [f for f in _scan(layer, history=["ADD rootfs.tar /"])
             if f.path == "/bin/busybox"]
    assert len(found) >= 3
    assert sum(f.own_bytes for f in found) == 5004
    assert sum(1 for f in found if not f.overlaps) == 1


def test_findings_without_a_claim_keep_their_bytes() -> None:
    plain = Finding("AUD-X", "config", "low", "t", "m", bytes=10)
    other = Finding("AUD-Y", "cache", "low", "t", "m", bytes=10)
    assert [f.own_bytes for f in mark_overlaps([plain, other])] == [10, 10]


def test_overlap_never_exceeds_the_findings_bytes() -> None:
    copies = frozenset({(0, "/a", 100), (0, "/b", 100)})
    big = Finding("AUD-A", "cache", "low", "t", "m", path="/a", bytes=200, claim=copies)
    # a finding whose bytes are a package's recorded size, smaller than its files
    small = Finding("AUD-B", "config", "low", "t", "m", path="/b", bytes=150, claim=copies)
    _, marked = mark_overlaps([big, small])
    assert sum(o.bytes for o in marked.overlaps) == 150 and marked.own_bytes == 0

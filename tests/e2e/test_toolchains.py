"""Real images from the engine: the Go modules of real Go binaries, and every byte counted
once in the totals of images that carry apt's caches."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

pytestmark = pytest.mark.engine


def _golang(result: Any, path: str) -> dict[str, str]:
    return {p.name: p.version for p in result.inventory.packages
            if p.ecosystem == "golang" and p.location == path}


def test_a_static_go_binary_on_scratch_lists_its_module_and_go(audited: Any) -> None:
    result = audited("auditor-fixture/go-multi-scratch:latest")
    modules = _golang(result, "/hello")
    assert modules == {"stdlib": "1.19.8", "example.com/hello": "(devel)"}
    [pkg] = [p for p in result.inventory.packages if p.name == "stdlib"]
    assert pkg.arch == "amd64" and pkg.version_from == "Go build info"


def test_debians_go_command_is_a_go_binary_its_package_owns(audited: Any) -> None:
    result = audited("auditor-fixture/toolchain:latest")
    real = result.tree.resolve("/usr/bin/go")
    assert real is not None and real.startswith("/usr/lib/go-")
    assert _golang(result, real)["stdlib"].startswith("1.19")
    # the packaged toolchain is also a runtime, its release read from the go command
    [go_runtime] = [p for p in result.inventory.packages if p.ecosystem == "runtime"
                    and p.name == "go"]
    assert go_runtime.version.startswith("1.19") and go_runtime.location == real[:-7]
    [go] = [f for f in result.findings if f.rule_id == "AUD-COMPILER"
            and f.evidence["tool"] == "go"]
    assert go.package is not None and "install_tree" not in go.evidence


def test_a_saved_archive_read_by_random_access_gives_the_same_modules(
        audited: Any, saved_images: Any) -> None:
    from auditor.audit import scan

    image = "auditor-fixture/toolchain:latest"
    streamed = {(p.location, p.name, p.version) for p in audited(image).inventory.packages
                if p.ecosystem == "golang"}
    mapped = {(p.location, p.name, p.version)
              for p in scan(f"docker-archive:{saved_images(image)}").inventory.packages
              if p.ecosystem == "golang"}
    assert streamed and streamed == mapped


@pytest.mark.parametrize("image", ["auditor-fixture/trouble:latest",
                                   "auditor-fixture/c-single:latest"])
def test_every_byte_counts_once_in_the_totals(audited: Any, image: str) -> None:
    result = audited(image)
    copies: Counter[tuple[int, str]] = Counter()
    sizes: dict[tuple[int, str], int] = {}
    for f in result.findings:
        for layer, path, size in f.claim:
            copies[(layer, path)] += 1
            sizes[(layer, path)] = size
    shared = [key for key, n in copies.items() if n > 1]
    # what the findings count of the file copies they claim adds up to each copy once (a
    # package's recorded size may exceed the files it has left: that surplus is its own)
    claimed = [f for f in result.findings if f.claim]
    counted = sum(min(f.bytes, sum(size for _, _, size in f.claim))
                  - sum(o.bytes for o in f.overlaps) for f in claimed)
    assert counted <= sum(sizes.values())
    assert sum(f.bytes for f in claimed) > sum(f.own_bytes for f in claimed)  # overlaps seen
    for f in claimed:
        assert sum(o.bytes for o in f.overlaps) <= f.bytes
    fingerprints = {f.fingerprint for f in result.findings}
    assert all(o.fingerprint in fingerprints for f in result.findings for o in f.overlaps)
    assert shared and all(any(f.overlaps for f in result.findings if (layer, path) in
                              {(c[0], c[1]) for c in f.claim}) for layer, path in shared)


def test_apt_caches_are_not_counted_under_cache_and_again_under_config(audited: Any) -> None:
    result = audited("auditor-fixture/trouble:latest")
    kept = [f for f in result.findings if f.rule_id in ("AUD-APT-LISTS-KEPT",
                                                        "AUD-APT-CACHE-KEPT")]
    assert kept, "the trouble image's first RUN keeps apt's lists and .debs in its layer"
    for f in kept:
        assert f.overlaps and f.own_bytes == 0, (f.rule_id, f.bytes, f.overlaps)
        assert {o.rule_id for o in f.overlaps} <= {"AUD-CACHE", "AUD-WASTE"}
    debs = [f for f in kept if f.rule_id == "AUD-APT-CACHE-KEPT"]
    for f in debs:  # downloaded .debs are the .debs: pkgcache.bin is not one
        assert all(path.endswith(".deb") for _, path, _ in f.claim)
    config = sum(f.own_bytes for f in result.findings if f.category == "config")
    assert config < sum(f.bytes for f in kept)

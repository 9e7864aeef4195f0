from __future__ import annotations

import pytest

from auditor.detectors import caches
from auditor.detectors.caches import CACHE, cache_roots, detect
from auditor.history import RunMount
from auditor.model.findings import Finding
from auditor.model.image import ImageConfig
from tests.detectors.configkit import context_of
from tests.layerkit import D, F, L, Spec, W

DEB = b"!<arch>\n" + b"d" * 2000


def scan(*layers: list[Spec], env: tuple[str, ...] = ()) -> list[Finding]:
    return list(detect(context_of(*layers, config=ImageConfig(env=env))))


def summary(found: list[Finding]) -> list[tuple[str | None, int, int]]:
    return [(f.path, f.bytes, f.evidence["files"]) for f in found]


@pytest.mark.parametrize("layers, expected", [
    pytest.param([[D("/var/lib/apt/lists/partial"), F("/var/lib/apt/lists/lock"),
                   F("/var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease",
                     "x" * 300),
                   F("/var/lib/apt/lists/deb.debian.org_Packages.lz4", "y" * 700)]],
                 [("/var/lib/apt/lists", 1000, 2)], id="apt-lists-without-lock"),
    pytest.param([[D("/var/lib/apt/lists/partial"), F("/var/lib/apt/lists/lock"),
                   F("/var/lib/apt/lists/partial/half", "z")]], [],
                 id="apt-lists-bookkeeping-only"),
    pytest.param([[F("/var/cache/apt/archives/curl_7.88_amd64.deb", DEB),
                   F("/var/cache/apt/archives/lock"), D("/var/cache/apt/archives/partial")]],
                 [("/var/cache/apt/archives", len(DEB), 1)], id="apt-debs"),
    pytest.param([[F("/var/cache/apt/pkgcache.bin", "p" * 100),
                   F("/var/cache/apt/srcpkgcache.bin", "s" * 50)]],
                 [("/var/cache/apt/pkgcache.bin", 150, 2)], id="apt-binary-caches"),
    pytest.param([[F("/var/cache/apk/APKINDEX.abc.tar.gz", "i" * 40)]],
                 [("/var/cache/apk", 40, 1)], id="apk-index"),
    pytest.param([[F("/root/.cache/pip/http/a/b/c", "w" * 10),
                   F("/home/dev/.cache/pip/wheels/x.whl", "w" * 20)]],
                 [("/root/.cache/pip", 10, 1), ("/home/dev/.cache/pip", 20, 1)],
                 id="pip-in-every-home"),
    pytest.param([[F("/root/.npm/_cacache/index-v5/aa/bb", "n" * 5),
                   F("/usr/local/share/.cache/yarn/v6/pkg/x", "y" * 6)]],
                 [("/usr/local/share/.cache/yarn", 6, 1), ("/root/.npm/_cacache", 5, 1)],
                 id="npm-and-global-yarn"),
    pytest.param([[F("/root/.cache/go-build/ab/abcdef-a", "g" * 8),
                   F("/root/go/pkg/mod/cache/download/x.zip", "m" * 9),
                   F("/root/.m2/repository/org/x.jar", "j" * 3),
                   F("/root/.gradle/caches/modules-2/x", "k" * 4),
                   F("/root/.cargo/registry/cache/x.crate", "c" * 2)]],
                 [("/root/.cache/go-build", 8, 1), ("/root/go/pkg/mod", 9, 1),
                  ("/root/.m2/repository", 3, 1), ("/root/.gradle/caches", 4, 1),
                  ("/root/.cargo/registry", 2, 1)], id="build-tool-caches"),
    pytest.param([[D("/root/.cache/pip"), D("/var/cache/apt/archives/partial")]], [],
                 id="empty-caches"),
    pytest.param([[F("/root/.cache/pip/x", "w" * 10)], [W("/root/.cache/pip")]], [],
                 id="deleted-later"),
], )
def test_caches_are_one_finding_each_with_bytes_and_files(layers, expected):
    found = scan(*layers)
    assert summary(found) == expected
    assert {f.rule_id for f in found} <= {CACHE.id}
    assert all(f.category == "cache" for f in found)


def test_go_caches_follow_the_image_env():
    found = scan([F("/tmp/gocache/00/x-a", "a" * 7), F("/go/pkg/mod/cache/y", "b" * 3),
                  F("/root/.cache/go-build/zz", "c")],
                 env=("GOCACHE=/tmp/gocache", "GOPATH=/go"))
    assert summary(found) == [("/root/.cache/go-build", 1, 1), ("/tmp/gocache", 7, 1),
                              ("/go/pkg/mod", 3, 1)]


def test_gocache_off_is_not_a_place():
    assert scan([F("/off/x", "a")], env=("GOCACHE=off",)) == []


def test_homes_come_from_etc_passwd_too():
    passwd = "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/srv/app:/bin/sh\n"
    found = scan([F("/etc/passwd", passwd), F("/srv/app/.cache/pip/x", "p" * 4)])
    assert summary(found) == [("/srv/app/.cache/pip", 4, 1)]


def test_a_symlinked_cache_is_reported_once_at_its_real_place():
    found = scan([F("/var/cache/apk/APKINDEX.tar.gz", "i" * 5), D("/etc/apk"),
                  L("/etc/apk/cache", "/var/cache/apk")])
    assert summary(found) == [("/var/cache/apk", 5, 1)]


def test_severity_grows_with_size(monkeypatch):
    monkeypatch.setattr(caches, "MEDIUM_FROM", 100)
    found = scan([F("/root/.cache/pip/big", "b" * 100), F("/home/u/.cache/pip/small", "s")])
    assert [(f.path, f.severity) for f in found] == [("/root/.cache/pip", "medium"),
                                                     ("/home/u/.cache/pip", "low")]


def test_the_finding_names_the_layer_that_wrote_most_and_the_cache_fix():
    found = scan([F("/root/.cache/pip/a", "a")], [F("/root/.cache/pip/b", "b" * 50)])
    assert found[0].layer == 1
    assert found[0].evidence["bytes_by_layer"] == {"0": 1, "1": 50}
    assert "--no-cache-dir" in found[0].fix


def test_cache_roots_lists_the_directories_for_other_detectors():
    ctx = context_of([F("/root/.cache/go-build/x", "x"), D("/root/.m2/repository")])
    assert set(cache_roots(ctx)) == {"/root/.cache/go-build", "/root/.m2/repository"}


# -- cache mounts: the right way ------------------------------------------------------------

PIP_MOUNT = "/bin/sh -c --mount=type=cache,target=/root/.cache/pip pip install flask"


def test_files_in_a_cache_the_run_mounted_are_not_reported():
    """buildah records the mount in the history; what the RUN's layer holds under it is
    the mount's, not the image's (BuildKit leaves an empty mount point at most)."""
    ctx = context_of([F("/root/.cache/pip/http/a", "w" * 10)],
                     history=[PIP_MOUNT])
    assert list(detect(ctx)) == []


def test_a_layer_that_wrote_the_same_cache_without_the_mount_is_still_reported():
    ctx = context_of([D("/root/.cache/pip")],
                     [F("/root/.cache/pip/http/b", "w" * 20)],
                     history=[PIP_MOUNT, "/bin/sh -c pip install requests"])
    [found] = list(detect(ctx))
    assert (found.path, found.bytes, found.layer) == ("/root/.cache/pip", 20, 1)


def test_the_dockerfiles_mounts_count_when_the_history_has_none():
    layers = ([F("/root/.cache/pip/http/a", "w" * 10)], [F("/root/.cache/go-build/x", "g")])
    history = ["RUN /bin/sh -c pip install flask # buildkit", "RUN /bin/sh -c go build # buildkit"]
    assert [f.path for f in detect(context_of(*layers, history=history))] == [
        "/root/.cache/pip", "/root/.cache/go-build"]
    ctx = context_of(*layers, history=history)
    ctx.dockerfile_mounts = {0: (RunMount("cache", "/root/.cache/pip"),)}
    assert [f.path for f in detect(ctx)] == ["/root/.cache/go-build"]

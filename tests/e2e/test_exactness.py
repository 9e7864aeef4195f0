"""The squashed tree against the real runtime, and every source against the others.

For each fixture image: the tree equals what ``docker export`` of a created container
holds (paths, types, sizes, modes, owners, link targets), and the engine, ``docker save``,
and skopeo-made OCI layouts and archives (gzip and zstd) all give the identical tree.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
from typing import Any

import pytest

from auditor.audit import read_tree
from auditor.read.prefetch import PrefetchReader
from tests.conftest import fixture_names

pytestmark = pytest.mark.engine

# What the engine itself puts into every container's filesystem.
ENGINE_ADDED = {"/.dockerenv", "/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/dev",
                "/proc", "/sys", "/etc/mtab", "/dev/console", "/dev/pts", "/dev/shm"}
SMALL = ["busybox-app", "c-multi-scratch", "go-multi-scratch", "c-multi-slim", "trouble"]


def tree_listing(tree: Any) -> dict[str, tuple[Any, ...]]:
    out = {}
    for n in tree:
        kind = "file" if n.kind == "hardlink" else n.kind
        link = n.link if n.kind == "symlink" else None
        out[n.path] = (kind, n.mode & 0o7777, n.uid, n.gid, n.size if kind == "file" else 0,
                       link)
    return out


def export_listing(engine: Any, image: str) -> dict[str, tuple[Any, ...]]:
    container = engine.containers.create(image, network_mode="none")
    try:
        reader = PrefetchReader(iter(container.export(chunk_size=1 << 20)))
        out: dict[str, tuple[Any, ...]] = {}
        sizes: dict[str, int] = {}
        with tarfile.open(fileobj=reader, mode="r|") as tf:  # type: ignore[arg-type]
            for m in tf:
                path = "/" + m.name.strip("/").removeprefix("./") if m.name not in (".", "./") \
                    else "/"
                if path == "/" or path in ENGINE_ADDED or path.startswith(("/dev/", "/proc/",
                                                                             "/sys/")):
                    continue
                if m.islnk():
                    target = "/" + m.linkname.strip("/")
                    out[path] = ("file", m.mode & 0o7777, m.uid, m.gid, sizes.get(target, 0),
                                 None)
                    continue
                kind = ("dir" if m.isdir() else "symlink" if m.issym() else "file" if m.isfile()
                        else "char" if m.ischr() else "block" if m.isblk() else "fifo")
                if kind == "file":
                    sizes[path] = m.size
                out[path] = (kind, m.mode & 0o7777, m.uid, m.gid, m.size if kind == "file" else 0,
                             m.linkname if kind == "symlink" else None)
        reader.close()
        return out
    finally:
        container.remove(force=True)


@pytest.mark.parametrize("name", fixture_names())
def test_tree_equals_what_the_runtime_exports(engine, audited, name):
    image = f"auditor-fixture/{name}:latest"
    tree = audited(image).tree
    # /dev, /proc and /sys are mounts in a container: what the image has under them is hidden
    ours = {p: v for p, v in tree_listing(tree).items()
            if p not in ENGINE_ADDED and not p.startswith(("/dev/", "/proc/", "/sys/"))}
    theirs = export_listing(engine, image)
    if "/etc" not in ours:  # the engine makes /etc to hold /etc/hosts and friends
        theirs.pop("/etc", None)
    only_ours = sorted(set(ours) - set(theirs))
    only_theirs = sorted(set(theirs) - set(ours))
    assert not only_ours and not only_theirs, (only_ours[:10], only_theirs[:10])
    differ = [(p, ours[p], theirs[p]) for p in ours if ours[p] != theirs[p]]
    assert not differ, differ[:10]


@pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed")
@pytest.mark.parametrize("name", SMALL)
def test_every_source_gives_the_identical_tree(engine, audited, saved_images, tmp_path, name):
    image = f"auditor-fixture/{name}:latest"
    archive = saved_images(image)
    oci_gzip = tmp_path / "oci-gzip"
    oci_zstd = tmp_path / "oci-zstd.tar"
    subprocess.run(["skopeo", "copy", "-q", f"docker-archive:{archive}", f"oci:{oci_gzip}:latest"],
                   check=True)
    subprocess.run(["skopeo", "copy", "-q", "--dest-compress-format", "zstd",
                    f"docker-archive:{archive}", f"oci-archive:{oci_zstd}:latest"], check=True)
    reference = tree_listing(audited(image).tree)
    for source in (str(archive), f"docker-archive:{archive}", f"oci-dir:{oci_gzip}",
                   f"oci-archive:{oci_zstd}"):
        _img, tree = read_tree(source)
        assert tree_listing(tree) == reference, source
    # every layer hashed, from the engine's stream and from the archive: the same tree,
    # and digests that are the config's diff_ids
    for source in (image, f"docker-archive:{archive}"):
        img, tree = read_tree(source, verify=True)
        assert tree_listing(tree) == reference, source
        assert [scan.digest for scan in img.layers] == list(img.config.diff_ids), source
    media = {scan.media_type for scan in read_tree(f"oci-archive:{oci_zstd}")[0].layers}
    assert media == {"application/vnd.oci.image.layer.v1.tar+zstd"}

"""The registry source against a real registry (distribution 2.8) on 127.0.0.1.

The tree read from the registry equals the tree read from the archive that was pushed,
for Docker v2 schema 2 and OCI manifests, gzip and zstd layers; an index picks by
--platform and skips attestations; tampered blobs and manifests are refused; a registry
that stops mid-blob, unknown names and platforms are each one line and exit 2.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import struct
import zlib
from collections.abc import Callable
from typing import Any

import pytest

from auditor.audit import read_tree
from auditor.cli import main
from tests.e2e.test_exactness import tree_listing
from tests.registry.kit import Registry
from tests.registry.proxy import proxied

LIST_TYPE = "application/vnd.docker.distribution.manifest.list.v2+json"
V2S2 = "application/vnd.docker.distribution.manifest.v2+json"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize(("name", "fmt", "compress"), [
    ("busybox-app", "v2s2", None),  # skopeo's default: gzip
    ("busybox-app", "oci", "zstd"),
    ("c-multi-slim", "oci", "gzip"),
    ("c-multi-slim", "v2s2", "gzip"),
], ids=lambda v: str(v))
def test_tree_from_the_registry_equals_the_archive(request: pytest.FixtureRequest,
                                                   archive: Any, name: str, fmt: str,
                                                   compress: str | None) -> None:
    registry = request.getfixturevalue("zstd_registry" if compress == "zstd"
                                       else "plain_registry")
    path = archive(name)
    source = registry.push(path, f"{name}:{fmt}-{compress}", fmt, compress)
    image, tree = read_tree(source)
    ref_image, ref_tree = read_tree(f"docker-archive:{path}")
    assert tree_listing(tree) == tree_listing(ref_tree)
    assert image.source == "registry"
    assert [s.digest for s in image.layers] == list(ref_image.config.diff_ids)
    expected = {"zstd": "zstd", "gzip": "gzip", None: "gzip"}[compress]
    assert {s.media_type.rsplit("+", 1)[-1].rsplit(".", 1)[-1] for s in image.layers} == \
        {expected}


def _index(registry: Registry, archive: Callable[[str], str]) -> str:
    """multi:latest, an index of busybox-app (amd64) and go-multi-scratch (arm64), with
    an attestation entry that claims linux/amd64 listed first: skipping it is what
    makes the amd64 choice the busybox image."""
    registry.push(archive("busybox-app"), "multi:amd64")
    registry.push(archive("go-multi-scratch"), "multi:arm64")
    entries = []
    amd, amd_digest = registry.manifest("multi", "amd64")
    arm, arm_digest = registry.manifest("multi", "arm64")
    entries.append({"mediaType": V2S2, "digest": arm_digest, "size": len(arm),
                    "platform": {"os": "linux", "architecture": "amd64"},
                    "annotations": {"vnd.docker.reference.type": "attestation-manifest",
                                    "vnd.docker.reference.digest": amd_digest}})
    entries.append({"mediaType": V2S2, "digest": arm_digest, "size": len(arm),
                    "platform": {"os": "unknown", "architecture": "unknown"}})
    entries.append({"mediaType": V2S2, "digest": amd_digest, "size": len(amd),
                    "platform": {"os": "linux", "architecture": "amd64"}})
    entries.append({"mediaType": V2S2, "digest": arm_digest, "size": len(arm),
                    "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}})
    body = json.dumps({"schemaVersion": 2, "mediaType": LIST_TYPE, "manifests": entries})
    status, _headers, answer = registry.api(
        "PUT", "/v2/multi/manifests/latest", body.encode(), {"Content-Type": LIST_TYPE})
    assert status == 201, answer
    return "sha256:" + hashlib.sha256(body.encode()).hexdigest()


def test_an_index_picks_the_platform_and_skips_attestations(
        plain_registry: Registry, archive: Any, capsys: pytest.CaptureFixture[str]) -> None:
    index_digest = _index(plain_registry, archive)
    host = plain_registry.host
    _i, busybox = read_tree(f"docker-archive:{archive('busybox-app')}")
    _i, go = read_tree(f"docker-archive:{archive('go-multi-scratch')}")
    _i, default = read_tree(f"registry:{host}/multi:latest")
    assert tree_listing(default) == tree_listing(busybox)
    _i, arm = read_tree(f"registry:{host}/multi:latest", platform="linux/arm64")
    assert tree_listing(arm) == tree_listing(go)
    _i, pinned = read_tree(f"registry:{host}/multi@{index_digest}", platform="linux/arm64")
    assert tree_listing(pinned) == tree_listing(go)
    code, _out, err = run(["ls", f"registry:{host}/multi:amd64", "--platform", "linux/arm64"],
                          capsys)
    assert code == 2 and "single-platform image for linux/amd64" in one_error_line(err)
    code, _out, err = run(["ls", f"registry:{host}/multi", "--platform", "linux/s390x"], capsys)
    line = one_error_line(err)
    assert code == 2 and "linux/s390x" in line and "linux/amd64" in line \
        and "linux/arm64/v8" in line


def test_unknown_repository_tag_and_digest(plain_registry: Registry, archive: Any,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    plain_registry.push(archive("busybox-app"), "busybox:v2s2-None")
    host = plain_registry.host
    cases = {f"registry:{host}/nothing-here:v1": "no repository 'nothing-here'",
             f"registry:{host}/busybox:no-such-tag": "no tag 'no-such-tag' (it has: ",
             f"registry:{host}/busybox@sha256:{'0' * 64}": "0" * 64}
    for source, needle in cases.items():
        code, _out, err = run(["ls", source], capsys)
        assert code == 2 and needle in one_error_line(err), (source, err)


def same_length_gzip(data: bytes, length: int) -> bytes:
    """A valid gzip of ``data`` exactly ``length`` bytes long (a file name pads it), so
    that only the digest, not the size, tells it from the blob it replaces."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = deflate.compress(data) + deflate.flush()
    pad = length - (10 + 1 + len(body) + 8)
    assert pad >= 0, "the recompressed layer is larger than the original"
    header = b"\x1f\x8b\x08\x08" + b"\0\0\0\0" + b"\x02\xff" + b"x" * pad + b"\0"
    trailer = struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)
    return header + body + trailer


def test_a_tampered_layer_is_refused(plain_registry: Registry, archive: Any,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    source = plain_registry.push(archive("c-multi-scratch"), "tamper-layer:v1")
    manifest, _digest = plain_registry.manifest("tamper-layer", "v1")
    layer = max(json.loads(manifest)["layers"], key=lambda d: d["size"])
    blob = plain_registry.blob_file(layer["digest"])
    original = blob.read_bytes()
    tar = bytearray(gzip.decompress(original))
    tar[2048] ^= 0xFF  # inside the first file's content: still a valid tar, other bytes
    blob.write_bytes(same_length_gzip(bytes(tar), len(original)))
    code, _out, err = run(["ls", source], capsys)
    line = one_error_line(err)
    assert code == 2 and layer["digest"] in line and "match" in line, line


def test_a_manifest_pinned_by_digest_is_checked(plain_registry: Registry, archive: Any,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    plain_registry.push(archive("c-multi-scratch"), "tamper-manifest:v1", "oci")
    raw, digest = plain_registry.manifest("tamper-manifest", "v1")
    blob = plain_registry.blob_file(digest)
    blob.write_bytes(raw.replace(b'"schemaVersion": 2', b'"schemaVersion":  2', 1)
                     if b'"schemaVersion": 2' in raw else raw.replace(b"2", b"2 ", 1))
    host = plain_registry.host
    code, _out, err = run(["ls", f"registry:{host}/tamper-manifest@{digest}"], capsys)
    line = one_error_line(err)
    assert code == 2 and "digest" in line and digest not in line.split("has digest")[-1], line


def test_a_registry_that_stops_mid_blob(plain_registry: Registry, archive: Any,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    plain_registry.push(archive("busybox-app"), "busybox:v2s2-None")
    with proxied(plain_registry, "cut") as proxy:
        code, _out, err = run(["scan", f"registry:{proxy.host}/busybox:v2s2-None"], capsys)
    line = one_error_line(err)
    assert code == 2 and "stopped mid-blob" in line, line


def test_a_registry_silent_past_the_timeout(plain_registry: Registry, archive: Any,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    plain_registry.push(archive("busybox-app"), "busybox:v2s2-None")
    with proxied(plain_registry, "stall") as proxy:
        code, _out, err = run(["ls", f"registry:{proxy.host}/busybox:v2s2-None",
                               "--timeout", "4"], capsys)  # ample for the manifest, loaded or not
    line = one_error_line(err)
    assert code == 2 and "stopped mid-blob" in line and "timed out" in line, line


class Bytes:
    """A Progress that adds up what it is told."""

    def __init__(self) -> None:
        self.total = 0
        self.seen = 0

    def __call__(self, nbytes: int) -> None:
        self.seen += nbytes

    def set_total(self, total: int) -> None:
        self.total = total


def test_progress_counts_the_bytes_from_the_registry(plain_registry: Registry,
                                                     archive: Any) -> None:
    source = plain_registry.push(archive("busybox-app"), "busybox:v2s2-None")
    raw, _digest = plain_registry.manifest("busybox", "v2s2-None")
    sizes = sum(d["size"] for d in json.loads(raw)["layers"])
    progress = Bytes()
    read_tree(source, progress=progress)
    assert progress.total == sizes and progress.seen == sizes


def test_429_and_503_are_retried_after_retry_after(
        plain_registry: Registry, archive: Any, capsys: pytest.CaptureFixture[str]) -> None:
    plain_registry.push(archive("busybox-app"), "busybox:v2s2-None")
    with proxied(plain_registry, "busy") as proxy:
        code, _out, err = run(["ls", f"registry:{proxy.host}/busybox:v2s2-None"], capsys)
    assert code == 0, err
    assert proxy.busy_answers == []  # both refusals were met, then the manifest came


def test_a_bare_reference_no_engine_has_falls_back_to_the_registry(
        plain_registry: Registry, archive: Any, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    plain_registry.push(archive("busybox-app"), "busybox:v2s2-None")
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    monkeypatch.setenv("CONTAINER_HOST", f"unix://{tmp_path}/no-podman.sock")
    bare = f"{plain_registry.host}/busybox:v2s2-None"
    code, out, err = run(["scan", bare, "--format", "json"], capsys)
    assert code in (0, 1), err
    assert json.loads(out)["image"]["source"] == "registry"
    assert f"{bare}: not in the engine, podman; read from the registry" in err
    code, _out, err = run(["ls", bare, "--image-src", "engine"], capsys)
    assert code == 2 and "Docker Engine" in one_error_line(err)
    code, _out, err = run(["ls", bare, "--image-src", "podman,registry"], capsys)
    assert code == 0, err

"""Every file source, on small archives written in the test: the same tree from each."""

import json
import tarfile

import pytest

from auditor.audit import read_tree
from auditor.errors import DigestMismatch, FormatError, ImageNotFound, UnsupportedMediaType
from auditor.read.wants import NOTHING
from auditor.sources.archive import read_docker_save_stream
from auditor.sources.common import ScanOptions
from tests.imagekit import OciLayout, docker_save
from tests.layerkit import D, F, L, W, layer

LAYERS = [
    layer(D("/bin"), F("/bin/busybox", b"\x7fELF" + b"\0" * 100, mode=0o755),
          L("/bin/sh", "busybox"), D("/etc"), F("/etc/passwd", "root:x:0:0::/root:/bin/sh\n")),
    layer(D("/app"), F("/app/run", "#!/bin/sh\necho hi\n", mode=0o755), W("/etc/passwd")),
]


def listing(tree):
    return [(n.path, n.kind, n.mode, n.size, n.link, n.layer) for n in tree]


@pytest.fixture
def expected(tmp_path):
    return listing(read_tree(str(docker_save(tmp_path / "ref.tar", LAYERS)))[1])


def test_reference_tree_is_what_the_layers_say(expected):
    assert [p for p, *_ in expected] == ["/app", "/app/run", "/bin", "/bin/busybox", "/bin/sh",
                                         "/etc"]


@pytest.mark.parametrize("oci", [False, True], ids=["legacy-save", "docker25-oci-save"])
def test_docker_save_archives(tmp_path, expected, oci):
    path = docker_save(tmp_path / "img.tar", LAYERS, oci=oci)
    for source in (str(path), f"docker-archive:{path}"):
        image, tree = read_tree(source)
        assert listing(tree) == expected
        assert image.source == "docker-archive"
        assert len(image.layers) == 2


def test_docker_save_stream_from_stdin(tmp_path, expected, monkeypatch):
    import io
    import sys
    path = docker_save(tmp_path / "img.tar", LAYERS)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(path.read_bytes())))
    assert listing(read_tree("docker-archive:-")[1]) == expected


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
@pytest.mark.parametrize("as_archive", [False, True], ids=["oci-dir", "oci-archive"])
def test_oci_layouts_in_every_compression(tmp_path, expected, compression, as_archive):
    oci = OciLayout(tmp_path / "layout")
    oci.index([oci.image(LAYERS, compression)])
    source = (f"oci-archive:{oci.archive(tmp_path / 'oci.tar')}" if as_archive
              else f"oci-dir:{tmp_path / 'layout'}")
    assert listing(read_tree(source)[1]) == expected
    # a bare path is recognised as well
    assert listing(read_tree(source.split(":", 1)[1])[1]) == expected


def test_nested_index_and_platform_choice(tmp_path):
    oci = OciLayout(tmp_path / "l")
    amd = oci.image([layer(F("/amd64", "x"))], platform="linux/amd64")
    arm = oci.image([layer(F("/arm64", "x"))], platform="linux/arm64/v8")
    att = oci.image([layer(F("/attestation", "x"))], platform="unknown/unknown")
    oci.index([amd, arm, att], nested=True, ref="latest")
    src = f"oci-dir:{tmp_path / 'l'}"
    assert [n.path for n in read_tree(src)[1]] == ["/amd64"]
    assert [n.path for n in read_tree(src, platform="linux/arm64")[1]] == ["/arm64"]
    with pytest.raises(ImageNotFound, match="platform linux/s390x"):
        read_tree(src, platform="linux/s390x")


def test_oci_ref_choice(tmp_path):
    oci = OciLayout(tmp_path / "l")
    oci.index([oci.image([layer(F("/one", "1"))], ref="one"),
               oci.image([layer(F("/two", "2"))], ref="two")])
    with pytest.raises(ImageNotFound, match="several images"):
        read_tree(f"oci-dir:{tmp_path / 'l'}")
    assert [n.path for n in read_tree(f"oci-dir:{tmp_path / 'l'}:two")[1]] == ["/two"]


def test_archive_with_several_images_is_chosen_by_tag(tmp_path):
    path = docker_save(tmp_path / "two.tar", [layer(F("/a", "a"))], tags=["a:1"],
                       extra_images=[([layer(F("/b", "b"))], ["b:2"])])
    with pytest.raises(ImageNotFound, match="holds 2 images"):
        read_tree(str(path))
    assert [n.path for n in read_tree(f"docker-archive:{path}:b:2")[1]] == ["/b"]


def test_layer_digest_mismatch_is_refused(tmp_path):
    oci = OciLayout(tmp_path / "l")
    oci.index([oci.image(LAYERS)])
    desc = json.loads((tmp_path / "l" / "index.json").read_text())["manifests"][0]
    manifest = json.loads((tmp_path / "l" / "blobs" / "sha256" / desc["digest"][7:]).read_bytes())
    blob = tmp_path / "l" / "blobs" / "sha256" / manifest["layers"][1]["digest"][7:]
    # change file content only: the tar still parses, only the digest can tell
    blob.write_bytes(blob.read_bytes().replace(b"echo hi", b"echo ho"))
    with pytest.raises(DigestMismatch):
        read_tree(f"oci-dir:{tmp_path / 'l'}")


def _corrupt_layer_content(path):
    """The archive with "echo hi" changed in a layer: it parses, only a digest can tell."""
    data = path.read_bytes()
    assert data.count(b"echo hi") == 1
    path.write_bytes(data.replace(b"echo hi", b"echo ho"))
    return path


@pytest.mark.parametrize("oci", [False, True], ids=["legacy-save", "docker25-oci-save"])
def test_docker_save_layer_digests_are_checked_when_asked(tmp_path, oci):
    path = _corrupt_layer_content(docker_save(tmp_path / "img.tar", LAYERS, oci=oci))
    # by default a docker save archive's layers are not hashed (see sources/archive.py)
    assert "/app/run" in [n.path for n in read_tree(str(path))[1]]
    with pytest.raises(DigestMismatch, match="layer 1"):
        read_tree(str(path), verify=True)
    with open(path, "rb") as stream, pytest.raises(DigestMismatch, match="layer 1"):
        read_docker_save_stream(stream, None, ScanOptions(NOTHING, verify=True), "stdin",
                                "docker-archive")


def test_an_oci_layout_is_checked_unless_told_not_to(tmp_path):
    oci = OciLayout(tmp_path / "l")
    oci.index([oci.image(LAYERS)])
    for blob in (tmp_path / "l" / "blobs" / "sha256").iterdir():
        if b"echo hi" in blob.read_bytes():
            _corrupt_layer_content(blob)
    with pytest.raises(DigestMismatch):
        read_tree(f"oci-dir:{tmp_path / 'l'}")
    assert "/app/run" in [n.path for n in read_tree(f"oci-dir:{tmp_path / 'l'}",
                                                     verify=False)[1]]


def test_unsupported_layer_media_type(tmp_path):
    oci = OciLayout(tmp_path / "l")
    desc = oci.image(LAYERS)
    mpath = tmp_path / "l" / "blobs" / "sha256" / desc["digest"][7:]
    manifest = json.loads(mpath.read_bytes())
    manifest["layers"][0]["mediaType"] = "application/vnd.example.layer+lz4"
    desc = {"mediaType": desc["mediaType"], **oci.blob(json.dumps(manifest).encode())}
    oci.index([desc])
    with pytest.raises(UnsupportedMediaType):
        read_tree(f"oci-dir:{tmp_path / 'l'}")


@pytest.mark.parametrize("cut", [100, 1500, 3000])
def test_truncated_archive_is_a_format_error(tmp_path, cut):
    path = docker_save(tmp_path / "img.tar", LAYERS)
    data = path.read_bytes()
    (tmp_path / "cut.tar").write_bytes(data[:cut])
    with pytest.raises(FormatError):
        read_tree(str(tmp_path / "cut.tar"))


def test_config_digest_mismatch(tmp_path):
    path = docker_save(tmp_path / "img.tar", LAYERS)
    with tarfile.open(path) as tf:
        members = {m.name: tf.extractfile(m).read() for m in tf.getmembers()}
    cfg = next(n for n in members if n.endswith(".json") and n != "manifest.json")
    members[cfg] = members[cfg].replace(b'"sh"', b'"xx"')
    with tarfile.open(tmp_path / "bad.tar", "w") as tf:
        import io
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    with pytest.raises(DigestMismatch):
        read_tree(str(tmp_path / "bad.tar"))

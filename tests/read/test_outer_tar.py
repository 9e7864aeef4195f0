"""Image archives on disk, indexed by our own header walk: the bounds a hostile archive
meets, compressed archives, and link members."""

import bz2
import gzip
import io
import lzma
import tarfile

import pytest

from auditor.audit import read_tree
from auditor.errors import FormatError
from auditor.read.outer_tar import OuterTar
from auditor.read.tarstream import MAX_EXTENDED
from tests.imagekit import OciLayout, docker_save
from tests.layerkit import D, F, layer

LAYERS = [layer(D("/etc"), F("/etc/hostname", "box\n"))]


def _with_giant_header(path, kind):
    """The archive with an extended header of MAX_EXTENDED + 1 bytes in front."""
    hdr = tarfile.TarInfo("././@PaxHeader" if kind == "pax" else "././@LongLink")
    hdr.type = tarfile.XHDTYPE if kind == "pax" else tarfile.GNUTYPE_LONGNAME
    hdr.size = MAX_EXTENDED + 1
    raw = hdr.tobuf(tarfile.USTAR_FORMAT if kind == "pax" else tarfile.GNU_FORMAT)
    path.write_bytes(raw[:512] + bytes(MAX_EXTENDED + 1 + 511 & ~511) + path.read_bytes())
    return path


@pytest.mark.parametrize("kind", ["pax", "gnu-longname"])
@pytest.mark.parametrize("prefix", ["", "docker-archive:", "oci-archive:"])
def test_a_giant_extended_header_in_an_outer_archive_is_refused(tmp_path, kind, prefix):
    if prefix == "oci-archive:":
        oci = OciLayout(tmp_path / "l")
        oci.index([oci.image(LAYERS)])
        path = oci.archive(tmp_path / "oci.tar")
    else:
        path = docker_save(tmp_path / "img.tar", LAYERS)
    _with_giant_header(path, kind)
    with pytest.raises(FormatError, match="too large"):
        read_tree(f"{prefix}{path}")


@pytest.mark.parametrize("content", [b"", b"not a tar at all" * 64],
                         ids=["empty", "garbage"])
def test_a_file_that_is_no_tar_is_a_format_error(tmp_path, content):
    path = tmp_path / "x.tar"
    path.write_bytes(content)
    for source in (str(path), f"docker-archive:{path}", f"oci-archive:{path}"):
        with pytest.raises(FormatError, match=r"not a (tar|readable tar)"):
            read_tree(source)


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress, lzma.compress],
                         ids=["gzip", "bzip2", "xz"])
def test_a_compressed_oci_archive_reads_like_the_plain_one(tmp_path, compress):
    oci = OciLayout(tmp_path / "l")
    oci.index([oci.image(LAYERS, "gzip")])
    plain = oci.archive(tmp_path / "oci.tar")
    packed = tmp_path / "oci.tar.z"
    packed.write_bytes(compress(plain.read_bytes()))
    paths = [n.path for n in read_tree(str(plain))[1]]
    assert paths == ["/etc", "/etc/hostname"]
    assert [n.path for n in read_tree(f"oci-archive:{packed}")[1]] == paths
    assert [n.path for n in read_tree(str(packed))[1]] == paths  # recognised when bare


def _tar(members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, kind, data in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
            else:
                info.type = tarfile.LNKTYPE if kind == "hard" else tarfile.SYMTYPE
                info.linkname = data
                tf.addfile(info)
    return buf.getvalue()


def test_link_members_are_followed_and_loops_are_not(tmp_path):
    path = tmp_path / "links.tar"
    path.write_bytes(_tar([("blobs/sha256/abc", "file", b"content"),
                           ("./dir/layer.tar", "sym", "../blobs/sha256/abc"),
                           ("hard", "hard", "dir/layer.tar"),
                           ("loop-a", "sym", "loop-b"), ("loop-b", "sym", "loop-a")]))
    tar = OuterTar(str(path))
    for name in ("blobs/sha256/abc", "dir/layer.tar", "/hard"):
        with tar.open(name) as f:
            assert f.read() == b"content"
        assert tar.range(name).size == len(b"content")
    assert tar.find("loop-a") is None
    assert tar.open("missing") is None


def test_a_member_of_a_compressed_archive_cut_short_is_truncated(tmp_path):
    data = _tar([("a", "file", b"x" * 5000)])
    path = tmp_path / "cut.tar.gz"
    path.write_bytes(gzip.compress(data[:2048]))
    with pytest.raises(FormatError, match="truncated"):
        OuterTar(str(path))

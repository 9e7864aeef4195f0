"""The reader's one entry point, on each kind of ``LayerBlob.where``: the same entries
whichever way the bytes arrive, and the digests checked where the blob says."""

import gzip
import hashlib
import io

import pytest
import zstandard

from auditor.errors import DigestMismatch
from auditor.read.cursor import StreamCursor
from auditor.read.layer_blob import LayerBlob, Opened, Passing
from auditor.read.layer_read import ReadSettings, reading_layers
from auditor.read.ranges import FileRange
from auditor.read.wants import NOTHING
from tests.layerkit import D, F, layer

TAR = layer(D("/etc"), F("/etc/hostname", "box\n"), F("/etc/motd", "hello\n"))
PATHS = ["/etc", "/etc/hostname", "/etc/motd"]
COMPRESS = {"none": lambda b: b, "gzip": lambda b: gzip.compress(b, mtime=0),
            "zstd": lambda b: zstandard.ZstdCompressor().compress(b)}
MEDIA = {"none": "application/vnd.oci.image.layer.v1.tar",
         "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
         "zstd": "application/vnd.oci.image.layer.v1.tar+zstd"}


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def read(blob, verify=True):
    with reading_layers(ReadSettings(lambda: NOTHING, verify=verify)) as reader:
        reader.start([blob])
        scan = reader.read(blob)
    reader.digests.wait()
    return scan


def where_of(kind, data, tmp_path):
    if kind == "file":
        path = tmp_path / "blob"
        path.write_bytes(b"junk" + data + b"more")
        return FileRange(str(path), 4, len(data))
    if kind == "opened":
        return Opened(lambda: io.BufferedReader(io.BytesIO(data)))
    return Passing(StreamCursor(io.BytesIO(data)))


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
@pytest.mark.parametrize("kind", ["file", "opened", "passing"])
@pytest.mark.parametrize("media", ["named", "sniffed"])
def test_every_way_in_gives_the_same_layer(tmp_path, kind, compression, media):
    data = COMPRESS[compression](TAR)
    extra = {"media_type": MEDIA[compression]} if media == "named" else {}
    blob = LayerBlob(0, where_of(kind, data, tmp_path), "test", blob_digest=sha(data),
                     diff_id=sha(TAR), **extra)
    scan = read(blob)
    assert [e.path for e in scan.entries] == PATHS
    assert (scan.digest, scan.blob_digest) == (sha(TAR), sha(data))


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_a_compressed_layer_passing_in_an_unverified_stream_is_read(compression):
    # a containerd-store engine saves its layers compressed
    data = COMPRESS[compression](TAR)
    scan = read(LayerBlob(0, Passing(StreamCursor(io.BytesIO(data))), "save"), verify=False)
    assert [e.path for e in scan.entries] == PATHS


@pytest.mark.parametrize("kind", ["file", "opened", "passing"])
@pytest.mark.parametrize("which", ["blob_digest", "diff_id"])
def test_a_wrong_digest_is_a_mismatch(tmp_path, kind, which):
    data = COMPRESS["gzip"](TAR) if which == "blob_digest" and kind != "file" else TAR
    digests = {"blob_digest": sha(data), "diff_id": sha(TAR), which: sha(b"other")}
    blob = LayerBlob(3, where_of(kind, data, tmp_path), "img", **digests)
    with pytest.raises(DigestMismatch, match=r"img \(layer 3"):
        read(blob)


def test_unverified_reads_check_nothing(tmp_path):
    blob = LayerBlob(0, where_of("opened", TAR, tmp_path), "img", blob_digest=sha(b"x"),
                     diff_id=sha(b"y"))
    assert [e.path for e in read(blob, verify=False).entries] == PATHS


# -- the pump: a compressed layer read, hashed and inflated beside the parse ----------------

BIG = layer(*[F(f"/data/f{i}", bytes([i % 251]) * (40_000 + i)) for i in range(300)])


@pytest.mark.parametrize("kind", ["file", "opened", "passing"])
def test_a_layer_larger_than_the_pumps_buffers_reads_whole(tmp_path, kind):
    """12 MB of tar through 4 MiB buffers that are handed back and filled again: every
    entry, and both digests of every byte."""
    packed = gzip.compress(BIG, 1, mtime=0)
    blob = LayerBlob(0, where_of(kind, packed, tmp_path), "test", MEDIA["gzip"], sha(packed),
                     sha(BIG))
    scan = read(blob)
    assert len(scan.entries) == 300 and scan.tar_size == len(BIG)
    assert (scan.digest, scan.blob_digest, scan.blob_size) == (sha(BIG), sha(packed),
                                                              len(packed))


def test_gzip_members_and_their_zero_padding_are_one_stream(tmp_path):
    half = len(TAR) // 2
    packed = gzip.compress(TAR[:half], mtime=0) + bytes(7) + gzip.compress(TAR[half:], mtime=0)
    blob = LayerBlob(0, where_of("file", packed, tmp_path), "test", MEDIA["gzip"], sha(packed),
                     sha(TAR))
    assert [e.path for e in read(blob).entries] == PATHS


@pytest.mark.parametrize("damage", ["truncated", "trailing-junk", "crc"])
def test_a_damaged_gzip_layer_is_one_format_error(tmp_path, damage):
    from auditor.errors import FormatError

    packed = gzip.compress(BIG, 1, mtime=0)
    packed = {"truncated": packed[:-1000], "trailing-junk": packed + b"junk" * 10,
              "crc": packed[:-8] + bytes([packed[-8] ^ 1]) + packed[-7:]}[damage]
    blob = LayerBlob(0, where_of("file", packed, tmp_path), "test", MEDIA["gzip"])
    with pytest.raises(FormatError, match="corrupt gzip stream"):
        read(blob, verify=None)

"""The containerd image store's ``docker save`` (Docker 25-29 with containerd-snapshotter):
compressed layers in an OCI layout, a nested index with an attestation manifest, and the
index's digest as the image Id. Read from a file and as a stream, with and without
--verify; the same tree as the legacy save of the same layers."""

import gzip
import io
import tarfile

import pytest

from auditor.audit import read_tree
from auditor.errors import DigestMismatch, SourceError
from auditor.read.wants import NOTHING
from auditor.sources.archive import read_docker_save_stream
from auditor.sources.common import ScanOptions
from tests.imagekit import containerd_save, docker_save
from tests.test_sources import LAYERS, listing

# The smallest layer there is: BuildKit's WORKDIR writes a gzip of an empty tar (32 bytes).
EMPTY = bytes(1024)


def stream_tree(path, verify=None, expected_id=None):
    with open(path, "rb") as raw:
        # a pipe: no seeking, no peeking past what arrived
        image = read_docker_save_stream(io.BufferedReader(raw), None,  # type: ignore[arg-type]
                                        ScanOptions(NOTHING, verify=verify), "stdin",
                                        "docker-archive", expected_id=expected_id)
    return image


@pytest.fixture
def legacy(tmp_path):
    return listing(read_tree(str(docker_save(tmp_path / "ref.tar", [*LAYERS, EMPTY])))[1])


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
@pytest.mark.parametrize("verify", [None, True])
def test_containerd_save_reads_as_the_legacy_save_does(tmp_path, legacy, compression, verify):
    path, image_id = containerd_save(tmp_path / "c.tar", [*LAYERS, EMPTY], compression)
    assert listing(read_tree(str(path), verify=verify)[1]) == legacy
    image = stream_tree(path, verify=verify, expected_id=image_id)
    assert image.id == image_id  # the engine's Id: the index, not the config
    assert [layer.digest for layer in image.layers] == [
        layer.digest for layer in stream_tree(docker_save(tmp_path / "l.tar", [*LAYERS, EMPTY]))
        .layers]
    assert len(image.layers) == 3  # the attestation manifest's in-toto blob is no layer


def test_the_config_digest_is_accepted_as_the_id_too(tmp_path):
    path, index_id = containerd_save(tmp_path / "c.tar", LAYERS)
    image = stream_tree(path)
    assert image.id != index_id and image.id.startswith("sha256:")
    assert stream_tree(path, expected_id=image.id).id == image.id


def test_an_id_that_names_another_image_is_refused(tmp_path):
    path, _ = containerd_save(tmp_path / "c.tar", LAYERS)
    _, other_id = containerd_save(tmp_path / "o.tar", LAYERS[:1])
    with pytest.raises(SourceError, match="does not name"):
        stream_tree(path, expected_id=other_id)


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_a_compressed_layer_is_checked_unless_told_not_to(tmp_path, compression):
    """Its blob is hashed as it passes to be inflated, which costs several times more: so
    it is checked by default, from a stream and from a file; --no-verify skips it."""
    bad = [LAYERS[0], LAYERS[1].replace(b"echo hi", b"echo ho")]
    path, _ = containerd_save(tmp_path / "c.tar", LAYERS, compression)
    forged, _ = containerd_save(tmp_path / "f.tar", bad, compression)
    # the forged layer's blob, under the genuine manifest and config: only digests can tell
    swapped = _swap_layer_blob(path, forged, tmp_path / "s.tar")
    with pytest.raises(DigestMismatch, match="does not match"):
        stream_tree(swapped)
    with pytest.raises(DigestMismatch, match="does not match"):
        read_tree(str(swapped))
    assert len(stream_tree(swapped, verify=False).layers) == 2


def _swap_layer_blob(genuine, forged, out):
    """The genuine archive with its one blob the forged archive lacks (the changed layer)
    holding the forged archive's bytes for that layer."""
    def blobs(path):
        with tarfile.open(path) as tf:
            return [(m, tf.extractfile(m).read()) for m in tf if m.isfile()]

    def compressed(data):
        return data[:2] == b"\x1f\x8b" or data[:4] == b"\x28\xb5\x2f\xfd"

    ours, theirs = blobs(genuine), blobs(forged)
    [original] = [m.name for m, data in ours if compressed(data)
                  and m.name not in {t.name for t, _ in theirs}]
    [replacement] = [data for m, data in theirs if compressed(data)
                     and m.name not in {o.name for o, _ in ours}]
    with tarfile.open(out, "w") as tf:
        for member, data in ours:
            if member.name == original:
                data = replacement
                member.size = len(data)
            tf.addfile(member, io.BytesIO(data))
    return out


def test_a_gzip_blob_no_manifest_names_is_not_an_error(tmp_path, legacy):
    junk = gzip.compress(b"this is not a tar archive, and no manifest names it" * 40)
    path, image_id = containerd_save(tmp_path / "c.tar", [*LAYERS, EMPTY], junk=junk)
    assert listing(read_tree(str(path))[1]) == legacy
    assert stream_tree(path, expected_id=image_id).id == image_id


def test_a_corrupt_gzip_layer_is_a_format_error(tmp_path):
    """Inflated by ISA-L: its errors are ours, one sentence, even with no digest check."""
    from auditor.errors import FormatError

    path, _ = containerd_save(tmp_path / "c.tar", LAYERS)
    data = bytearray(path.read_bytes())
    start = data.index(b"\x1f\x8b\x08") + 12
    data[start:start + 64] = bytes(range(64))  # garbage inside the deflate stream
    path.write_bytes(bytes(data))
    with pytest.raises(FormatError, match=r"gzip|tar"):
        stream_tree(path, verify=False)

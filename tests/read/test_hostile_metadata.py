"""Hostile image metadata and layer headers (issue 11): each refused with one sentence
(FormatError, exit 2), never a traceback, a hang or a wrong tree."""

import io
import json
import os
import tarfile

import pytest

from auditor.audit import read_tree
from auditor.errors import FormatError
from auditor.model.image import ImageConfig
from auditor.read.layers import image_path
from auditor.read.tarstream import TarStream
from tests.imagekit import OciLayout, config_for, docker_save, sha
from tests.layerkit import F, layer

LAYER = layer(F("/bin/sh", "x", mode=0o755))


def pax_tar(headers: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        info = tarfile.TarInfo("f")
        info.size = 1
        info.pax_headers = headers
        tf.addfile(info, io.BytesIO(b"x"))
    return buf.getvalue()


@pytest.mark.parametrize("key,value", [("uid", "abc"), ("gid", "-x"), ("size", "1e3"),
                                       ("mtime", "nan"), ("mtime", "1e999"), ("uid", "9" * 400)])
def test_pax_numbers_that_are_not_numbers_are_one_sentence(key, value):
    with pytest.raises(FormatError, match=f"PAX {key}"):
        list(TarStream(io.BytesIO(pax_tar({key: value}))))


def test_pax_fractional_mtime_is_read():
    [header] = list(TarStream(io.BytesIO(pax_tar({"mtime": "1700000000.123456"}))))
    assert header.mtime == 1700000000


@pytest.mark.parametrize("name,path", [
    ("bin/sh", "/bin/sh"), ("/bin/busybox", "/bin/busybox"), ("./etc/", "/etc"),
    ("//usr//bin/x", "/usr/bin/x"), ("a/../b", "/b"), ("/../../etc/x", "/etc/x"),
    ("../etc/x", None), ("a/../../x", None)])
def test_member_names_are_cleaned_as_docker_unpacks_them(name, path):
    assert image_path(name) == path


def test_absolute_member_names_land_under_the_root(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:
        info = tarfile.TarInfo("x")
        info.name = "/bin/busybox"  # tarfile keeps a leading slash as written
        info.size, info.mode = 4, 0o755
        tf.addfile(info, io.BytesIO(b"\x7fELF"))
    raw = buf.getvalue()
    assert b"/bin/busybox" in raw
    tree = read_tree(str(docker_save(tmp_path / "a.tar", [raw])))[1]
    assert [n.path for n in tree] == ["/bin", "/bin/busybox"]


DEEP = b"[" * 100_000 + b"]" * 100_000


def read(path):
    return read_tree(str(path))


def add_member(path, name, raw):
    """Append a member to a tar: a later member of the same name wins."""
    with tarfile.open(path, "a") as tf:
        info = tarfile.TarInfo(name)
        info.size = len(raw)
        tf.addfile(info, io.BytesIO(raw))


def test_deep_json_in_manifest_json_is_one_sentence(tmp_path):
    path = docker_save(tmp_path / "a.tar", [LAYER])
    add_member(path, "manifest.json", DEEP)
    with pytest.raises(FormatError, match="nests too deeply"):
        read(path)


@pytest.mark.parametrize("doc", ["index.json", "oci-layout", "config"])
def test_deep_json_in_a_layout_is_one_sentence(tmp_path, doc):
    oci = OciLayout(tmp_path)
    config = DEEP if doc == "config" else None
    oci.index([oci.image([LAYER], config=config)])
    if doc != "config":
        (tmp_path / doc).write_bytes(DEEP)
    with pytest.raises(FormatError, match="nests too deeply"):
        read(f"oci-dir:{tmp_path}")


@pytest.mark.parametrize("change,field", [
    ({"history": True}, "'history'"), ({"os": ["linux"]}, "'os'"),
    ({"config": {"Env": [1]}}, "Env"), ({"config": {"Cmd": 5}}, "Cmd"),
    ({"config": {"User": {}}}, "'User'"), ({"rootfs": "x"}, "'rootfs'"),
    ({"history": [{"created_by": ["x"]}]}, "'created_by'")])
def test_wrong_types_in_the_config_name_the_field(change, field):
    doc = json.loads(config_for([LAYER]))
    doc.update(change)
    with pytest.raises(FormatError, match=field):
        ImageConfig.from_json(json.dumps(doc).encode())


def test_repo_tags_not_a_list_is_one_sentence(tmp_path):
    path = docker_save(tmp_path / "a.tar", [LAYER])
    with tarfile.open(path) as tf:
        manifest = json.load(tf.extractfile("manifest.json"))
    manifest[0]["RepoTags"] = 5
    add_member(path, "manifest.json", json.dumps(manifest).encode())
    with pytest.raises(FormatError, match="'RepoTags' is a number"):
        read(path)


@pytest.mark.parametrize("key,value", [("mediaType", ["x"]), ("annotations", [1]),
                                       ("annotations", {"org.opencontainers.image.ref.name":
                                                        ["a"]})])
def test_wrong_types_in_an_index_entry_name_the_field(tmp_path, key, value):
    oci = OciLayout(tmp_path)
    desc = oci.image([LAYER])
    desc[key] = value
    oci.index([desc])
    with pytest.raises(FormatError, match=key if key != "annotations" or isinstance(
            value, list) else "ref.name"):
        read(f"oci-dir:{tmp_path}")


def test_wide_nested_indexes_stop_at_the_bound_with_a_short_sentence(tmp_path):
    oci = OciLayout(tmp_path)
    level = [oci.image([LAYER], ref=f"r{i}") for i in range(30)]
    for _ in range(3):
        raw = json.dumps({"schemaVersion": 2, "manifests": level}).encode()
        level = [{"mediaType": "application/vnd.oci.image.index.v1+json", **oci.blob(raw)}] * 30
    oci.index(level)
    with pytest.raises(FormatError, match="more than 1024 manifests") as caught:
        read(f"oci-dir:{tmp_path}")
    assert len(str(caught.value)) < 300


@pytest.mark.parametrize("what", ["index.json", "oci-layout", "blob"])
@pytest.mark.parametrize("make", ["dir", "fifo", "loop"])
def test_layout_files_that_are_not_files_are_refused_before_reading(tmp_path, what, make):
    oci = OciLayout(tmp_path / "l")
    desc = oci.image([LAYER])
    oci.index([desc])
    target = tmp_path / "l" / what if what != "blob" else (
        tmp_path / "l" / "blobs" / "sha256" / sha(LAYER)[7:])
    target.unlink()
    if make == "dir":
        target.mkdir()
    elif make == "fifo":
        os.mkfifo(target)
    else:
        target.symlink_to(target)
    with pytest.raises(FormatError, match=r"regular file|symbolic links"):
        read(f"oci-dir:{tmp_path / 'l'}")


@pytest.mark.parametrize("key", ["path", "linkpath"])
def test_names_longer_than_path_max_are_refused(key):
    raw = pax_tar({key: "d/" * 8200})
    with pytest.raises(FormatError, match="more than 16384"):
        list(TarStream(io.BytesIO(raw)))
    assert len(list(TarStream(io.BytesIO(pax_tar({key: "d/" * 8000}))))) == 1

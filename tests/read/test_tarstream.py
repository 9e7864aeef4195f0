"""The forward-only tar reader: formats it must read and hostile input it must refuse."""

import io
import tarfile

import pytest

from auditor.errors import FormatError
from auditor.read.cursor import MemoryCursor
from auditor.read.tarstream import MAX_EXTENDED, TarStream


def tar_of(members, fmt=tarfile.PAX_FORMAT):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def headers(raw):
    return [(h.name, h.size) for h in TarStream(io.BytesIO(raw))]


@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT],
                         ids=["ustar", "gnu", "pax"])
def test_reads_every_common_format_with_long_names(fmt):
    long = "d/" * 60 + "file"  # 124 characters: a ustar prefix, GNU longname or PAX path
    assert headers(tar_of([("short", b"abc"), (long, b"12345")], fmt)) == [
        ("short", 3), (long, 5)]


def test_non_utf8_names_survive_as_surrogate_escapes():
    raw = tar_of([("odd\udcffname", b"")], tarfile.GNU_FORMAT)
    [(name, _)] = headers(raw)
    assert name.encode("utf-8", "surrogateescape") == b"odd\xffname"


def test_base256_sizes_are_read():
    raw = bytearray(tar_of([("f", b"x")], tarfile.USTAR_FORMAT))
    raw[124:136] = b"\x80" + (1).to_bytes(11, "big")
    raw[148:156] = b"        "
    raw[148:155] = f"{sum(raw[:512]):06o}\0".encode()
    assert headers(bytes(raw)) == [("f", 1)]


def test_content_can_be_read_in_part_and_the_rest_is_skipped():
    stream = TarStream(io.BytesIO(tar_of([("a", b"0123456789"), ("b", b"xy")])))
    out = []
    for h in stream:
        out.append((h.name, stream.read(4)))
    assert out == [("a", b"0123"), ("b", b"xy")]


def test_bad_checksum_is_refused():
    raw = bytearray(tar_of([("a", b"x")]))
    raw[0] ^= 0xFF
    with pytest.raises(FormatError, match="checksum"):
        headers(bytes(raw))


def test_truncated_content_is_refused():
    raw = tar_of([("a", b"x" * 5000)])
    with pytest.raises(FormatError, match="truncated"):
        headers(raw[:2000])


def test_giant_pax_header_is_refused_without_reading_it():
    raw = bytearray(tar_of([("a", b"")], tarfile.USTAR_FORMAT))
    hdr = tarfile.TarInfo("././@PaxHeader")
    hdr.type = tarfile.XHDTYPE
    hdr.size = MAX_EXTENDED + 1
    block = hdr.tobuf(tarfile.USTAR_FORMAT)
    with pytest.raises(FormatError, match="too large"):
        headers(block + bytes(raw))


def test_a_stream_without_end_marker_is_accepted():
    raw = tar_of([("a", b"x")])
    assert headers(raw[:1024]) == [("a", 1)]


def _outer_of(inner: bytes) -> bytes:
    return tar_of([("layer.tar", inner), ("after.json", b"{}" * 40000)])


@pytest.mark.parametrize("wrap", ["stream", "memory"])
def test_a_tar_inside_a_tar_is_walked_in_place_within_its_member(wrap):
    inner = tar_of([("a", b"0123456789"), ("b", b"xy")])
    raw = _outer_of(inner)
    source = io.BytesIO(raw) if wrap == "stream" else MemoryCursor(raw)
    outer = TarStream(source)
    seen = []
    for header in outer:
        if header.name == "layer.tar":
            nested = TarStream(outer.member())
            seen += [(h.name, nested.read(3)) for h in nested]
        else:
            seen.append((header.name, outer.read(4)))
    assert seen == [("a", b"012"), ("b", b"xy"), ("after.json", b"{}{}")]


@pytest.mark.parametrize("cut", [0, 512])
def test_a_nested_tar_may_end_without_its_end_marker(cut):
    inner = tar_of([("a", b"x" * 600)])
    inner = inner[:1536] if cut == 0 else inner[:1536 + cut]
    outer = TarStream(io.BytesIO(_outer_of(inner)))
    header = next(iter(outer))
    assert [h.name for h in TarStream(outer.member())] == ["a"]
    assert header.name == "layer.tar"


def test_a_nested_member_claiming_more_than_its_tar_holds_is_truncated():
    inner = bytearray(tar_of([("a", b"x" * 600)]))[:1536]
    inner[124:136] = b"00000100000\0"  # 32 KiB of content, far past the layer member
    inner[148:156] = b"        "
    inner[148:155] = f"{sum(inner[:512]):06o}\0".encode()
    outer = TarStream(io.BytesIO(_outer_of(bytes(inner))))
    next(iter(outer))
    nested = TarStream(outer.member())
    got = []
    with pytest.raises(FormatError, match="truncated"):
        for _header in nested:
            got.append(nested.read(1 << 15))
    assert not any(b"{}" in data for data in got)  # never the next member's bytes

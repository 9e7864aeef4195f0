"""Decompression bombs stop the moment they outgrow their input (issue 11)."""

import gzip
import io
import os

import pytest
import zstandard

from auditor.audit import read_tree
from auditor.errors import FormatError, UsageError
from auditor.read import decompress
from tests.imagekit import OciLayout
from tests.layerkit import F, layer


def drain(stream):
    while stream.read(1 << 20):
        pass


@pytest.fixture
def small_floor(monkeypatch):
    monkeypatch.setattr(decompress, "FLOOR", 1 << 20)


@pytest.mark.parametrize("how", ["gzip", "zstd"])
def test_a_bomb_is_refused_past_the_ratio(small_floor, how):
    zeros = bytes(64 << 20)
    packed = gzip.compress(zeros, 9) if how == "gzip" else zstandard.compress(zeros, 19)
    with pytest.raises(FormatError, match="decompression bomb"):
        drain(decompress.decompressed(io.BytesIO(packed), how))


def test_the_ratio_can_be_raised_or_lifted(small_floor, monkeypatch):
    packed = zstandard.compress(bytes(16 << 20), 19)
    monkeypatch.setenv("AUDITOR_MAX_INFLATE_RATIO", "0")
    drain(decompress.decompressed(io.BytesIO(packed), "zstd"))
    monkeypatch.setenv("AUDITOR_MAX_INFLATE_RATIO", "many")
    with pytest.raises(UsageError):
        decompress.decompressed(io.BytesIO(packed), "zstd")


def test_an_ordinary_layer_inflates_past_the_floor(small_floor):
    data = os.urandom(1 << 20) * 2 + b"text " * (1 << 20)  # 7 MiB, about 3:1
    drain(decompress.decompressed(io.BytesIO(gzip.compress(data, 1)), "gzip"))


@pytest.mark.parametrize("how", ["gzip", "zstd"])
def test_a_bomb_layer_in_a_layout_is_one_sentence(tmp_path, small_floor, how):
    oci = OciLayout(tmp_path)
    oci.index([oci.image([layer(F("/zeros", bytes(32 << 20)))], compression=how)])
    with pytest.raises(FormatError, match="decompression bomb"):
        read_tree(f"oci-dir:{tmp_path}")


# -- per image: every layer counts into one budget -------------------------------------

def _layout(tmp_path, layers, compression="zstd"):
    oci = OciLayout(tmp_path / "l")
    oci.index([oci.image(layers, compression=compression)])
    return f"oci-dir:{tmp_path / 'l'}"


def _zeros(i, size):
    return layer(F(f"/zeros{i}", bytes(size)))


def test_many_layers_each_under_the_floor_are_one_bomb(tmp_path, small_floor):
    # each layer inflates 600 KiB (under the 1 MiB floor, so no one stream is refused);
    # together they pass the floor at thousands of times their compressed size
    source = _layout(tmp_path, [_zeros(i, 600 << 10) for i in range(4)])
    with pytest.raises(FormatError, match=r"layers inflate more than 200 times in all"):
        read_tree(source)
    read_tree(_layout(tmp_path / "one", [_zeros(0, 600 << 10)]))  # one of them alone reads


def test_the_image_inflate_ceiling_stops_ordinary_layers(tmp_path, monkeypatch):
    noise = [layer(F(f"/noise{i}", os.urandom(300 << 10))) for i in range(4)]
    source = _layout(tmp_path, noise, "gzip")
    read_tree(source)  # 1.2 MiB in all, at about 1:1: no ratio is passed
    monkeypatch.setenv("AUDITOR_MAX_INFLATE_BYTES", str(1 << 20))
    with pytest.raises(FormatError, match=r"inflate past 1 MiB in all.*AUDITOR_MAX_INFLATE_BYTES"):
        read_tree(source)
    monkeypatch.setenv("AUDITOR_MAX_INFLATE_BYTES", "0")  # lifted
    read_tree(source)


def test_the_ceiling_stops_the_read_where_it_is_passed(tmp_path, monkeypatch):
    from auditor.read.decompress import InflateBudget

    monkeypatch.setenv("AUDITOR_MAX_INFLATE_BYTES", str(4 << 20))
    budget = InflateBudget()
    stream = decompress.decompressed(io.BytesIO(gzip.compress(os.urandom(16 << 20), 1)),
                                     "gzip", budget)
    with pytest.raises(FormatError, match="inflate past 4 MiB"):
        drain(stream)
    assert budget.out < 6 << 20  # not 16 MiB inflated first and judged after


def _long_names(prefix, count, length=150):
    return layer(*[F(f"/{prefix}{i:04d}" + "n" * length, "x") for i in range(count)])


def test_the_names_of_all_layers_share_one_budget(tmp_path, monkeypatch):
    layers = [_long_names(f"l{n}/", 20) for n in range(3)]  # about 3 KiB of names each
    monkeypatch.setenv("AUDITOR_MAX_NAME_BYTES", "8000")
    with pytest.raises(FormatError, match="member names hold more than 8000 bytes in all"):
        read_tree(_layout(tmp_path, layers, "none"))
    read_tree(_layout(tmp_path / "two", layers[:2], "none"))  # 6 KiB: under


def test_the_pax_headers_of_all_layers_share_one_budget(tmp_path, monkeypatch):
    # names over 100 bytes need a PAX header each (about 180 bytes)
    layers = [_long_names(f"l{n}/", 10) for n in range(3)]
    monkeypatch.setenv("AUDITOR_MAX_PAX_BYTES", "4500")
    with pytest.raises(FormatError, match=r"extended \(PAX\) headers hold more than 4500"):
        read_tree(_layout(tmp_path, layers, "gzip"))
    read_tree(_layout(tmp_path / "two", layers[:2], "gzip"))


@pytest.mark.parametrize("name", ["AUDITOR_MAX_INFLATE_BYTES", "AUDITOR_MAX_NAME_BYTES",
                                  "AUDITOR_MAX_PAX_BYTES"])
def test_a_budget_passed_or_misspelt_is_one_error_line(tmp_path, monkeypatch, capsys, name):
    from auditor.cli import main

    source = _layout(tmp_path, [_long_names("a/", 30)], "gzip")
    monkeypatch.setenv(name, "10")
    assert main(["scan", source, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and name in err
    monkeypatch.setenv(name, "1²")
    assert main(["scan", source, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a whole number" in err

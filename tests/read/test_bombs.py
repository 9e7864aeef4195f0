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

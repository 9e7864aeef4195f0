"""Layers squashed as a stream delivers them (filetree.LayerSquash, ScanOptions.on_layer):
the same tree as squashing the image's layers at the end, whatever order they arrive in and
whatever the stream claims."""

import io

import pytest

from auditor.filetree import LayerSquash, squash_layers
from auditor.read.wants import NOTHING
from auditor.sources.archive import read_docker_save_stream
from auditor.sources.common import ScanOptions
from tests.imagekit import docker_save, sha
from tests.layerkit import D, F, L, W, layer, scans_of
from tests.test_sources import listing

LAYERS = [
    layer(D("/etc"), F("/etc/passwd", "root:x:0:0::/root:/bin/sh\n"), D("/bin"),
          F("/bin/busybox", b"\x7fELF" + b"\0" * 100, mode=0o755), L("/bin/sh", "busybox")),
    layer(D("/app"), F("/app/run", "#!/bin/sh\n", mode=0o755), W("/etc/passwd")),
    layer(F("/etc/passwd", "app:x:1000:1000::/app:/bin/sh\n"), W("/app/run")),
]


def reference():
    return listing(squash_layers(scans_of(LAYERS)))


@pytest.mark.parametrize("order", [[0, 1, 2], [2, 1, 0], [1, 2, 0], [0, 2, 1]])
def test_layers_in_any_order_make_the_same_tree(order):
    scans = scans_of(LAYERS)
    squash = LayerSquash()
    for index in order:
        squash.add(index, scans[index])
    assert listing(squash.tree_of(scans)) == reference()


def _kept(scan):
    """The entries a tree keeps: all but whiteouts."""
    return [e for e in scan.entries if not e.path.rpartition("/")[2].startswith(".wh.")]


def test_a_layer_is_squashed_once_its_predecessors_are_in():
    scans = scans_of(LAYERS)
    squash = LayerSquash()
    squash.add(1, scans[1])
    assert {e.layer for e in _kept(scans[1])} == {-1}  # in no tree yet: it waits for 0
    squash.add(0, scans[0])
    assert {e.layer for e in _kept(scans[0])} == {0}
    assert {e.layer for e in _kept(scans[1])} == {1}
    assert listing(squash.tree_of(scans)) == reference()


def test_a_wrong_guess_is_squashed_again_from_the_start():
    scans = scans_of(LAYERS)
    squash = LayerSquash()
    squash.add(0, scans[1])  # the stream's names lied about the order
    squash.add(1, scans[0])
    assert listing(squash.tree_of(scans)) == reference()


def test_layers_never_handed_over_are_squashed_at_the_end():
    scans = scans_of(LAYERS)
    squash = LayerSquash()
    squash.add(0, scans[0])
    squash.add(2, scans[2])  # layer 1 never came: 2 waits, and is applied by tree_of
    assert listing(squash.tree_of(scans)) == reference()
    assert listing(LayerSquash().tree_of(scans)) == reference()


def test_the_tree_is_handed_out_once():
    scans = scans_of(LAYERS)
    squash = LayerSquash()
    for index, scan in enumerate(scans):
        squash.add(index, scan)
    first = squash.tree_of(scans)
    again = squash.tree_of(scans)
    assert again is not first and listing(again) == listing(first) == reference()


def _stream(path, order, on_layer):
    with open(path, "rb") as raw:
        return read_docker_save_stream(
            io.BufferedReader(raw), None, ScanOptions(NOTHING, on_layer=on_layer), "stdin",
            "docker", layer_order=order)


@pytest.mark.parametrize("kind", ["oci", "podman", "legacy"])
@pytest.mark.parametrize("layers_reversed", [False, True])
def test_a_save_stream_hands_over_the_layers_its_names_place(tmp_path, kind, layers_reversed):
    path = docker_save(tmp_path / "img.tar", LAYERS, oci=kind == "oci",
                       podman=kind == "podman", layers_reversed=layers_reversed)
    handed: list[int] = []
    squash = LayerSquash()

    def on_layer(index, scan):
        handed.append(index)
        squash.add(index, scan)

    image = _stream(path, [sha(x) for x in LAYERS], on_layer)
    arrival = [2, 1, 0] if layers_reversed else [0, 1, 2]
    # a legacy save names its layers by v1 ids, which say nothing of their diff_ids
    assert handed == ([] if kind == "legacy" else arrival)
    assert listing(squash.tree_of(image.layers)) == reference()


def test_a_layer_the_image_holds_twice_fills_both_places(tmp_path):
    layers = [LAYERS[0], LAYERS[1], LAYERS[0]]
    path = docker_save(tmp_path / "img.tar", layers, podman=True)
    handed: list[int] = []
    squash = LayerSquash()
    image = _stream(path, [sha(x) for x in layers],
                    lambda i, s: (handed.append(i), squash.add(i, s)))
    assert sorted(handed) == [0, 1, 2]
    assert listing(squash.tree_of(image.layers)) == listing(squash_layers(scans_of(layers)))


def test_an_engine_that_names_the_wrong_order_costs_a_squash_not_the_tree(tmp_path):
    path = docker_save(tmp_path / "img.tar", LAYERS, podman=True)
    squash = LayerSquash()
    image = _stream(path, [sha(x) for x in reversed(LAYERS)], squash.add)
    assert listing(squash.tree_of(image.layers)) == reference()

"""The squashed tree in less memory (issue 11): its entries are the layers' own RawEntry
objects, never changed once in the tree; dive's wasted figure is kept per path without a
list for every file, and stays what counting every version gives."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.filetree import squash_layers
from auditor.model.image import FILE, LayerScan
from tests.layerkit import D, F, L, Opaque, Spec, W, scans_of, tree_of

NAMES = ["/a", "/a/x", "/a/y", "/b", "/b/x", "/c"]


def _reference_dive(scans: list[LayerScan]) -> int:
    """dive's figure as the tree used to count it: every version of a path (a file
    written, a whiteout), summed over the paths written more than once."""
    versions: dict[str, list[int]] = {}
    for scan in scans:
        for raw in scan.entries:
            base = raw.path.rpartition("/")[2]
            if base.startswith(".wh.") and not base.startswith(".wh..wh."):
                parent = raw.path.rpartition("/")[0] or "/"
                target = (parent.rstrip("/") + "/" + base[4:])
                versions.setdefault(target, []).append(0)
        for raw in scan.entries:
            if raw.kind == FILE and not raw.path.rpartition("/")[2].startswith(".wh."):
                versions.setdefault(raw.path, []).append(raw.size)
    return sum(sum(v) for v in versions.values() if len(v) > 1)


def _spec(kind: str, path: str, size: int) -> Spec:
    return {"file": lambda: F(path, "x" * size), "dir": lambda: D(path),
            "link": lambda: L(path, "/c"), "whiteout": lambda: W(path),
            "opaque": lambda: Opaque(path)}[kind]()


_LAYER = st.lists(st.tuples(st.sampled_from(["file", "file", "dir", "link", "whiteout",
                                             "opaque"]),
                            st.sampled_from(NAMES), st.integers(0, 5)),
                  max_size=6, unique_by=lambda t: t[1])


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(st.lists(_LAYER, min_size=1, max_size=4))
def test_dive_wasted_is_every_version_of_each_path_written_twice(layers) -> None:
    specs = [[_spec(*entry) for entry in lay] for lay in layers]
    scans = scans_of(specs)
    tree = squash_layers(scans)
    assert tree.dive_wasted_bytes == _reference_dive(scans)


def test_the_tree_holds_the_layers_own_entries() -> None:
    scans = scans_of([[D("/srv", mode=0o700), F("/srv/a", "a")],
                      [D("/srv", mode=0o755, uid=5), F("/srv/b", "b")]])
    tree = squash_layers(scans)
    assert tree.get("/srv/a") is scans[0].entries[1]
    assert tree.get("/srv/b") is scans[1].entries[1]
    assert tree.get("/srv") is scans[1].entries[0]  # the upper directory, merged
    # the lower layer's directory is as the layer read it, not the merged one
    lower = scans[0].entries[0]
    assert (lower.mode, lower.uid, lower.layer) == (0o700, 0, 0)


def test_scans_squashed_again_elsewhere_keep_each_tree_right() -> None:
    scans = scans_of([[F("/a", "1")], [F("/b", "22")]])
    whole = squash_layers(scans)
    top_only = squash_layers(scans[1:])  # /b is layer 0 of this tree
    assert top_only.get("/b").layer == 0
    assert whole.get("/b").layer == 1 and whole.get("/a").layer == 0


def test_repeated_numbers_share_one_object() -> None:
    tree = tree_of([F(f"/f{i}", "x", mode=0o640, uid=1000, gid=1000) for i in range(50)])
    nodes = [tree.get(f"/f{i}") for i in range(50)]
    assert len({id(n.mode) for n in nodes}) == 1
    assert len({id(n.uid) for n in nodes}) == 1 and len({id(n.gid) for n in nodes}) == 1
    assert len({id(n.mtime) for n in nodes}) == 1

from __future__ import annotations

import pytest

from auditor.detectors import waste
from auditor.detectors.waste import WASTE, area_of, detect, instruction_text, size_text
from auditor.model.findings import Finding
from tests.detectors.configkit import context_of
from tests.layerkit import D, F, Spec, W

INSTALL = "/bin/sh -c apt-get update && apt-get install -y curl"
PURGE = "/bin/sh -c apt-get purge -y curl && rm -rf /var/lib/apt/lists/*"


def scan(*layers: list[Spec], history: list[str] | None = None) -> list[Finding]:
    return list(detect(context_of(*layers, history=history)))


def test_install_then_purge_in_a_later_layer_is_named_with_both_instructions():
    found = scan([D("/etc"), F("/etc/os-release", "debian")],
                 [F("/var/lib/apt/lists/deb_Packages", "p" * 3000),
                  F("/usr/bin/curl", "c" * 1500), F("/usr/share/doc/curl/copyright", "d" * 10)],
                 [W("/var/lib/apt/lists/deb_Packages"), W("/usr/bin/curl"),
                  W("/usr/share/doc/curl")],
                 history=["/bin/sh -c #(nop) ADD file:x in / ", INSTALL, PURGE])
    assert len(found) == 1
    f = found[0]
    assert (f.rule_id, f.category, f.layer, f.bytes, f.severity, f.path) == (
        WASTE.id, "wasted-space", 1, 4510, "low", None)
    assert f.created_by == INSTALL
    assert f.evidence["written_by"] == {"layer": 1, "created_by": INSTALL}
    assert f.evidence["removed_by"] == {"layer": 2, "created_by": PURGE}
    assert [a["path"] for a in f.evidence["areas"]] == [
        "/var/lib/apt/lists", "/usr/bin/curl", "/usr/share/doc/curl"]
    assert f.message.startswith("layer 1 (RUN apt-get update && apt-get install -y curl) "
                                "wrote 4.5 kB that layer 2 (RUN apt-get purge")
    assert "(apt lists from `apt-get update`; packages installed, then removed)" in f.message
    assert "rm -rf /var/lib/apt/lists/*" in f.fix and "single RUN" in f.fix
    # dive counts paths written twice: the deleted directory's file is not one of them
    assert f.evidence["image"] == {"wasted_bytes": 4510, "dive_wasted_bytes": 4500}


def test_each_pair_of_layers_is_its_own_finding_largest_first():
    found = scan([F("/a/big", "b" * 5000), F("/b/small", "s" * 2000)],
                 [W("/a/big")], [W("/b/small")])
    assert [(f.layer, f.evidence["removed_by"]["layer"], f.bytes) for f in found] == [
        (0, 1, 5000), (0, 2, 2000)]


def test_removal_in_the_same_layer_is_not_waste():
    layer = [F("/tmp/build/x.o", "o" * 5000)]
    assert scan(layer, [F("/app/bin", "b")]) == []


@pytest.mark.parametrize("layers", [
    pytest.param([[F("/tmp/x", "x" * 1000)], [W("/tmp/x")]], id="under-1-KiB-deleted"),
    pytest.param([[F("/etc/passwd", "p" * 3000)], [F("/etc/passwd", "q" * 3100)]],
                 id="small-edit-of-a-config-file"),
])
def test_trifles_are_not_reported(layers):
    assert scan(*layers) == []


def test_a_large_overwrite_is_reported_as_overwritten():
    found = scan([F("/var/cache/debconf/templates.dat", "t" * 20000)],
                 [F("/var/cache/debconf/templates.dat", "u" * 20000)])
    assert len(found) == 1
    assert "overwrote" in found[0].message
    assert found[0].evidence["overwritten_bytes"] == 20000
    assert found[0].evidence["image"]["dive_wasted_bytes"] == 40000


def test_a_finding_with_no_known_cause_keeps_the_rule_fix():
    found = scan([F("/data/blob", "x" * 5000)], [W("/data/blob")])
    assert found[0].fix == WASTE.fix


def test_severity_is_medium_from_ten_megabytes(monkeypatch):
    monkeypatch.setattr(waste, "MEDIUM_FROM", 4096)
    found = scan([F("/a", "a" * 4096), F("/b", "b" * 2048)], [W("/a")], [W("/b")])
    assert [f.severity for f in found] == ["medium", "low"]


def test_a_directory_deleted_whole_is_summarised_by_area():
    files = [F(f"/var/lib/apt/lists/list{i}", "l" * 700) for i in range(4)]
    found = scan(files, [W("/var/lib/apt/lists")])
    assert found[0].evidence["areas"] == [{"path": "/var/lib/apt/lists", "bytes": 2800,
                                           "files": 4}]


@pytest.mark.parametrize("created_by, text", [
    ("/bin/sh -c apt-get update", "RUN apt-get update"),
    ("/bin/sh -c #(nop) COPY file:abc in /app ", "COPY file:abc in /app"),
    ("RUN /bin/sh -c make # buildkit", "RUN /bin/sh -c make"),
    (None, "no history"),
])
def test_instruction_text(created_by, text):
    assert instruction_text(created_by) == text


@pytest.mark.parametrize("n, text", [(999, "999 B"), (4510, "4.5 kB"), (83_000_000, "83.0 MB"),
                                     (2_500_000_000, "2.5 GB")])
def test_size_text(n, text):
    assert size_text(n) == text


def test_area_of_keeps_four_levels():
    assert area_of("/usr/share/doc/curl/copyright") == "/usr/share/doc/curl"
    assert area_of("/usr/bin/curl") == "/usr/bin/curl"

"""Evidence: the typed facts other steps read, the detector's own extras, one JSON order."""

from __future__ import annotations

import json

import pytest

from auditor.model.evidence import Evidence, LayerStep
from auditor.model.findings import Finding


def test_known_facts_are_typed_fields_and_extras_keep_their_place() -> None:
    ev = Evidence.of(instruction="ADD x /x", history_index=3, subject="ADD x", urls=["u"])
    assert (ev.history_index, ev.subject, ev.extras) == (3, "ADD x", {
        "instruction": "ADD x /x", "urls": ["u"]})
    assert list(ev.to_json()) == ["instruction", "history_index", "subject", "urls"]


def test_the_json_report_keeps_the_detector_s_key_order() -> None:
    ev = Evidence.of(subject="RUN a -> RUN b", written_by=LayerStep(1, "RUN a"),
                     removed_by=LayerStep(2, None), deleted_bytes=5)
    f = Finding("AUD-WASTE", "wasted-space", "low", "t", "m", evidence=ev)
    assert json.dumps(f.to_json()["evidence"]) == (
        '{"subject": "RUN a -> RUN b", "written_by": {"layer": 1, "created_by": "RUN a"}, '
        '"removed_by": {"layer": 2, "created_by": null}, "deleted_bytes": 5}')
    assert ev.written_by == LayerStep(1, "RUN a") and ev["deleted_bytes"] == 5


def test_a_known_key_given_none_is_reported_null() -> None:
    assert Evidence.of(variable=None, uid=None).to_json() == {"variable": None, "uid": None}
    assert Evidence().to_json() == {} and "subject" not in Evidence()


def test_fields_set_directly_are_reported_in_field_order() -> None:
    ev = Evidence(subject="s", package_owned=True, extras={"x": 1})
    assert ev.to_json() == {"subject": "s", "package_owned": True, "x": 1}


@pytest.mark.parametrize(("items", "message"), [
    ({"history_index": "3"}, "history_index must be int"),
    ({"bytes_in_final_tree": True}, "bytes_in_final_tree must be int"),
    ({"package_owned": 1}, "package_owned must be bool"),
    ({"written_by": {"layer": 1}}, "written_by must be LayerStep"),
    ({"sample": LayerStep(1, None)}, "only goes in written_by"),
], ids=["index-as-text", "bool-for-bytes", "int-for-bool", "dict-for-layer-step",
        "layer-step-as-extra"])
def test_a_known_key_of_the_wrong_type_is_refused(items: dict[str, object],
                                                  message: str) -> None:
    with pytest.raises(TypeError, match=message):
        Evidence.of(**items)  # type: ignore[arg-type]

"""Text from an image as people's screens and strict encoders take it."""

from __future__ import annotations

import pytest

from auditor.model.documents import load_json
from auditor.model.text import inert, printable


@pytest.mark.parametrize("text,shown", [
    ("\x1b[2Jok", "\\x1b[2Jok"), ("a\nb\tc\rd", "a\\x0ab\\x09c\\x0dd"), ("\x9b\x85", "\\x9b\\x85"),
    ("\u202etxt", "\\u202etxt"), ("bad\udcffbyte", "bad\\xffbyte"), ("lone\ud800", "lone\\ud800"),
    ("plain, é and 日本", "plain, é and 日本"),
], ids=["csi", "c0", "c1", "bidi", "not-utf8", "lone-surrogate", "plain"])
def test_inert_shows_controls_and_bad_text_as_escapes(text: str, shown: str) -> None:
    assert inert(text) == shown
    inert(text).encode("utf-8")  # always valid text
    assert inert(inert(text)) == inert(text)  # once is enough: escaping it again changes nothing


def test_printable_keeps_a_lone_surrogate_visible() -> None:
    assert printable("x\udfffy") == "x\\udfffy"


def test_a_json_document_cannot_carry_a_lone_surrogate_into_the_model() -> None:
    raw = b'{"User": "a\\ud800", "Env": ["\\udfff=1"], "\\ud83d\\ude00": "\\ud83d\\ude00"}'
    doc = load_json(raw, "image config")
    assert doc == {"User": "a\ufffd", "Env": ["\ufffd=1"], "\U0001f600": "\U0001f600"}
    for value in [doc["User"], *doc["Env"]]:
        value.encode("utf-8")

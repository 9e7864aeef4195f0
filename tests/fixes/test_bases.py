"""The final stage's base: the engine's images are asked for only when the choice needs them."""

from __future__ import annotations

from collections.abc import Sequence

from auditor.fixes.bases import LocalBase, choose_base
from auditor.model.closure import Closure
from tests.fixes.fixkit import result_of


def complete(kind: str = "static") -> Closure:
    return Closure(entry="/app", kind=kind, files=("/app",), bytes=1, share=1.0, missing=(),
                   notes=(), base_candidate="scratch", reason="static")


def never() -> Sequence[LocalBase]:
    raise AssertionError("the engine was asked for its images")


def test_a_complete_closure_needs_no_listing_of_the_engine_images() -> None:
    base, _keep, size, why = choose_base(complete(), None, never, None)
    assert (base, size) == ("scratch", 0) and "complete" in why


def test_an_incomplete_closure_lists_them_and_takes_the_smallest_ancestor() -> None:
    result = result_of()
    diff_ids = result.image.config.diff_ids
    asked = []

    def listing() -> Sequence[LocalBase]:
        asked.append(1)
        return [LocalBase("big:1", diff_ids[:1]), LocalBase("other:1", ("sha256:" + "0" * 64,))]

    base, keep, _size, _why = choose_base(complete("unknown"), None, listing, result)
    assert base == "big:1" and keep is not None and asked == [1]

"""History entries to build steps and the layers they made."""

from __future__ import annotations

from auditor.history import build_steps, last_step
from auditor.model.image import HistoryEntry, ImageConfig


def test_steps_map_to_layers_skipping_empty_ones():
    config = ImageConfig(history=(
        HistoryEntry("", False), HistoryEntry("/bin/sh -c #(nop)  ENV A=1", True),
        HistoryEntry("/bin/sh -c make", False)))
    assert [s.layer for s in build_steps(config, 2)] == [0, None, 1]
    assert [s.layer for s in build_steps(config, 3)] == [None, None, None]


def test_steps_carry_the_parsed_instruction():
    config = ImageConfig(history=(
        HistoryEntry("RUN |1 V=1 /bin/sh -c make # buildkit", False),
        HistoryEntry("USER app", True), HistoryEntry("/bin/sh -c #(nop)  USER toor", True)))
    steps = build_steps(config, 1)
    assert [(s.instruction, s.args, s.buildkit) for s in steps] == [
        ("RUN", "make", True), ("USER", "app", False), ("USER", "toor", False)]
    last = last_step(steps, "USER")
    assert last is not None and last.index == 2
    assert last_step(steps, "HEALTHCHECK") is None

"""Defects the fuzz targets meet that other work owns (issue 11, wave 2): each one named,
with its owner and the narrowest signature that tells it from anything else.

A run that breaks the contract in one of these ways is recorded, not failed, and the
target ends as xfail naming the defects it met; any other breach fails the target. When
the owner's fix lands, delete the entry: the target then fails if the defect is still there.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from tests.fuzz.harness import Outcome


@dataclass(frozen=True)
class Defect:
    id: str
    owner: str  # the helper whose part of issue 11 fixes it
    targets: frozenset[str]
    matches: Callable[[str, Outcome], bool]  # (the contract problem, the run)


def _traceback_with(*needles: str) -> Callable[[str, Outcome], bool]:
    def matches(problem: str, out: Outcome) -> bool:
        return problem == "a traceback" and all(n in out.err for n in needles)
    return matches


def _hangs_on_a_glob_of_stars(problem: str, out: Outcome) -> bool:
    """Killed at the time bound, given a policy file with a long run of `*`."""
    if not problem.startswith("still running"):
        return False
    for word in out.argv:
        if word.endswith(".toml") and os.path.isfile(word):
            with open(word, "rb") as fh:
                if b"*" * 100 in fh.read():
                    return True
    return False


IMAGES = frozenset({"archive", "stream", "oci"})
PIPELINE = "pipeline (issue 11, wave 2: injection)"
GLOBS = "history (issue 11, wave 2: globs)"

KNOWN: list[Defect] = [
    # "Rich markup in the image: a USER, Entrypoint or Cmd containing `[/x]` crashes the
    # terminal report (MarkupError)"
    Defect("rich-markup-in-terminal-report", PIPELINE, IMAGES,
           _traceback_with("rich.errors.MarkupError")),
    # "A policy allow-list glob of 5,000 `*` passes `policy check`, then the scan hangs"
    Defect("glob-of-5000-stars-hangs", GLOBS, frozenset({"policy"}), _hangs_on_a_glob_of_stars),
]


def match(target: str, problem: str, out: Outcome) -> Defect | None:
    for defect in KNOWN:
        if target in defect.targets and defect.matches(problem, out):
            return defect
    return None

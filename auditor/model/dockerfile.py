"""A parsed Dockerfile as values: its stages and their instructions.

``auditor.fixes.dockerfile`` parses the text into these; attribution and the rewrite read
them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from auditor.errors import UsageError


@dataclass(frozen=True, slots=True)
class Instruction:
    keyword: str  # upper case: RUN, COPY, ...
    args: tuple[str, ...]  # the parser's words (a shell-form RUN/CMD is one word)
    flags: tuple[str, ...]  # --from=build, --chown=1:1, ...
    json: bool  # written in JSON (exec) form
    original: str  # the instruction on one line, continuations joined
    line: int  # first line, 1-based
    end_line: int
    sub_keyword: str | None = None  # ONBUILD's instruction
    heredoc: bool = False

    def flag(self, name: str) -> str | None:
        """The value of ``--name=value``, or None."""
        for flag in self.flags:
            key, sep, value = flag.partition("=")
            if key == f"--{name}":
                return value if sep else ""
        return None


@dataclass(frozen=True, slots=True)
class Stage:
    index: int
    name: str | None  # the AS name, lower-cased as the builder compares it
    base: str  # the FROM image, global ARGs expanded
    from_line: int
    instructions: tuple[Instruction, ...]
    from_instruction: Instruction

    @property
    def ref(self) -> str:
        return self.name if self.name is not None else str(self.index)


@dataclass(frozen=True)
class Dockerfile:
    text: str
    stages: tuple[Stage, ...]
    global_args: tuple[Instruction, ...]  # ARGs before the first FROM
    global_values: Mapping[str, str]  # their values, build args applied
    escape: str = "\\"

    def stage(self, ref: str) -> Stage | None:
        """A stage by its AS name (case-insensitive) or its index."""
        for stage in self.stages:
            if stage.name is not None and stage.name == ref.lower():
                return stage
        if ref.isascii() and ref.isdigit() and int(ref) < len(self.stages):  # not "²"
            return self.stages[int(ref)]
        return None

    def chain(self, target: str | None = None) -> list[Stage]:
        """The target stage (default: the last) and the stages it is built ``FROM``,
        root first: their instructions are all in the target image's history."""
        last = self.stage(target) if target is not None else self.stages[-1]
        if last is None:
            names = ", ".join(s.ref for s in self.stages)
            raise UsageError(f"the Dockerfile has no stage {target!r}",
                             tip=f"its stages are: {names}")
        chain = [last]
        while True:
            parent = self.stage(chain[0].base)
            if parent is None or parent.index >= chain[0].index or parent in chain:
                return chain
            chain.insert(0, parent)

    def source(self, ins: Instruction) -> str:
        """The instruction's lines as the user wrote them (continuations and all)."""
        lines = self.text.splitlines()
        return "\n".join(lines[ins.line - 1:ins.end_line])

    def stage_of(self, ins: Instruction) -> Stage | None:
        for stage in self.stages:
            if ins in stage.instructions or ins == stage.from_instruction:
                return stage
        return None

"""How a read tells its caller how far it got: the one protocol every byte counter takes."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """Told how many bytes went by; told the total when a source knows it."""

    def __call__(self, nbytes: int) -> None: ...

    def set_total(self, total: int) -> None: ...


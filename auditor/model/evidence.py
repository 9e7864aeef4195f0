"""Why a finding was flagged: the facts a detector records beside it.

Most of it is the detector's own (``extras``: a tool's commands, a file's mode), shown in
the JSON report and read by nobody else. A few facts are read across the pipeline, and
those are typed fields: ``subject`` (what a finding without a path is about; part of its
fingerprint), ``history_index`` (the history entry of a RUN or ADD, for attribution),
``bytes_in_final_tree`` (what a RUN's files still weigh), ``written_by``/``removed_by``
(the two layers of wasted space), ``variable`` (the ENV name holding a secret),
``package_owned`` (whether a package owns the thing found, for the policy) and
``recognised_by`` (how a tool was recognised: ``path``, a command name in a search
directory; ``name``, the file's own name or the applet names linked to it; or
``content:<what matched>``, its identity strings, applet table or script entry point).

A detector writes ``Evidence.of(key=value, ...)``; the keys keep the order it gave them,
which is the order of the report's ``evidence`` object.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeAlias, TypeVar

JsonValue: TypeAlias = (str | int | float | bool | Sequence["JsonValue"]
                        | Mapping[str, "JsonValue"] | None)
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class LayerStep:
    """A layer and the history entry that made it."""

    layer: int
    created_by: str | None

    def to_json(self) -> dict[str, JsonValue]:
        return {"layer": self.layer, "created_by": self.created_by}


_KNOWN = ("subject", "history_index", "bytes_in_final_tree", "written_by", "removed_by",
          "variable", "package_owned", "recognised_by")


@dataclass(frozen=True, slots=True)
class Evidence:
    subject: str | None = None
    history_index: int | None = None
    bytes_in_final_tree: int | None = None
    written_by: LayerStep | None = None
    removed_by: LayerStep | None = None
    variable: str | None = None
    package_owned: bool | None = None
    recognised_by: str | None = None
    extras: Mapping[str, JsonValue] = field(default_factory=dict)  # the detector's own
    order: tuple[str, ...] = field(default=(), compare=False, repr=False)  # keys, as given

    @classmethod
    def of(cls, **items: JsonValue | LayerStep) -> Evidence:
        """Evidence from keyword items, in their order; the known keys must have their
        field's type (TypeError otherwise: a detector's test catches it)."""
        extras: dict[str, JsonValue] = {}
        for key, value in items.items():
            if key not in _KNOWN:
                if isinstance(value, LayerStep):
                    raise TypeError(f"evidence {key}: a LayerStep only goes in written_by "
                                    "or removed_by")
                extras[key] = value
        return cls(
            subject=_typed(items, "subject", str),
            history_index=_typed(items, "history_index", int),
            bytes_in_final_tree=_typed(items, "bytes_in_final_tree", int),
            written_by=_typed(items, "written_by", LayerStep),
            removed_by=_typed(items, "removed_by", LayerStep),
            variable=_typed(items, "variable", str),
            package_owned=_typed(items, "package_owned", bool),
            recognised_by=_typed(items, "recognised_by", str),
            extras=extras, order=tuple(items))

    def _known(self) -> dict[str, JsonValue]:
        out: dict[str, JsonValue] = {}
        for key in _KNOWN:
            value = getattr(self, key)
            if value is not None or key in self.order:  # a None given is reported null
                out[key] = value.to_json() if isinstance(value, LayerStep) else value
        return out

    def to_json(self) -> dict[str, JsonValue]:
        """The report's ``evidence`` object: the keys in the order the detector gave."""
        items = {**self._known(), **self.extras}
        ordered = {key: items[key] for key in self.order if key in items}
        return {**ordered, **items}

    # Read-only access by key, for generic readers (tests, the JSON view); code that
    # depends on a fact reads its typed field.
    def __getitem__(self, key: str) -> JsonValue:
        return self.to_json()[key]

    def __contains__(self, key: object) -> bool:
        return key in self.to_json()



def _typed(items: Mapping[str, JsonValue | LayerStep], key: str, kind: type[_T]) -> _T | None:
    value = items.get(key)
    if value is None:
        return None
    # bool is an int to isinstance; neither stands for the other here
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TypeError(f"evidence {key} must be {kind.__name__}, not {type(value).__name__}")
    return value

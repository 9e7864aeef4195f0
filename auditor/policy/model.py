"""What a resolved policy is: plain frozen values, and how it prints itself back as TOML.

The loader builds these from TOML files (after ``extends`` is folded in); the evaluator
only reads them. ``Policy.to_toml()`` writes a file that loads back to an equal policy,
so ``auditor policy show`` output can be saved and edited.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from auditor.model.findings import CATEGORIES, SEVERITIES, Rule
from auditor.model.verdict import Waiver

ACTIONS = ("fail", "warn", "ignore")

# Rules that the policy itself reports under (never a detector's). Reports look a rule up
# here when the detector registry does not know it.
WAIVER_EXPIRED = Rule(
    "AUD-POLICY-WAIVER-EXPIRED", "config", "low", "A waiver in the policy has expired",
    help="A waiver stops applying on the day after its expires date, so the findings it "
         "covered count again; this finding says which waiver to renew or remove.",
    fix="Fix the waived finding, or renew the waiver with a new expires date and reason.",
)
PACKAGE_FORBIDDEN = Rule(
    "AUD-POLICY-PACKAGE", "config", "high", "A package version the policy forbids",
    help="The policy's [[packages]] rules forbid this package, or this range of its "
         "versions (a packaging specifier such as <3.0.7).",
    fix="Upgrade the package to a version outside the forbidden range, or remove it.",
)
POLICY_RULES: dict[str, Rule] = {r.id: r for r in (WAIVER_EXPIRED, PACKAGE_FORBIDDEN)}


@dataclass(frozen=True, slots=True)
class Override:
    """Settings for a category or rule; a field left None inherits from the level below."""

    action: str | None = None
    severity: str | None = None
    weight: float | None = None

    def merged_over(self, base: Override) -> Override:
        return Override(
            action=self.action if self.action is not None else base.action,
            severity=self.severity if self.severity is not None else base.severity,
            weight=self.weight if self.weight is not None else base.weight,
        )


@dataclass(frozen=True, slots=True)
class Settings:
    """A ``[categories.NAME]`` or ``[rules.ID]`` table."""

    enabled: bool | None = None
    action: str | None = None
    severity: str | None = None
    weight: float | None = None
    allow_paths: tuple[str, ...] = ()
    allow_packages: tuple[str, ...] = ()
    # For findings about a file some installed package owns (the base image's own files):
    # a setuid /usr/bin/su from Debian's login package is not the same risk as a setuid
    # binary copied in by hand.
    packaged: Override = Override()

    def merged_over(self, base: Settings) -> Settings:
        """``self`` (the extending policy's table) over ``base``; allow-lists add up."""
        return Settings(
            enabled=self.enabled if self.enabled is not None else base.enabled,
            action=self.action if self.action is not None else base.action,
            severity=self.severity if self.severity is not None else base.severity,
            weight=self.weight if self.weight is not None else base.weight,
            allow_paths=_union(base.allow_paths, self.allow_paths),
            allow_packages=_union(base.allow_packages, self.allow_packages),
            packaged=self.packaged.merged_over(base.packaged),
        )

    def override(self) -> Override:
        return Override(self.action, self.severity, self.weight)


CATEGORY_DEFAULT = Settings(enabled=True, action="warn", weight=1.0)


@dataclass(frozen=True, slots=True)
class Thresholds:
    fail_under: int | None = None  # score below this fails; 0 turns it off
    fail_on: str | None = None  # a severity, or "none"
    max_image_bytes: int | None = None  # 0 turns it off
    max_wasted_percent: float | None = None

    def merged_over(self, base: Thresholds) -> Thresholds:
        return Thresholds(*(mine if mine is not None else theirs for mine, theirs in zip(
            self._values(), base._values(), strict=True)))

    def _values(self) -> tuple[Any, ...]:
        return (self.fail_under, self.fail_on, self.max_image_bytes, self.max_wasted_percent)


DEFAULT_POINTS: Mapping[str, float] = {"critical": 40.0, "high": 15.0, "medium": 5.0,
                                       "low": 1.5, "info": 0.0}
DEFAULT_SCALE = 100.0


@dataclass(frozen=True, slots=True)
class ScoreParams:
    """``[score]``: points per severity and the scale of the exponential (docs/policy.md)."""

    scale: float | None = None
    points: Mapping[str, float] = field(default_factory=dict)

    def merged_over(self, base: ScoreParams) -> ScoreParams:
        return ScoreParams(self.scale if self.scale is not None else base.scale,
                           {**base.points, **self.points})

    def resolved(self) -> ScoreParams:
        return ScoreParams(self.scale if self.scale is not None else DEFAULT_SCALE,
                           {**DEFAULT_POINTS, **self.points})


@dataclass(frozen=True, slots=True)
class PackageRule:
    """A ``[[packages]]`` entry: forbid a package, or a range of its versions."""

    name: str  # a package name; * and ? match as in shell patterns
    versions: str | None = None  # a packaging specifier, e.g. "<3.0.7"; None: any version
    ecosystem: str | None = None  # deb, apk, rpm, python, npm, golang, maven, runtime; None: any
    action: str = "fail"
    severity: str = PACKAGE_FORBIDDEN.severity
    reason: str = ""

    @property
    def label(self) -> str:
        return self.name + (self.versions or "")


@dataclass(frozen=True, slots=True)
class Policy:
    """A resolved policy: its ``extends`` chain folded in, every category filled in."""

    name: str
    source: str  # a file path, or builtin:NAME
    description: str = ""
    resolved_from: tuple[str, ...] = ()  # sources, the farthest ancestor first
    thresholds: Thresholds = Thresholds()
    score: ScoreParams = ScoreParams()
    allow_paths: tuple[str, ...] = ()
    allow_packages: tuple[str, ...] = ()
    categories: Mapping[str, Settings] = field(default_factory=dict)
    rules: Mapping[str, Settings] = field(default_factory=dict)
    packages: tuple[PackageRule, ...] = ()
    waivers: tuple[Waiver, ...] = ()

    def category(self, name: str) -> Settings:
        return self.categories.get(name, CATEGORY_DEFAULT)

    def to_dict(self) -> dict[str, Any]:
        """The resolved policy as JSON-ready data (dates as ISO strings)."""
        data = self._data()
        for waiver in data.get("waivers", []):
            waiver["expires"] = waiver["expires"].isoformat()
        return {"source": self.source, "resolved_from": list(self.resolved_from), **data}

    def to_toml(self) -> str:
        """The resolved policy as a policy file that loads back to the same policy."""
        head = [f"# policy {self.name}, resolved from: {' <- '.join(self.resolved_from)}"]
        return "\n".join(head + _toml_lines(self._data())) + "\n"

    def _data(self) -> dict[str, Any]:
        thresholds = {k: v for k, v in zip(
            ("fail_under", "fail_on", "max_image_bytes", "max_wasted_percent"),
            self.thresholds._values(), strict=True) if v is not None}
        score = self.score.resolved()
        data: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "thresholds": thresholds,
            "score": {"scale": score.scale,
                      "points": {s: score.points[s] for s in SEVERITIES}},
            "allow": {"paths": list(self.allow_paths), "packages": list(self.allow_packages)},
            "categories": {c: _settings_data(self.category(c)) for c in CATEGORIES},
            "rules": {r: _settings_data(s) for r, s in sorted(self.rules.items())},
            "packages": [{k: v for k, v in (
                ("name", p.name), ("versions", p.versions), ("ecosystem", p.ecosystem),
                ("action", p.action), ("severity", p.severity), ("reason", p.reason))
                if v is not None and v != ""} for p in self.packages],
            "waivers": [w.to_dict() for w in self.waivers],
        }
        return data


def _union(first: tuple[str, ...], second: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(first + second))


def _settings_data(s: Settings) -> dict[str, Any]:
    out: dict[str, Any] = {k: v for k, v in (
        ("enabled", s.enabled), ("action", s.action), ("severity", s.severity),
        ("weight", s.weight)) if v is not None}
    if s.allow_paths:
        out["allow_paths"] = list(s.allow_paths)
    if s.allow_packages:
        out["allow_packages"] = list(s.allow_packages)
    packaged = {k: v for k, v in (("action", s.packaged.action),
                                  ("severity", s.packaged.severity),
                                  ("weight", s.packaged.weight)) if v is not None}
    if packaged:
        out["packaged"] = packaged
    return out


# -- a TOML writer for the shapes above (the standard library reads TOML but cannot write it)

def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        # JSON's string escapes are a subset of TOML basic strings'
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def _toml_lines(data: Mapping[str, Any], prefix: str = "") -> list[str]:
    scalars = [(k, v) for k, v in data.items() if not isinstance(v, dict)
               and not (isinstance(v, list) and v and isinstance(v[0], dict))]
    lines = [f"{k} = {_toml_value(v)}" for k, v in scalars]
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            inner = _toml_lines(value, name + ".")
            has_scalars = any(not isinstance(v, dict) for v in value.values())
            if has_scalars or not value:
                lines += ["", f"[{name}]"]
            lines += inner
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for item in value:
                lines += ["", f"[[{name}]]", *_toml_lines(item, name + ".")]
    return lines

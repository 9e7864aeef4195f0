"""Find, read and validate policy files, and fold ``extends`` chains into one Policy.

Every problem is one ``PolicyError`` sentence naming the file and the key, with the line
when it can be told: tomllib reports it for syntax errors, and for a bad value the line
is found by looking for the key under its table header.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from auditor.errors import PolicyError
from auditor.inputs import POLICY_FILE, read_text
from auditor.model.findings import CATEGORIES, SEVERITIES
from auditor.model.verdict import Waiver
from auditor.policy.model import (
    ACTIONS,
    CATEGORY_DEFAULT,
    Override,
    PackageRule,
    Policy,
    ScoreParams,
    Settings,
    Thresholds,
)
from auditor.policy.validate import Checker, kind_of

BUILTIN_PREFIX = "builtin:"
ECOSYSTEMS = ("deb", "apk", "rpm", "python", "npm", "golang", "maven", "runtime")
FINGERPRINT = re.compile(r"[0-9a-f]{16,64}\Z")
SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B|B)?\s*\Z", re.IGNORECASE)
UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
         "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}

# The most a weight, a severity's points or the score's scale can be: enough to make any
# one finding sink the score, and small enough that no sum of costs overflows a float.
MAX_SCORE_NUMBER = 1_000_000
# The most files an extends chain can have: far more than anyone writes, far fewer than
# would exhaust the stack that follows the chain.
MAX_EXTENDS = 32
# The most max_image_bytes can be: the largest size a file can have.
MAX_IMAGE_BYTES = 2**63 - 1

T = TypeVar("T")


def builtin_names() -> list[str]:
    folder = resources.files("auditor") / "policies"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_policy(name_or_path: str) -> Policy:
    """A built-in policy by name (``default``, ``strict``, ``dev``) or a policy file by path,
    with its ``extends`` chain resolved. Raises PolicyError with a sentence for the user."""
    source, text = _read(name_or_path, relative_to=None)
    return _resolve(source, text, chain=())


def _is_path(ref: str) -> bool:
    return "/" in ref or "\\" in ref or ref.endswith(".toml") or ref.startswith(".")


def _read(ref: str, relative_to: Path | None) -> tuple[str, str]:
    """(source, text): a built-in name or a file path, relative to the extending file."""
    if not _is_path(ref):
        resource = resources.files("auditor") / "policies" / f"{ref}.toml"
        if not resource.is_file() and relative_to is None and Path(ref).is_file():
            return ref, _read(f"./{ref}", None)[1]  # a file in the working directory
        if not resource.is_file():
            raise PolicyError(f"there is no built-in policy named {ref!r}",
                              tip=f"built-in policies: {', '.join(builtin_names())}; "
                                  "or give the path of a policy file")
        return BUILTIN_PREFIX + ref, resource.read_text(encoding="utf-8")
    path = Path(ref).expanduser()
    if relative_to is not None and not path.is_absolute():
        path = relative_to / path
    return str(path), read_text(path, POLICY_FILE)


def _resolve(source: str, text: str, chain: tuple[str, ...],
             data: dict[str, Any] | None = None) -> Policy:
    key = _identity(source)
    layer = _parse(source, text, data)
    if layer.extends is None:
        base = Policy(name=layer.name or _stem(source), source=source,
                      categories={c: CATEGORY_DEFAULT for c in CATEGORIES})
    else:
        here = None if source.startswith(BUILTIN_PREFIX) else Path(source).parent
        try:
            parent_source, parent_text = _read(layer.extends, relative_to=here)
        except PolicyError as exc:
            raise Checker(source, text).fail("extends", f"cannot be followed: {exc}") from None
        seen = (*chain, key)
        if len(seen) >= MAX_EXTENDS:
            raise Checker(source, text).fail("extends", f"makes a chain of more than "
                                             f"{MAX_EXTENDS} policies")
        parent = _identity(parent_source)
        if parent in seen:
            cycle = " -> ".join((*seen[seen.index(parent):], parent))
            raise Checker(source, text).fail("extends", f"makes a cycle: {cycle}")
        base = _resolve(parent_source, parent_text, seen)
    return layer.merged_over(base, source)


def _identity(source: str) -> str:
    return source if source.startswith(BUILTIN_PREFIX) else str(Path(source).resolve())


def _stem(source: str) -> str:
    return source[len(BUILTIN_PREFIX):] if source.startswith(BUILTIN_PREFIX) else Path(source).stem


@dataclass(frozen=True)
class _Layer:
    """One file's content, validated, before it is folded over what it extends."""

    name: str | None
    description: str | None
    extends: str | None
    thresholds: Thresholds
    score: ScoreParams
    allow_paths: tuple[str, ...]
    allow_packages: tuple[str, ...]
    categories: dict[str, Settings]
    rules: dict[str, Settings]
    packages: tuple[PackageRule, ...]
    waivers: tuple[Waiver, ...]

    def merged_over(self, base: Policy, source: str) -> Policy:
        def fold(mine: dict[str, Settings], theirs: Mapping[str, Settings]) -> dict[str, Settings]:
            out = dict(theirs)
            for k, v in mine.items():
                out[k] = v.merged_over(out.get(k, Settings()))
            return out

        return Policy(
            name=self.name or _stem(source),
            source=source,
            description=self.description if self.description is not None else base.description,
            resolved_from=(*base.resolved_from, source),
            thresholds=self.thresholds.merged_over(base.thresholds),
            score=self.score.merged_over(base.score),
            allow_paths=tuple(dict.fromkeys(base.allow_paths + self.allow_paths)),
            allow_packages=tuple(dict.fromkeys(base.allow_packages + self.allow_packages)),
            categories=fold(self.categories, base.categories),
            rules=fold(self.rules, base.rules),
            packages=base.packages + self.packages,
            waivers=base.waivers + self.waivers,
        )


SETTINGS_KEYS = ("enabled", "action", "severity", "weight", "allow_paths", "allow_packages",
                 "packaged")


def _settings(c: Checker, value: Any, key: str) -> Settings:
    t = c.table(value, key, SETTINGS_KEYS)
    packaged = Override()
    if "packaged" in t:
        p = c.table(t["packaged"], f"{key}.packaged", ("action", "severity", "weight"))
        packaged = Override(*_override_fields(c, p, f"{key}.packaged"))
    action, severity, weight = _override_fields(c, t, key)
    return Settings(
        enabled=_opt(t, "enabled", lambda v: c.typed(v, f"{key}.enabled", bool, "true or false")),
        action=action, severity=severity, weight=weight,
        allow_paths=c.globs(t.get("allow_paths", []), f"{key}.allow_paths"),
        allow_packages=c.globs(t.get("allow_packages", []), f"{key}.allow_packages", "name glob"),
        packaged=packaged,
    )


def _override_fields(c: Checker, t: dict[str, Any], key: str
                     ) -> tuple[str | None, str | None, float | None]:
    return (_opt(t, "action", lambda v: c.word(v, f"{key}.action", ACTIONS)),
            _opt(t, "severity", lambda v: c.word(v, f"{key}.severity", SEVERITIES)),
            _opt(t, "weight", lambda v: c.number(v, f"{key}.weight", 0, MAX_SCORE_NUMBER)))


def _opt(table: dict[str, Any], key: str, read: Callable[[Any], T]) -> T | None:
    return read(table[key]) if key in table else None


def _thresholds(c: Checker, value: Any) -> Thresholds:
    key = "thresholds"
    t = c.table(value, key, ("fail_under", "fail_on", "max_image_bytes", "max_wasted_percent"))
    return Thresholds(
        fail_under=_opt(t, "fail_under", lambda v: _whole(c, v, f"{key}.fail_under")),
        fail_on=_opt(t, "fail_on", lambda v: c.word(v, f"{key}.fail_on", (*SEVERITIES, "none"))),
        max_image_bytes=_opt(t, "max_image_bytes", lambda v: _size(c, v, f"{key}.max_image_bytes")),
        max_wasted_percent=_opt(t, "max_wasted_percent",
                                lambda v: c.number(v, f"{key}.max_wasted_percent", 0, 100)),
    )


def _whole(c: Checker, value: Any, key: str) -> int:
    number = c.number(value, key, 0, 100)
    if not isinstance(number, int):
        raise c.fail(key, f"must be a whole number from 0 to 100, not {number}")
    return number


def _size(c: Checker, value: Any, key: str) -> int:
    """Bytes as a whole number or a string with a unit: "150 MB", "1.5GiB"."""
    if isinstance(value, str):
        m = SIZE.match(value)
        if m is None:
            raise c.fail(key, f"must be a number of bytes or a size like \"150 MB\", not {value!r}")
        # Decimal, not float: exact, and a long run of digits is not infinity
        try:
            amount = Decimal(m[1]) * UNITS[(m[2] or "b").lower()]
        except ArithmeticError:  # beyond even Decimal's exponent
            amount = Decimal(MAX_IMAGE_BYTES + 1)
        size = int(amount) if amount <= MAX_IMAGE_BYTES else MAX_IMAGE_BYTES + 1
    elif isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise c.fail(key, f"must be a number of bytes or a size like \"150 MB\", not {value!r}")
    else:
        size = value
    if size > MAX_IMAGE_BYTES:
        raise c.fail(key, f"must be at most {MAX_IMAGE_BYTES} bytes (8 EiB)")
    return size


def _score(c: Checker, value: Any) -> ScoreParams:
    t = c.table(value, "score", ("scale", "points"))
    points = c.table(t.get("points", {}), "score.points", SEVERITIES)
    return ScoreParams(
        scale=_opt(t, "scale", lambda v: c.number(v, "score.scale", 1, MAX_SCORE_NUMBER)),
        points={s: c.number(v, f"score.points.{s}", 0, MAX_SCORE_NUMBER)
                for s, v in points.items()},
    )


def _package_rule(c: Checker, value: Any, key: str) -> PackageRule:
    t = c.table(value, key, ("name", "versions", "ecosystem", "action", "severity", "reason"))
    if "name" not in t:
        raise c.fail(key, "needs a `name`: the package the rule is about")
    versions = _opt(t, "versions", lambda v: c.text_(v, f"{key}.versions"))
    if versions is not None:
        # packaging is imported here: most policies have no version rules
        from packaging.specifiers import InvalidSpecifier, SpecifierSet

        try:
            SpecifierSet(versions)
        except InvalidSpecifier:
            raise c.fail(f"{key}.versions", f"is not a version specifier like \"<3.0.7\" or "
                                            f"\">=1.2,<1.4\": {versions!r}") from None
    return PackageRule(
        name=c.glob(c.text_(t["name"], f"{key}.name"), f"{key}.name", "name glob"),
        versions=versions,
        ecosystem=_opt(t, "ecosystem", lambda v: c.word(v, f"{key}.ecosystem", ECOSYSTEMS)),
        action=c.word(t.get("action", "fail"), f"{key}.action", ACTIONS),
        severity=c.word(t.get("severity", "high"), f"{key}.severity", SEVERITIES),
        reason=c.text_(t.get("reason", ""), f"{key}.reason"),
    )


def _waiver(c: Checker, value: Any, key: str) -> Waiver:
    t = c.table(value, key, ("fingerprint", "rule", "path", "reason", "expires"))
    for required in ("reason", "expires"):
        if required not in t:
            raise c.fail(key, f"needs `{required}`: every waiver says why and until when")
    if ("fingerprint" in t) == ("rule" in t):
        raise c.fail(key, "needs exactly one of `fingerprint` or `rule` (with an optional `path`)")
    if "path" in t and "rule" not in t:
        raise c.fail(f"{key}.path", "goes with `rule`, not with `fingerprint`")
    fingerprint = _opt(t, "fingerprint", lambda v: c.text_(v, f"{key}.fingerprint"))
    if fingerprint is not None and not FINGERPRINT.match(fingerprint):
        raise c.fail(f"{key}.fingerprint",
                     f"must be a finding's hex fingerprint, not {fingerprint!r}")
    reason = c.text_(t["reason"], f"{key}.reason")
    if not reason.strip():
        raise c.fail(f"{key}.reason", "must say why the finding is accepted")
    return Waiver(
        reason=reason, expires=c.date_(t["expires"], f"{key}.expires"), fingerprint=fingerprint,
        rule=_opt(t, "rule", lambda v: c.rule_id(v, f"{key}.rule")),
        path=_opt(t, "path", lambda v: c.glob(c.text_(v, f"{key}.path"), f"{key}.path")),
    )


TOP_KEYS = ("name", "description", "extends", "thresholds", "score", "allow", "categories",
            "rules", "packages", "waivers")


def policy_from_table(source: str, data: dict[str, Any], text: str) -> Policy:
    """A policy written inline, as a table of another TOML file (``[policy]`` of
    ``.auditor.toml``, whose path is ``source`` and content ``text``): the same keys as a
    policy file, ``extends`` relative to that file."""
    return _resolve(source, text, chain=(), data=data)


def _parse(source: str, text: str, data: dict[str, Any] | None = None) -> _Layer:
    try:
        data = tomllib.loads(text) if data is None else data
    except RecursionError:
        raise PolicyError(f"policy {source} nests tables or arrays too deeply to be a "
                          "policy") from None
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"policy {source} is not valid TOML: {exc}") from None
    except ValueError:  # Python reads no integer of more than 4,300 digits
        raise PolicyError(f"policy {source} holds a number too long to read") from None
    c = Checker(source, text)
    c.table(data, "", TOP_KEYS)
    allow = c.table(data.get("allow", {}), "allow", ("paths", "packages"))
    categories = c.table(data.get("categories", {}), "categories", CATEGORIES,
                         what="a category")
    rules = c.table(data.get("rules", {}), "rules", tuple(data.get("rules", {})))
    for rule in rules:
        c.rule_id(rule, f"rules.{rule}")

    def array(key: str) -> list[Any]:
        value = data.get(key, [])
        if not isinstance(value, list):
            raise c.fail(key, f"must be an array of tables ([[{key}]]), not {kind_of(value)}")
        return value

    return _Layer(
        name=_opt(data, "name", lambda v: c.text_(v, "name")),
        description=_opt(data, "description", lambda v: c.text_(v, "description")),
        extends=_opt(data, "extends", lambda v: c.text_(v, "extends")),
        thresholds=_thresholds(c, data.get("thresholds", {})),
        score=_score(c, data.get("score", {})),
        allow_paths=c.globs(allow.get("paths", []), "allow.paths"),
        allow_packages=c.globs(allow.get("packages", []), "allow.packages", "name glob"),
        categories={k: _settings(c, v, f"categories.{k}") for k, v in categories.items()},
        rules={k: _settings(c, v, f"rules.{k}") for k, v in rules.items()},
        packages=tuple(_package_rule(c, v, f"packages[{i}]")
                       for i, v in enumerate(array("packages"))),
        waivers=tuple(_waiver(c, v, f"waivers[{i}]") for i, v in enumerate(array("waivers"))),
    )



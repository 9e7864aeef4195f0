"""Flag values made into what the pipeline takes, each checked before the image is read:
build arguments, severities, ignored rules, the policy, the platform, the Dockerfile's text.
Each imports what it needs when called, so that parsing stays cheap."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from auditor.errors import UsageError


def build_args(items: Sequence[str]) -> dict[str, str]:
    """``--build-arg`` values: NAME=VALUE, or NAME alone for the variable's value here."""
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not name:
            raise UsageError(f"--build-arg wants NAME=VALUE; got {item!r}")
        out[name] = value if sep else os.environ.get(name, "")
    return out


def dockerfile_text(path: str | None) -> str | None:
    """The text of ``--dockerfile``, read as an input file (regular, size-capped)."""
    from auditor.inputs import DOCKERFILE, read_text

    return None if path is None else read_text(path, DOCKERFILE)


def severities(text: str | None) -> tuple[str, ...] | None:
    """``--severity``'s list, each checked; None when the flag is not given."""
    from auditor.model.findings import SEVERITIES

    if text is None:
        return None
    chosen = tuple(dict.fromkeys(w.strip() for w in text.split(",") if w.strip()))
    bad = [w for w in chosen if w not in SEVERITIES]
    if bad or not chosen:
        raise UsageError(f"--severity wants a list of {', '.join(SEVERITIES)}; got {text!r}")
    return chosen


def ignored_rules(items: Sequence[str]) -> tuple[str, ...]:
    """``--ignore``'s rule ids, each one a rule auditor knows."""
    rules = tuple(dict.fromkeys(r.strip().upper() for item in items for r in item.split(",")
                                if r.strip()))
    if not rules:
        return ()
    from auditor.detectors import iter_rules
    from auditor.policy import POLICY_RULES

    known = {r.id for r in iter_rules()} | set(POLICY_RULES)
    unknown = [r for r in rules if r not in known]
    if unknown:
        raise UsageError(f"--ignore: no rule {', '.join(unknown)}",
                         tip="`auditor rules` lists them")
    return rules


def policy_of(value: Any) -> Any:
    """A policy name or file, or the Policy written inline in .auditor.toml."""
    from auditor.policy import Policy, load_policy

    return value if isinstance(value, Policy) else load_policy(value)


def platform_of(text: str | None) -> str | None:
    """``--platform`` as os/arch[/variant], checked."""
    from auditor.model.platform import parse_platform

    return None if text is None else parse_platform(text)

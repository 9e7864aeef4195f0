"""Policies: what "good enough" means for an image, and the verdict on one.

``load_policy(name_or_path)`` reads a built-in policy (auditor/policies/NAME.toml) or a
file, folding in what it ``extends``; ``evaluate(policy, findings, ...)`` turns an
audit's findings into a ``Verdict``: score, grade, passed, and the reasons.
``Baseline.load(report)`` lets a gate fail on new findings only. docs/policy.md is the
reference for the file format and the score.

The modules: ``model`` (the values, and TOML out), ``loader`` (files, extends, the
schema), ``validate`` (value checks and error sentences), ``scoring`` (the formula),
``packages`` (version rules), ``evaluate`` (the verdict), ``baseline``.
"""

from __future__ import annotations

from auditor.model.verdict import Verdict, Waiver
from auditor.policy.baseline import SARIF_FINGERPRINT_KEY, Baseline
from auditor.policy.evaluate import evaluate, is_packaged
from auditor.policy.loader import builtin_names, load_policy
from auditor.policy.model import (
    ACTIONS,
    PACKAGE_FORBIDDEN,
    POLICY_RULES,
    WAIVER_EXPIRED,
    PackageRule,
    Policy,
    Settings,
)
from auditor.policy.scoring import GRADES, bytes_factor, finding_cost, grade

__all__ = [
    "ACTIONS",
    "GRADES",
    "PACKAGE_FORBIDDEN",
    "POLICY_RULES",
    "SARIF_FINGERPRINT_KEY",
    "WAIVER_EXPIRED",
    "Baseline",
    "PackageRule",
    "Policy",
    "Settings",
    "Verdict",
    "Waiver",
    "builtin_names",
    "bytes_factor",
    "evaluate",
    "finding_cost",
    "grade",
    "is_packaged",
    "load_policy",
]

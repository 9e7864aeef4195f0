"""A baseline: the findings of an earlier report, so a gate can fail on new ones only.

Either of our own report formats will do: the JSON report (``findings[].fingerprint``)
or SARIF (``runs[].results[].partialFingerprints["auditorFingerprint/v1"]``). Both carry
``Finding.fingerprint``: rule plus path or package, never a layer digest, so an image
rebuilt from the same Dockerfile matches the report of its previous build.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditor.errors import PolicyError
from auditor.model.evidence import Evidence
from auditor.model.findings import Finding
from auditor.model.package import PackageRef

SARIF_FINGERPRINT_KEY = "auditorFingerprint/v1"


@dataclass(frozen=True, slots=True)
class Baseline:
    source: str  # the file it was read from
    format: str  # "json" or "sarif"
    fingerprints: frozenset[str]

    def contains(self, finding: Finding) -> bool:
        return finding.fingerprint in self.fingerprints

    def __len__(self) -> int:
        return len(self.fingerprints)

    @classmethod
    def of(cls, findings: Iterable[Finding], source: str = "(findings)") -> Baseline:
        return cls(source, "json", frozenset(f.fingerprint for f in findings))

    @classmethod
    def load(cls, path: str | Path) -> Baseline:
        """Read a previous auditor JSON or SARIF report; PolicyError when it is neither."""
        name = str(path)
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise PolicyError(f"baseline {name} does not exist") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise PolicyError(f"cannot read baseline {name}: {exc}") from None
        except json.JSONDecodeError as exc:
            raise PolicyError(f"baseline {name} is not JSON (line {exc.lineno}): "
                              f"{exc.msg}") from None
        if isinstance(data, dict) and isinstance(data.get("runs"), list):
            return cls(name, "sarif", frozenset(_sarif_fingerprints(data["runs"], name)))
        if isinstance(data, dict) and isinstance(data.get("findings"), list):
            return cls(name, "json", frozenset(_json_fingerprints(data["findings"], name)))
        raise PolicyError(f"baseline {name} is neither an auditor JSON report (no `findings` "
                          "list) nor a SARIF log (no `runs` list)",
                          tip="write one with `auditor scan IMAGE --format json` or sarif")


def _json_fingerprints(findings: list[Any], name: str) -> Iterable[str]:
    for i, item in enumerate(findings):
        if not isinstance(item, Mapping):
            raise PolicyError(f"baseline {name}: findings[{i}] is not an object")
        fp = item.get("fingerprint")
        if isinstance(fp, str) and fp:
            yield fp
        elif isinstance(item.get("rule_id"), str):
            # a report written before fingerprints were in it: compute the same value
            yield _fingerprint(item)
        else:
            raise PolicyError(f"baseline {name}: findings[{i}] has neither `fingerprint` "
                              "nor `rule_id`")


def _fingerprint(item: Mapping[str, Any]) -> str:
    """Finding.fingerprint of a reported finding; only the fields it depends on matter."""
    evidence = item.get("evidence")
    label = item.get("package")
    return Finding(
        rule_id=item["rule_id"], category="config", severity="info", title="", message="",
        path=item.get("path") or None,
        package=PackageRef.from_label(label) if isinstance(label, str) and label else None,
        evidence=Evidence(subject=str(evidence["subject"]))
        if isinstance(evidence, Mapping) and "subject" in evidence else Evidence(),
    ).fingerprint


def _sarif_fingerprints(runs: list[Any], name: str) -> Iterable[str]:
    for r, run in enumerate(runs):
        results = run.get("results", []) if isinstance(run, Mapping) else None
        if not isinstance(results, list):
            raise PolicyError(f"baseline {name}: runs[{r}].results is not a list")
        for result in results:
            prints = result.get("partialFingerprints") if isinstance(result, Mapping) else None
            fp = prints.get(SARIF_FINGERPRINT_KEY) if isinstance(prints, Mapping) else None
            # a result without our fingerprint (another tool's run) matches nothing
            if isinstance(fp, str) and fp:
                yield fp

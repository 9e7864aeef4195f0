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
from auditor.inputs import BASELINE, read_text
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
        text = read_text(path, BASELINE)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PolicyError(f"baseline {name} is not JSON (line {exc.lineno}): "
                              f"{exc.msg}") from None
        except RecursionError:
            raise PolicyError(f"baseline {name} nests arrays or objects too deeply to be "
                              "a report") from None
        except ValueError:  # Python reads no integer of more than 4,300 digits
            raise PolicyError(f"baseline {name} holds a number too long to read") from None
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
            yield _fingerprint(item, f"baseline {name}: findings[{i}]")
        else:
            raise PolicyError(f"baseline {name}: findings[{i}] has neither `fingerprint` "
                              "nor `rule_id`")


def _fingerprint(item: Mapping[str, Any], where: str) -> str:
    """Finding.fingerprint of a reported finding; only the fields it depends on matter."""
    evidence = item.get("evidence")
    evidence = evidence if isinstance(evidence, Mapping) else {}
    fields = {"rule_id": item["rule_id"], "path": item.get("path"),
              "package": item.get("package"), "evidence.subject": evidence.get("subject")}
    for key, value in fields.items():
        if value is not None and not _is_report_text(value):
            raise PolicyError(f"{where}.{key} is not what a report holds there (a string "
                              f"of UTF-8 text, or null), so the finding cannot be matched")
    label = item.get("package")
    return Finding(
        rule_id=item["rule_id"], category="config", severity="info", title="", message="",
        path=item.get("path") or None,
        package=PackageRef.from_label(label) if isinstance(label, str) and label else None,
        evidence=Evidence(subject=str(evidence["subject"])) if evidence.get("subject")
        else Evidence(),
    ).fingerprint


def _is_report_text(value: Any) -> bool:
    """A string a report can hold: UTF-8, where undecodable bytes of an image's names are
    carried as the surrogates U+DC80..U+DCFF, never as any other lone surrogate."""
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return False
    return True


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

"""Small, fixed reports for the report-format tests: a real image built with layerkit, and
findings and a verdict written out by hand, so the golden files change only when a
writer does (not when a detector or the policy's arithmetic does)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

from auditor.audit import audit_image
from auditor.filetree import squash_layers
from auditor.model.evidence import Evidence
from auditor.model.findings import SEVERITIES, Finding, Rule
from auditor.model.image import ImageConfig, Skipped
from auditor.model.package import PackageRef
from auditor.model.result import Report
from auditor.model.suggestion import Suggestion
from auditor.policy import Verdict, Waiver
from auditor.reports.sarif import RuleDoc
from tests.layerkit import D, F, L, image_of

HISTORY = [
    "/bin/sh -c #(nop) ADD file:0123456789abcdef in / ",
    "/bin/sh -c apt-get update && apt-get install -y curl build-essential",
    "COPY . /app # buildkit",
]


def finding(rule_id: str, category: str, severity: str, title: str, message: str, *,
            path: str | None = None, paths: tuple[str, ...] = (), package: str | None = None,
            layer: int | None = None, size: int = 0, fix: str = "",
            evidence: dict[str, Any] | None = None) -> Finding:
    return Finding(rule_id=rule_id, category=category, severity=severity, title=title,
                   message=message, path=path,
                   package=PackageRef.from_label(package) if package else None, layer=layer,
                   created_by=HISTORY[layer] if layer is not None else None, bytes=size,
                   fix=fix, paths=paths or ((path,) if path else ()),
                   evidence=Evidence.of(**(evidence or {})))


FINDINGS = [
    finding("AUD-SECRET-PRIVATE-KEY", "secret", "critical", "Private key in the image",
            "/app/deploy.pem: RSA private key", path="/app/deploy.pem", layer=2, size=1679,
            fix="Revoke and rotate it.", evidence={"kind": "rsa"}),
    finding("AUD-SHELL", "shell", "medium", "Shell present",
            "shell dash at /usr/bin/dash (also /bin/sh), from package dash",
            path="/usr/bin/dash", paths=("/usr/bin/dash", "/bin/sh"), package="dash@0.5.12-2",
            layer=0, size=195584, fix="Use a final stage without a shell."),
    finding("AUD-COMPILER", "compiler", "high", "Compiler present", "gcc 12 at /usr/bin/gcc-12",
            path="/usr/bin/gcc-12", package="gcc-12@12.2.0-14", layer=1, size=1_050_000,
            fix="Build in a separate stage."),
    finding("AUD-CACHE", "cache", "low", "Package or build cache left in the image",
            "downloaded .deb packages in /var/cache/apt/archives: 6.1 MB in 22 files",
            path="/var/cache/apt/archives", layer=1, size=6_122_120,
            fix="Clean the cache in the same RUN."),
    finding("AUD-ROOT-USER", "root-user", "high", "Container runs as root",
            "no USER: the container runs as root", fix="Add a USER.",
            evidence={"subject": "USER"}),
    finding("AUD-NO-HEALTHCHECK", "config", "info", "No HEALTHCHECK",
            "The image has no HEALTHCHECK | and a pipe in its message.",
            evidence={"subject": "healthcheck"}),
    finding("AUD-BUILD-FILE", "leftover-source", "low", "Build, test, CI or IDE files",
            "/app/odd\udcffname `x` <b>|y|</b>: a name that is not UTF-8",
            path="/app/odd\udcffname `x` <b>|y|</b>", layer=2, size=12),
]
WAIVED = finding("AUD-SETUID", "setuid", "high", "setuid executable",
                 "/usr/bin/passwd is setuid", path="/usr/bin/passwd", package="passwd@1:4.13",
                 layer=0, size=68248)

# Documentation that stays put: the goldens must not follow the detectors' docstrings.
CATALOGUE = {f.rule_id: RuleDoc(Rule(f.rule_id, f.category, f.severity, f.title, fix=f.fix),
                                f"**{f.title}.** Documentation of {f.rule_id}.\n\n"
                                "A second paragraph.")
             for f in [*FINDINGS, WAIVED]}

SUGGESTIONS = (
    Suggestion("Build in a separate stage",
               "gcc-12 [AUD-COMPILER, AUD-CACHE] came in with the RUN at line 4. Build in a "
               "stage of its own and copy the result:\n\n"
               "# auditor: the build stage\nFROM debian:bookworm AS build\n"
               "RUN apt-get update && apt-get install -y \\\n    build-essential\n"
               "COPY --from=build /app /app\n"
               "Then `docker build .` as before; <nothing> else changes.",
               saves_bytes=250_000_000, layer=1, dockerfile_line=4,
               rule_ids=("AUD-CACHE", "AUD-COMPILER")),
    Suggestion("Use a distroless base", "FROM gcr.io/distroless/static-debian12",
               saves_bytes=70_000_000),
)


def many_findings(n: int) -> list[Finding]:
    """``n`` findings of every severity in turn, each on its own path."""
    return [finding("AUD-SETUID", "setuid", SEVERITIES[i % len(SEVERITIES)],
                    "setuid executable", f"file {i}", path=f"/usr/lib/x/{i:05d}", layer=0,
                    size=i) for i in range(n)]


def sample_image() -> Any:
    return image_of(
        [D("/etc"), F("/etc/passwd", "root:x:0:0::/root:/bin/sh\n"), D("/usr/bin"),
         F("/usr/bin/dash", b"\x7fELF" + b"\0" * 60, mode=0o755), L("/bin/sh", "dash")],
        [F("/usr/bin/gcc-12", b"\x7fELF" + b"\0" * 100, mode=0o755)],
        [D("/app"), F("/app/deploy.pem", "-----BEGIN RSA PRIVATE KEY-----\n")],
        config=ImageConfig(cmd=("/app/run",)), history=HISTORY)


def sample_report(*, verdict: bool = True, findings: list[Finding] | None = None,
                  reference: str = "registry.example:5000/team/app:1.4",
                  skipped: bool = True, suggestions: bool = True) -> Report:
    image = replace(sample_image(), reference=reference)
    result = audit_image(image, squash_layers(list(image.layers)), detect=False)
    result = replace(result, findings=tuple(FINDINGS if findings is None else findings),
                     skipped=(Skipped("layer 2: app/huge.bin", "large member not read"),)
                     if skipped else ())
    report = Report(result, suggestions=SUGGESTIONS if suggestions else ())
    if verdict:
        report = replace(report, verdict=sample_verdict(list(result.findings)),
                         policy_name="default", policy_source="builtin:default")
    return report


def bare_report() -> Report:
    """The sample as a bare audit: no verdict, nothing skipped, no suggestions."""
    return sample_report(verdict=False, skipped=False, suggestions=False)


def sample_verdict(findings: list[Finding]) -> Verdict:
    return Verdict(
        policy="default", policy_source="builtin:default", score=38, grade="F", passed=False,
        reasons=["category secret is set to fail: 1 finding"], findings=list(findings),
        suppressed=[(WAIVED, "waiver until 2030-01-01: the base image's own passwd")],
        expired_waivers=[Waiver("old", date(2020, 1, 1), rule="AUD-SHELL")],
        new_findings=None,
        actions={f.fingerprint: "fail" if f.category == "secret" else "warn" for f in findings},
    )

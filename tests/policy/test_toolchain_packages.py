"""Package version rules apply to what no package database records: Go modules, Java
archives and runtimes, from the catalogers that read them out of the image's files."""

from __future__ import annotations

from pathlib import Path

from auditor.policy import evaluate
from auditor.policy.model import PACKAGE_FORBIDDEN
from tests.inventory import official
from tests.inventory.kit import inventory
from tests.inventory.test_golang import go_elf
from tests.inventory.test_java import jar, pom
from tests.layerkit import F
from tests.policy.helpers import policy_of

RULES = """
[[packages]]
name = "golang.org/x/net"
versions = "<0.17.0"
ecosystem = "golang"
reason = "HTTP/2 rapid reset"
[[packages]]
name = "stdlib"
versions = "<1.21.4"
ecosystem = "golang"
[[packages]]
name = "org.apache.logging.log4j:log4j-core"
versions = ">=2.0,<2.17.1"
ecosystem = "maven"
[[packages]]
name = "temurin"
versions = "<17.0.10"
ecosystem = "runtime"
[[packages]]
name = "node"
versions = "<20.0"
ecosystem = "runtime"
"""


def test_version_rules_reach_go_modules_java_archives_and_runtimes(tmp_path: Path) -> None:
    layer = [F("/app/server", go_elf(), mode=0o755),
             F("/app/lib/log4j-core.jar", jar(pom("org.apache.logging.log4j", "log4j-core",
                                                  "2.14.1"))),
             F("/app/lib/log4j-api.jar", jar(pom("org.apache.logging.log4j", "log4j-api",
                                                 "2.14.1"))),
             *official.JDK, *official.NODE]
    inv = inventory(layer)
    verdict = evaluate(policy_of(tmp_path, RULES), [], packages=inv.packages,
                       image_size=1, wasted_bytes=0)
    found = sorted((f.package_label or "", verdict.action(f)) for f in verdict.findings
                   if f.rule_id == PACKAGE_FORBIDDEN.id)
    assert found == [
        ("golang.org/x/net@v0.0.0-20231201-abcdef123456", "fail"),  # a pseudo-version
        ("org.apache.logging.log4j:log4j-core@2.14.1", "fail"),
        ("temurin@17.0.9", "fail"),
    ]  # stdlib 1.21.5, node 20.10.0 and log4j-api are outside the rules' versions

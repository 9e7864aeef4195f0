"""Suggestions: each tied to its findings, layer and line, with text to paste and bytes."""

from __future__ import annotations

from dataclasses import replace

from auditor.fixes.suggestions import suggest
from auditor.inventory import Inventory, Package
from auditor.model.evidence import Evidence, JsonValue, LayerStep
from auditor.model.findings import Finding
from auditor.model.image import HistoryEntry, ImageConfig
from auditor.model.package import PackageRef
from auditor.model.result import AuditResult
from auditor.model.suggestion import Suggestion
from tests.fixes.fixkit import APP, BASE, HISTORY, Closure, attribution_of, result_of
from tests.layerkit import D, F

DOCKERFILE = """\
FROM base
RUN apt-get update && apt-get install -y gcc python3-pip
RUN pip install flask
COPY node_modules /app/node_modules
COPY id_rsa /root/.ssh/id_rsa
ENV API_TOKEN=ghp_secretvalue123
RUN cp /usr/bin/id /usr/local/bin/helper && chmod 4755 /usr/local/bin/helper
COPY hello /src/hello
USER toor
CMD ["/src/hello"]
"""
HIST = (
    HistoryEntry("", False, comment="Imported from -"),
    HistoryEntry("/bin/sh -c apt-get update && apt-get install -y gcc python3-pip", False),
    HistoryEntry("/bin/sh -c pip install flask", False),
    HistoryEntry("/bin/sh -c #(nop) COPY dir:aaaaaaaaaaaaaaaaaaaa in /app/node_modules ", False),
    HistoryEntry("/bin/sh -c #(nop) COPY file:bbbbbbbbbbbbbbbbbbbb in /root/.ssh/id_rsa ", False),
    HistoryEntry("/bin/sh -c #(nop)  ENV API_TOKEN=ghp_secretvalue123", True),
    HistoryEntry("/bin/sh -c cp /usr/bin/id /usr/local/bin/helper && chmod 4755 "
                 "/usr/local/bin/helper", False),
    HistoryEntry("/bin/sh -c #(nop) COPY file:cccccccccccccccccccc in /src/hello ", False),
    HistoryEntry("/bin/sh -c #(nop)  USER toor", True),
    HistoryEntry('/bin/sh -c #(nop)  CMD ["/src/hello"]', True),
)
LAYERS = (
    BASE,
    [D("/usr/bin"), F("/usr/bin/gcc", "g" * 5000, mode=0o755), D("/var/cache/apt"),
     F("/var/cache/apt/pkgcache.bin", "p" * 3000)],
    [D("/root/.cache/pip"), F("/root/.cache/pip/wheel", "w" * 700)],
    [D("/app/node_modules/ms"), F("/app/node_modules/ms/index.js", "m" * 400)],
    [D("/root/.ssh"), F("/root/.ssh/id_rsa", "k" * 50)],
    [D("/usr/local/bin"), F("/usr/local/bin/helper", "i" * 30, mode=0o4755)],
    APP,
)


def finding(rule: str, category: str, layer: int | None, path: str | None = None,
            size: int = 0, package: str | None = None,
            **evidence: JsonValue | LayerStep) -> Finding:
    return Finding(rule, category, "high", rule, f"{rule} message", path=path, layer=layer,
                   bytes=size, package=PackageRef.from_label(package) if package else None,
                   evidence=Evidence.of(**evidence))


def audit_with(*findings: Finding, history: tuple[HistoryEntry, ...] = HIST,
               layers: tuple = LAYERS, user: str = "toor") -> AuditResult:
    result = result_of(*layers, config=ImageConfig(cmd=("/src/hello",), user=user),
                       history=history)
    return replace(result, findings=findings)


def suggestions(result: AuditResult, closure: Closure | None = None, text: str = DOCKERFILE,
                attributed: bool = True) -> list[Suggestion]:
    attribution = attribution_of(result, text) if attributed else None
    return suggest(result, closure or Closure(), attribution)


def titled(found: list[Suggestion], start: str) -> Suggestion:
    [s] = [s for s in found if s.title.startswith(start)]
    return s


def test_toolchain_installed_by_the_users_run_moves_to_a_builder_stage():
    result = audit_with(finding("AUD-COMPILER", "compiler", 1, "/usr/bin/gcc", 5000, "gcc-12@1"))
    s = titled(suggestions(result), "Move line 2")
    assert s.dockerfile_line == 2 and s.layer == 1
    assert s.saves_bytes == sum(x.added_bytes for x in result.tree.layers) - 1300
    assert "AUD-COMPILER" in s.text and "gcc-12" in s.text
    assert "FROM scratch" in s.text and "COPY --from=build /src/hello /src/hello" in s.text
    assert "USER 65532:65532" in s.text


def test_toolchain_from_the_base_image_is_base_advice():
    result = result_of(*(BASE, APP), history=HISTORY)
    result = replace(result, findings=(
        finding("AUD-COMPILER", "compiler", 0, "/usr/bin/dash", 100, "gcc@1"),))
    found = suggest(result, Closure(), attribution_of(result))
    s = titled(found, "Build on base as a builder stage")
    assert s.dockerfile_line == 2 and s.layer == 0
    assert "FROM at line 2" in s.text


def test_no_closure_no_stage_suggestion():
    result = audit_with(finding("AUD-COMPILER", "compiler", 1, "/usr/bin/gcc", 5000))
    assert not [s for s in suggest(result, None, attribution_of(result, DOCKERFILE))
                if "builder stage" in s.title]


def test_a_base_that_brings_only_a_shell_gets_a_smaller_base():
    result = result_of(*(BASE, APP), history=HISTORY)
    result = replace(result, findings=(
        finding("AUD-SHELL", "shell", 0, "/usr/bin/dash", 100, "dash@1"),))
    s = titled(suggest(result, Closure(), attribution_of(result)), "Use scratch instead of base")
    assert s.dockerfile_line == 2 and s.saves_bytes > 0
    assert "distroless/cc" in s.text and "AUD-SHELL" in s.text


def test_root_user_points_at_the_user_line():
    s = titled(suggestions(audit_with(finding("AUD-ROOT-USER", "root-user", None))),
               "Run as a non-root user")
    assert s.dockerfile_line == 9 and "USER toor (line 9) is uid 0" in s.text
    assert "USER 65532:65532" in s.text and s.saves_bytes == 0


def test_cache_cleanup_goes_into_the_run_that_made_it():
    result = audit_with(finding("AUD-CACHE", "cache", 1, "/var/cache/apt/pkgcache.bin", 3000),
                        finding("AUD-APT-LISTS-KEPT", "config", 1, bytes_in_final_tree=0))
    s = titled(suggestions(result), "Clean caches in the RUN at line 2")
    assert s.saves_bytes == 3000 and s.layer == 1
    assert ("RUN apt-get update && apt-get install -y gcc python3-pip \\\n && apt-get clean "
            "\\\n && rm -rf /var/lib/apt/lists/*") in s.text


def test_a_cache_the_base_left_is_not_pinned_on_a_user_line():
    result = audit_with(finding("AUD-CACHE", "cache", 0, "/var/cache/apt/pkgcache.bin", 3000))
    assert not [s for s in suggestions(result) if s.title.startswith("Clean caches")]


def test_no_install_recommends_amends_the_install():
    result = audit_with(finding("AUD-APT-RECOMMENDS", "config", 1))
    s = titled(suggestions(result), "apt-get install --no-install-recommends at line 2")
    assert "apt-get install --no-install-recommends -y gcc python3-pip" in s.text


def test_pip_cache_gets_no_cache_dir():
    result = audit_with(finding("AUD-PIP-CACHE", "config", 2, bytes_in_final_tree=700))
    s = titled(suggestions(result), "pip install --no-cache-dir at line 3")
    assert "RUN pip install --no-cache-dir flask" in s.text and s.saves_bytes == 700


def test_npm_dev_dependencies_name_the_copy_that_brought_them():
    result = audit_with()
    result = replace(result, inventory=Inventory(packages=[
        Package("ms", "2.1.3", "npm", files=("/app/node_modules/ms/index.js",),
                installed_size=400, location="/app/node_modules/ms/index.js", dev=True),
        Package("is-number", "7.0.0", "npm", dev=False)]))
    s = titled(suggestions(result), "Install production dependencies only")
    assert s.saves_bytes == 400 and s.dockerfile_line == 4 and s.layer == 3
    assert "ms" in s.text and "is-number" not in s.text and "npm ci --omit=dev" in s.text


def test_secret_file_and_env_are_tied_to_their_lines_without_the_value():
    result = audit_with(
        finding("AUD-SECRET-PRIVATE-KEY", "secret", 4, "/root/.ssh/id_rsa", 50),
        finding("AUD-SECRET-ENV", "secret", None, variable="API_TOKEN", value="ghp_****"))
    found = suggestions(result)
    key = titled(found, "Keep /root/.ssh/id_rsa out of the image")
    assert key.dockerfile_line == 5 and "COPY at line 5" in key.text
    assert "RUN --mount=type=secret,id=id_rsa,target=/root/.ssh/id_rsa" in key.text
    env = titled(found, "Remove ENV API_TOKEN")
    assert env.dockerfile_line == 6
    assert all("ghp_secretvalue123" not in s.text for s in found)


def test_setuid_added_by_a_run_drops_the_bit_there():
    result = audit_with(finding("AUD-SETUID", "setuid", 5, "/usr/local/bin/helper", 30))
    s = titled(suggestions(result), "Drop the setuid bit")
    assert s.dockerfile_line == 7 and "&& chmod u-s,g-s /usr/local/bin/helper" in s.text


def test_packaged_setuid_is_left_to_the_base_advice():
    result = audit_with(finding("AUD-SETUID", "setuid", 5, "/usr/local/bin/helper", 30,
                                package="mount@2"))
    assert not [s for s in suggestions(result) if s.title.startswith("Drop the setuid")]


def test_waste_across_two_runs_is_merged_into_one():
    text = "FROM base\nRUN apt-get install -y curl\nRUN apt-get purge -y curl\n"
    history = (HIST[0], HistoryEntry("/bin/sh -c apt-get install -y curl", False),
               HistoryEntry("/bin/sh -c apt-get purge -y curl", False))
    layers = (BASE, [F("/x", "x")], [F("/y", "y")])
    result = audit_with(finding("AUD-WASTE", "wasted-space", 1, size=9000,
                                written_by=LayerStep(1, None), removed_by=LayerStep(2, None)),
                        history=history, layers=layers, user="")
    s = titled(suggestions(result, text=text), "Merge the RUNs at lines 2 and 3")
    assert s.saves_bytes == 9000
    assert "RUN apt-get install -y curl \\\n && apt-get purge -y curl" in s.text


def test_without_a_dockerfile_suggestions_have_no_lines():
    result = audit_with(finding("AUD-COMPILER", "compiler", 1, "/usr/bin/gcc", 5000),
                        finding("AUD-ROOT-USER", "root-user", None))
    found = suggestions(result, attributed=False)
    assert {s.title for s in found} >= {"Use a multi-stage build: ship only the runtime files",
                                        "Run as a non-root user: USER 65532:65532"}
    assert all(s.dockerfile_line is None for s in found)


def test_a_clean_image_gets_nothing():
    assert suggestions(audit_with(user="1000")) == []


def test_a_stage_fix_never_claims_to_remove_what_it_copies() -> None:
    # default.tar runs `sh app.sh`, and /bin/sh is busybox: copying the shell keeps the
    # multi-call binary, so its network and dpkg applets stay with it.
    from pathlib import Path

    from auditor.audit import AuditRequest, audit

    archive = Path(__file__).resolve().parents[2] / "fixtures" / "default.tar"
    report = audit(AuditRequest(str(archive), bases=lambda: ()))
    assert report.closure is not None and "/bin/busybox" in report.closure.files
    for s in report.suggestions:
        removes = s.text.split(" removes: ", 1)[1].split("]", 1)[0] if " removes: " in s.text \
            else ""
        assert "/bin/busybox" not in removes, s.text
    [kept] = [s for s in report.suggestions if "removes nothing" in s.title]
    assert "multi-call binary" in kept.text and kept.saves_bytes == 0
    assert set(kept.rule_ids) == {"AUD-NET-MULTICALL", "AUD-PKG-MANAGER-MULTICALL",
                                  "AUD-SHELL-MULTICALL"}


def test_fix_on_an_image_it_cannot_improve_writes_the_dockerfile_unchanged() -> None:
    # busybox-app (default.tar) needs its busybox shell: a new stage would remove nothing
    from pathlib import Path

    from auditor.audit import AuditRequest, fix
    from auditor.policy import load_policy

    root = Path(__file__).resolve().parents[2] / "fixtures"
    text = (root / "busybox-app" / "Dockerfile").read_text()
    done = fix(AuditRequest(str(root / "default.tar"), policy=load_policy("default"),
                            dockerfile_text=text, bases=lambda: ()))
    assert done.rewrite.text == text
    assert done.rewrite.notes[0].startswith("nothing to fix:")
    assert done.expected == done.report.verdict

from __future__ import annotations

import pytest

from auditor.detectors.history import _literal_head, detect
from tests.detectors.configkit import context_of, nop, run
from tests.layerkit import D, F, W

# -- findings -------------------------------------------------------------------------------

BASE = [D("/etc"), F("/etc/os-release", "ID=debian\n")]
LISTS = "/var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages"
DEB = "/var/cache/apt/archives/curl_7.88.1_amd64.deb"


def apt_layer(*extra):
    return [D("/var"), D("/var/lib"), D("/var/lib/apt"), D("/var/lib/apt/lists"),
            D("/var/cache"), D("/var/cache/apt"), D("/var/cache/apt/archives"),
            F("/usr/bin/curl", b"\x7fELF", mode=0o755), *extra]


def history_findings(*layers, history, rule_id=None, config=None):
    return run(detect, context_of(*layers, history=history, config=config), rule_id)


def rules_of(found):
    return sorted(f.rule_id for f in found)


def test_trouble_shape_update_and_install_keeping_lists_then_deleting_them():
    found = history_findings(
        BASE, apt_layer(F(LISTS, b"P" * 100), F(DEB, b"D" * 50)), [W(LISTS)],
        history=["", "/bin/sh -c apt-get update && apt-get install -y curl",
                 "/bin/sh -c apt-get purge -y curl && rm -rf /var/lib/apt/lists/*"])
    assert rules_of(found) == ["AUD-APT-CACHE-KEPT", "AUD-APT-LISTS-KEPT",
                               "AUD-APT-RECOMMENDS"]
    lists = next(f for f in found if f.rule_id == "AUD-APT-LISTS-KEPT")
    assert lists.layer == 1 and lists.bytes == 100
    assert lists.created_by == "/bin/sh -c apt-get update && apt-get install -y curl"
    assert lists.evidence["bytes_in_final_tree"] == 0
    assert "later layer deleted them" in lists.message
    debs = next(f for f in found if f.rule_id == "AUD-APT-CACHE-KEPT")
    assert debs.evidence["bytes_in_final_tree"] == 50 and "still in the final image" in \
        debs.message


def test_clean_apt_run_is_not_reported():
    assert history_findings(BASE, apt_layer(), history=[
        "", "/bin/sh -c apt-get update && apt-get install -y --no-install-recommends curl "
            "&& apt-get clean && rm -rf /var/lib/apt/lists/*"]) == []


def test_lists_removed_some_other_way_are_judged_by_the_layer():
    assert history_findings(BASE, apt_layer(), rule_id="AUD-APT-LISTS-KEPT", history=[
        "", "/bin/sh -c apt-get update && apt-get install -y --no-install-recommends x "
            "&& find /var/lib/apt/lists -type f -delete"]) == []


def test_without_a_layer_mapping_the_command_line_decides():
    found = history_findings(BASE, apt_layer(), rule_id="AUD-APT-LISTS-KEPT", history=[
        "/bin/sh -c apt-get update && apt-get install -y --no-install-recommends curl"])
    assert len(found) == 1 and found[0].layer is None
    assert "unknown" in found[0].evidence["layer_contents"]


@pytest.mark.parametrize("run_line", [
    "apt-get update", "apt-get -q update", "apk update",
    "apt-get update && echo done"], ids=["apt-get", "apt-get-option", "apk", "no-install"])
def test_update_alone(run_line):
    [f] = history_findings(BASE, [F("/x", b"")], rule_id="AUD-UPDATE-ALONE",
                           history=["", f"/bin/sh -c {run_line}"])
    assert f.layer == 1 and f.evidence["commands"]


@pytest.mark.parametrize("run_line", [
    "apt-get update && apt-get install -y x", "apk update && apk add x",
    "apt-get update && apt-get -y dist-upgrade", "echo apt-get update"],
    ids=["with-install", "apk-with-add", "with-upgrade", "only-an-echo"])
def test_not_update_alone(run_line):
    assert history_findings(BASE, [F("/x", b"")], rule_id="AUD-UPDATE-ALONE",
                            history=["", f"/bin/sh -c {run_line}"]) == []


@pytest.mark.parametrize("run_line, flagged", [
    ("apt-get install -y curl", True),
    ("apt install -y curl", True),
    ("apt-get install -y --no-install-recommends curl", False),
    ("apt-get -o APT::Install-Recommends=false install -y curl", False),
    ("apt-get install -y ./local.deb --no-install-recommends", False),
    ("apt-get install -y", False),
], ids=["apt-get", "apt", "flag", "option", "flag-after-package", "nothing-to-install"])
def test_install_recommends(run_line, flagged):
    found = history_findings(BASE, [F("/x", b"")], rule_id="AUD-APT-RECOMMENDS",
                             history=["", f"/bin/sh -c {run_line}"])
    assert bool(found) is flagged


def test_install_recommends_turned_off_by_apt_conf_in_the_image():
    conf = [D("/etc/apt"), D("/etc/apt/apt.conf.d"),
            F("/etc/apt/apt.conf.d/99norecommends", 'APT::Install-Recommends "false";\n')]
    assert history_findings([*BASE, *conf], [F("/x", b"")], rule_id="AUD-APT-RECOMMENDS",
                            history=["", "/bin/sh -c apt-get install -y curl"]) == []


APK_INDEX = "/var/cache/apk/APKINDEX.12345678.tar.gz"


@pytest.mark.parametrize("run_line, layer, flagged", [
    ("apk add curl", [D("/var/cache/apk"), F(APK_INDEX, b"i" * 10)], True),
    ("apk add --virtual .deps curl && apk del .deps", [D("/var/cache/apk"),
                                                        F(APK_INDEX, b"i")], True),
    ("apk add --no-cache curl", [F("/usr/bin/curl", b"c")], False),
    ("apk add curl && rm -rf /var/cache/apk/*", [F("/usr/bin/curl", b"c")], False),
], ids=["cache-kept", "virtual-option-value", "no-cache", "removed-in-same-run"])
def test_apk_add_without_no_cache(run_line, layer, flagged):
    found = history_findings(BASE, layer, rule_id="AUD-APK-NO-CACHE",
                             history=["", f"/bin/sh -c {run_line}"])
    assert bool(found) is flagged


@pytest.mark.parametrize("run_line, path, rule_id", [
    ("yum install -y httpd", "/var/cache/yum/x86_64/8/base/packages/httpd.rpm",
     "AUD-RPM-CACHE-KEPT"),
    ("dnf -y install httpd", "/var/cache/dnf/base-1/packages/httpd.rpm", "AUD-RPM-CACHE-KEPT"),
    ("zypper --non-interactive in curl", "/var/cache/zypp/packages/x.rpm",
     "AUD-RPM-CACHE-KEPT"),
    ("pip install flask", "/root/.cache/pip/http/a/b", "AUD-PIP-CACHE"),
    ("python3 -m pip install flask", "/root/.cache/pip/wheels/a.whl", "AUD-PIP-CACHE"),
    ("cd /app && npm ci", "/root/.npm/_cacache/content-v2/sha512/ab", "AUD-NPM-CACHE"),
    ("yarn install --frozen-lockfile", "/usr/local/share/.cache/yarn/v6/x", "AUD-NPM-CACHE"),
], ids=["yum", "dnf", "zypper", "pip", "python-m-pip", "npm-ci", "yarn"])
def test_package_caches_left_in_the_layer(run_line, path, rule_id):
    [f] = history_findings(BASE, [F(path, b"c" * 7)], rule_id=rule_id,
                           history=["", f"/bin/sh -c {run_line}"])
    assert f.bytes == 7 and f.layer == 1 and f.evidence["sample"] == [path]


@pytest.mark.parametrize("run_line, path", [
    ("pip install --no-cache-dir flask", "/root/.cache/pip/http/a"),
    ("pip install flask", "/usr/lib/python3/dist-packages/flask/__init__.py"),
    ("pip download flask", "/root/.cache/pip/http/a"),
    ("yum install -y httpd && yum clean all", "/usr/sbin/httpd"),
], ids=["no-cache-dir", "nothing-cached", "not-an-install", "cleaned"])
def test_package_caches_not_reported(run_line, path):
    found = history_findings(BASE, [F(path, b"c")], history=["", f"/bin/sh -c {run_line}"])
    assert [f for f in found if f.rule_id in ("AUD-PIP-CACHE", "AUD-RPM-CACHE-KEPT")] == []


@pytest.mark.parametrize("run_line, severity", [
    ("apt-get update && apt-get -y dist-upgrade", "low"),
    ("apt-get update && apt-get upgrade -y", "info"),
    ("apk upgrade --no-cache", "info"),
    ("yum -y update", "info"),
    ("dnf distro-sync -y", "low"),
], ids=["apt-dist-upgrade", "apt-upgrade", "apk-upgrade", "yum-update-all", "dnf-distro-sync"])
def test_distribution_upgrade(run_line, severity):
    [f] = history_findings(BASE, [F("/x", b"")], rule_id="AUD-PKG-UPGRADE",
                           history=["", f"/bin/sh -c {run_line}"])
    assert f.severity == severity


def test_updating_one_package_is_not_a_distribution_upgrade():
    assert history_findings(BASE, [F("/x", b"")], rule_id="AUD-PKG-UPGRADE",
                            history=["", "/bin/sh -c yum -y update openssl"]) == []


def test_sudo_in_run():
    [f] = history_findings(BASE, [F("/x", b"")], rule_id="AUD-SUDO-RUN",
                           history=["", "RUN /bin/sh -c sudo chown app /x # buildkit"])
    assert f.evidence["commands"] == ["sudo chown app /x"]
    assert f.created_by == "RUN /bin/sh -c sudo chown app /x # buildkit"


def test_sudo_mentioned_but_not_run():
    assert history_findings(BASE, [F("/x", b"")], rule_id="AUD-SUDO-RUN", history=[
        "", "/bin/sh -c apt-get install -y --no-install-recommends sudo && echo sudo"]) == []


def test_run_starting_with_cd_and_wget_plus_curl():
    found = history_findings(BASE, [F("/x", b"")], [F("/y", b"")], history=[
        "", "/bin/sh -c cd /opt && wget -q https://e.x/a", "/bin/sh -c curl -fsSO https://e.x/b"])
    assert rules_of(found) == ["AUD-RUN-CD", "AUD-WGET-AND-CURL"]


def test_relative_cd_is_not_reported():
    assert history_findings(BASE, [F("/x", b"")], rule_id="AUD-RUN-CD",
                            history=["", "/bin/sh -c cd build && make"]) == []


def test_empty_layer_steps_do_not_shift_the_layer():
    found = history_findings(
        BASE, [F("/x", b"")], [D("/var/cache/apk"), F(APK_INDEX, b"i")],
        history=["", nop("/bin/sh -c #(nop)  ENV A=1"), "/bin/sh -c touch /x",
                 nop("/bin/sh -c #(nop)  USER app"), "/bin/sh -c apk add curl"],
        rule_id="AUD-APK-NO-CACHE")
    assert [(f.layer, f.created_by) for f in found] == [(2, "/bin/sh -c apk add curl")]


# -- cache mounts ---------------------------------------------------------------------------

def test_buildah_recorded_mounts_leave_the_commands_readable():
    """buildah writes the RUN's flags in front of the script: the commands after them are
    still read (pip, not a program named --mount=...)."""
    found = history_findings(
        BASE, [F("/root/.cache/pip/http/a", b"w" * 10)], rule_id="AUD-PIP-CACHE",
        history=["", "/bin/sh -c --mount=type=bind,target=/src pip install flask"])
    assert len(found) == 1 and found[0].evidence["commands"] == ["pip install flask"]


@pytest.mark.parametrize("mount, flagged", [
    ("--mount=type=cache,target=/root/.cache/pip ", False),
    ("--mount=type=cache,target=/home/app/.cache ", False),
    ("--mount=type=cache,target=/var/cache/apk ", True),  # another cache
    ("", True),
])
def test_without_a_layer_mapping_a_mounted_pip_cache_is_not_reported(mount, flagged):
    found = history_findings(BASE, rule_id="AUD-PIP-CACHE", history=[
        "", f"/bin/sh -c {mount}pip install flask"])  # two steps, one layer: unmapped
    assert bool(found) is flagged


def test_without_a_layer_mapping_mounted_apt_lists_are_not_reported():
    run_line = ("/bin/sh -c --mount=type=cache,target=/var/cache/apt "
                "--mount=type=cache,target=/var/lib/apt/lists apt-get update && "
                "apt-get install -y --no-install-recommends curl")
    assert history_findings(BASE, apt_layer(), history=[run_line]) == []


def test_the_dockerfiles_mounts_reach_the_checks_when_buildkits_history_has_none(tmp_path):
    """BuildKit records `RUN /bin/sh -c pip install flask # buildkit`, without the mount:
    given the Dockerfile, the audit reads the mount from its RUN (through attribution)."""
    import json

    from auditor.audit import AuditRequest, audit
    from tests.imagekit import docker_save, sha
    from tests.layerkit import layer

    layers = [layer(*BASE), layer(F("/app/app.py", b"print(1)\n"))]
    history = ["ADD file:0123456789abcdef0123 in / ", "RUN /bin/sh -c pip install flask # buildkit",
               "RUN /bin/sh -c echo unmapped # buildkit"]  # three steps, two layers
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": [sha(x) for x in layers]},
                         "history": [{"created_by": h} for h in history]}).encode()
    path = docker_save(tmp_path / "image.tar", layers, config=config)
    dockerfile = ("FROM base\nRUN {}pip install flask\nRUN echo unmapped\n")

    def pip_findings(mount: str) -> list[str]:
        report = audit(AuditRequest(str(path), dockerfile_text=dockerfile.format(mount),
                                    bases=lambda: ()))
        return [f.rule_id for f in report.result.findings if f.rule_id == "AUD-PIP-CACHE"]

    assert pip_findings("") == ["AUD-PIP-CACHE"]
    assert pip_findings("--mount=type=cache,target=/root/.cache/pip ") == []


@pytest.mark.parametrize(("pattern", "head"), [
    (r"^/var/lib/apt/lists/(?!partial/|lock$)", "/var/lib/apt/lists/"),
    (r"^/var/cache/apt/archives/[^/]+\.deb$", "/var/cache/apt/archives/"),
    (r"^/var/cache/(?:yum|dnf)/", "/var/cache/"),
    (r"^/usr/local/share/\.cache/yarn/", "/usr/local/share/"),
    (r"^/ab?c", "/a"),  # the b is optional
    (r"/\.cache/pip/", None), (r"^(x)", None),
    (r"^/a/|/b/", None), (r"^/a/[|(]|x", None), (r"^/a/\(|x", None),  # a bar outside groups
])
def test_the_fixed_start_of_an_anchored_pattern(pattern: str, head: str | None) -> None:
    assert _literal_head(pattern) == head

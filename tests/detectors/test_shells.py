from __future__ import annotations

from functools import partial

import pytest

from auditor.detectors.shells import SHELL, SHELL_MULTICALL, detect
from tests.detectors.toolkit import (
    COREUTILS_APPLETS,
    busybox,
    exe,
    merged_usr,
    package,
    run_detector,
)
from tests.layerkit import D, F, H, L, W

run = partial(run_detector, detect)


def test_debian_bash_and_dash_are_one_finding_each_with_all_their_names():
    found = run([*merged_usr(), exe("/usr/bin/bash"), L("/usr/bin/rbash", "bash"),
                          exe("/usr/bin/dash"), L("/usr/bin/sh", "dash")])
    assert [(f.rule_id, f.path, f.paths) for f in found] == [
        (SHELL.id, "/usr/bin/bash", ("/usr/bin/bash", "/usr/bin/rbash")),
        (SHELL.id, "/usr/bin/dash", ("/usr/bin/dash", "/usr/bin/sh")),
    ]
    assert found[1].evidence["tool"] == "dash"
    assert found[1].evidence["format"] == "ELF"
    assert found[1].severity == "medium"


def test_a_package_owned_shell_names_the_package_and_costs_its_installed_size():
    found = run([*merged_usr(), exe("/usr/bin/bash"), L("/usr/bin/rbash", "bash")],
                packages=[package("bash", "/bin/bash", "/usr/bin/rbash", size=7_000_000,
                                  version="5.2.15-2")])
    assert len(found) == 1
    assert found[0].package_label == "bash@5.2.15-2"
    assert found[0].bytes == 7_000_000
    assert found[0].evidence["package_installed_size"] == 7_000_000


@pytest.mark.parametrize("layers, expected_applets", [
    pytest.param([busybox(["sh", "ash", "ls", "wget", "cat"])], ["sh", "ash"],
                 id="alpine-style-symlinks"),
    pytest.param([busybox(["sh", "ls", "cat"], hard=True)], ["sh"],
                 id="official-image-style-hard-links"),
    pytest.param([busybox([*COREUTILS_APPLETS, "sh", "hush"], name="multi")], ["sh", "hush"],
                 id="renamed-but-recognised-by-its-applet-links"),
])
def test_busybox_is_one_multicall_finding_naming_its_shell_applets(layers,
                                                                    expected_applets):
    found = run(*layers)
    assert [f.rule_id for f in found] == [SHELL_MULTICALL.id]
    finding = found[0]
    assert finding.evidence["applets"] == expected_applets
    assert set(finding.paths[1:]) == {f"/bin/{a}" for a in expected_applets}
    assert finding.evidence["recognised_by"]


def test_busybox_hard_linked_to_an_applet_name_first_is_still_busybox():
    # In a tar the first name is the file and the others hard links to it, so the real
    # file may well be /bin/[ rather than /bin/busybox.
    found = run([D("/bin"), exe("/bin/[", b"\x7fELF busybox"),
                          *[H(f"/bin/{n}", "/bin/[") for n in ("busybox", "sh", "ls")]])
    assert [f.rule_id for f in found] == [SHELL_MULTICALL.id]
    assert found[0].evidence["program"] == "busybox"


def test_busybox_without_a_shell_applet_is_not_a_shell():
    assert run(busybox(["ls", "wget", "cat"])) == []


@pytest.mark.parametrize("layer", [
    pytest.param([D("/usr"), D("/usr/share"), D("/usr/share/doc"), D("/usr/share/doc/bash"),
                  F("/usr/share/doc/bash/README", "bash docs")], id="doc-directory-named-bash"),
    pytest.param([D("/usr"), D("/usr/lib"), D("/usr/lib/tool"), exe("/usr/lib/tool/bash")],
                 id="executable-named-bash-off-the-path"),
    pytest.param([D("/usr"), D("/usr/bin"), F("/usr/bin/bash", b"\x7fELF", mode=0o644)],
                 id="not-executable"),
    pytest.param([D("/usr"), D("/usr/bin"), L("/usr/bin/sh", "dash")], id="dangling-link"),
    pytest.param([D("/usr"), D("/usr/bin"), exe("/usr/bin/bashbug",
                                                  b"#!/bin/sh\n"), exe("/usr/bin/shred")],
                 id="names-that-only-start-like-a-shell"),
    pytest.param([D("/usr"), D("/usr/share"), D("/usr/share/bash-completion"),
                  exe("/usr/share/bash-completion/bash_completion", b"#!/bin/bash\n")],
                 id="completion-script"),
])
def test_things_that_are_not_shells(layer):
    assert run(layer) == []


def test_a_shell_deleted_in_a_later_layer_is_not_reported():
    found = run([*merged_usr(), exe("/usr/bin/dash"), L("/usr/bin/sh", "dash")],
                [W("/usr/bin/dash"), W("/usr/bin/sh")])
    assert found == []


def test_versioned_names_count():
    found = run([D("/usr"), D("/usr/bin"), exe("/usr/bin/ksh93")])
    assert [(f.path, f.evidence["tool"]) for f in found] == [("/usr/bin/ksh93", "ksh")]


def test_the_images_own_env_path_is_searched():
    layer = [D("/opt"), D("/opt/tools"), D("/opt/tools/bin"), exe("/opt/tools/bin/zsh")]
    assert run(layer) == []
    found = run(layer, env=["PATH=/opt/tools/bin:/usr/bin", "HOME=/root"])
    assert [f.path for f in found] == ["/opt/tools/bin/zsh"]


def test_a_shell_script_wrapper_says_it_is_a_script():
    found = run([D("/usr"), D("/usr/bin"), exe("/usr/bin/fish", b"#!/bin/sh\nexec x\n")])
    assert found[0].evidence["format"] == "script"
    assert found[0].evidence["interpreter"] == "/bin/sh"


def test_layer_and_created_by_come_from_the_real_file():
    found = run([D("/usr"), D("/usr/bin")], [exe("/usr/bin/bash")],
                [L("/usr/bin/rbash", "bash")])
    assert (found[0].layer, found[0].created_by) == (1, "/bin/sh -c step 1")

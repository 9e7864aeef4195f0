from __future__ import annotations

from functools import partial

import pytest

from auditor.detectors.network_tools import DOWNLOADER, NET_MULTICALL, NET_TOOL, detect
from tests.detectors.toolkit import busybox, exe, merged_usr, package, run_detector
from tests.layerkit import D, F, L, W

run = partial(run_detector, detect)


def test_curl_is_a_high_downloader_finding_with_its_package():
    found = run([*merged_usr(), exe("/usr/bin/curl")],
                packages=[package("curl", "/usr/bin/curl", size=500_000)])
    assert [(f.rule_id, f.severity, f.path, f.package_label, f.bytes) for f in found] == [
        (DOWNLOADER.id, "high", "/usr/bin/curl", "curl@1.0", 500_000)]


def test_curl_purged_in_a_later_layer_is_not_reported():
    # The trouble fixture: only libcurl stays.
    found = run(
                [*merged_usr(), D("/usr/lib/x86_64-linux-gnu"), exe("/usr/bin/curl"),
                 F("/usr/lib/x86_64-linux-gnu/libcurl.so.4.8.0", b"\x7fELF")],
                [W("/usr/bin/curl")],
                packages=[package("libcurl4", "/usr/lib/x86_64-linux-gnu/libcurl.so.4.8.0")])
    assert found == []


def test_netcat_through_alternatives_is_one_medium_finding_with_every_name():
    found = run([*merged_usr(), D("/etc/alternatives"), exe("/usr/bin/nc.openbsd"),
                          L("/etc/alternatives/nc", "/bin/nc.openbsd"),
                          L("/usr/bin/nc", "/etc/alternatives/nc"),
                          L("/etc/alternatives/netcat", "/bin/nc.openbsd"),
                          L("/usr/bin/netcat", "/etc/alternatives/netcat")])
    assert len(found) == 1
    assert (found[0].rule_id, found[0].severity) == (NET_TOOL.id, "medium")
    assert found[0].paths == ("/usr/bin/nc.openbsd", "/usr/bin/nc", "/usr/bin/netcat",
                              "/etc/alternatives/nc", "/etc/alternatives/netcat")


def test_openssh_client_is_one_finding_for_ssh_scp_and_sftp():
    files = ("/usr/bin/ssh", "/usr/bin/scp", "/usr/bin/sftp")
    found = run([*merged_usr(), *(exe(p) for p in files)],
                packages=[package("openssh-client", *files, size=3_000_000)])
    assert [(f.path, f.evidence["commands"]) for f in found] == [
        ("/usr/bin/ssh", ["scp", "sftp", "ssh"])]


@pytest.mark.parametrize("name, rule", [
    ("wget", DOWNLOADER), ("socat", NET_TOOL), ("telnet", NET_TOOL), ("ftp", NET_TOOL),
    ("tftp", NET_TOOL), ("rsync", NET_TOOL), ("ncat", NET_TOOL),
])
def test_each_network_tool(name, rule):
    found = run([D("/usr"), D("/usr/bin"), exe(f"/usr/bin/{name}")])
    assert [f.rule_id for f in found] == [rule.id]


@pytest.mark.parametrize("applets, severity", [
    pytest.param(["sh", "ls", "wget", "nc", "telnet", "ftpget"], "high", id="with-wget"),
    pytest.param(["sh", "ls", "nc", "telnet"], "medium", id="without-wget"),
])
def test_busybox_network_applets_are_one_finding(applets, severity):
    found = run(busybox(applets))
    assert [(f.rule_id, f.severity, f.path) for f in found] == [
        (NET_MULTICALL.id, severity, "/bin/busybox")]
    assert "sh" not in found[0].evidence["applets"]


@pytest.mark.parametrize("layer", [
    pytest.param([D("/usr"), D("/usr/share"), D("/usr/share/doc"), D("/usr/share/doc/curl"),
                  F("/usr/share/doc/curl/copyright", "")], id="curl-docs"),
    pytest.param([D("/usr"), D("/usr/bin"), exe("/usr/bin/curl-config", b"#!/bin/sh\n"),
                  exe("/usr/bin/ssh-keygen"), exe("/usr/bin/wget-wrapper-notes", b"#!/bin/sh\n")],
                 id="names-that-only-start-like-a-tool"),
    pytest.param([D("/app"), exe("/app/curl")], id="tool-named-file-off-the-path"),
])
def test_things_that_are_not_network_tools(layer):
    assert run(layer) == []

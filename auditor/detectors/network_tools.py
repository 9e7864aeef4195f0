"""Network tools: downloaders, raw socket tools and remote-shell clients."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.detectors import ScanContext, detector
from auditor.detectors._tools import Family, ToolTable, tool_findings
from auditor.model.findings import Finding, Rule

DOWNLOADER = Rule(
    "AUD-NET-DOWNLOADER", "network-tool", "high", "Downloader present (curl, wget)",
    fix="Fetch files in a build stage and COPY --from them; for health checks use the "
        "app's own binary or a tiny static probe instead of curl/wget.",
)
NET_TOOL = Rule(
    "AUD-NET-TOOL", "network-tool", "medium", "Network tool present",
    fix="Remove the package from the final stage (apt-get purge / apk del in the same "
        "layer as its last use), or build a distroless or scratch image that lacks it.",
)
NET_MULTICALL = Rule(
    "AUD-NET-MULTICALL", "network-tool", "medium",
    "Multi-call binary provides network applets",
    fix="Drop BusyBox/toybox from the final stage, or build it without wget, nc, telnet "
        "and ftp applets.",
)

NETWORK_TOOLS = ToolTable(
    Family("curl", DOWNLOADER, ("curl",), multicall_severity="high"),
    Family("wget", DOWNLOADER, ("wget", "wget2"), multicall_severity="high"),
    Family("aria2", DOWNLOADER, ("aria2c",)),
    Family("netcat", NET_TOOL, ("nc", "netcat", "ncat", "nc.openbsd", "nc.traditional")),
    Family("socat", NET_TOOL, ("socat",)),
    Family("telnet", NET_TOOL, ("telnet", "telnet.netkit", "inetutils-telnet")),
    Family("ftp", NET_TOOL, ("ftp", "lftp", "tnftp", "ftpget", "ftpput", "inetutils-ftp")),
    Family("tftp", NET_TOOL, ("tftp", "atftp")),
    Family("ssh", NET_TOOL, ("ssh", "scp", "sftp", "dbclient", "dropbear")),
    Family("rsync", NET_TOOL, ("rsync",)),
)
NOUNS = {DOWNLOADER.id: "downloader", NET_TOOL.id: "network tool",
         NET_MULTICALL.id: "network"}


@detector(DOWNLOADER, NET_TOOL, NET_MULTICALL)
def detect(ctx: ScanContext) -> Iterator[Finding]:
    """Finds tools that fetch files from, or open connections to, other hosts.

    **What it finds.** Downloaders (**AUD-NET-DOWNLOADER**, high: curl, wget, aria2c) and
    other network clients (**AUD-NET-TOOL**, medium: nc/netcat/ncat, socat, telnet,
    ftp/lftp, tftp, ssh/scp/sftp, rsync), reached by a command name in a search directory.
    One finding per tool, or per owning package (``openssh-client`` brings ssh, scp and
    sftp: one finding), with every name that leads to it (``nc -> /etc/alternatives/nc
    -> nc.openbsd``). A tool whose package was purged in a later layer is gone from the
    final tree and is not reported (its bytes are wasted space, which another detector
    reports).

    BusyBox's or toybox's network applets (``wget``, ``nc``, ``telnet``, ``ftpget``,
    ``ftpput``, ``tftp``) are reported once, as **AUD-NET-MULTICALL**: medium, or high
    when ``wget`` is among them.

    Renamed or off the search path, a tool is still found by its content: curl's ``Usage:
    curl [options...] <url>``, ``GNU Wget %s built on %s``, ``OpenBSD netcat (``, BusyBox's
    banner and applet table, toybox's help header and help text (see the shells
    detector). A program that links libcurl is no downloader: only curl's own program
    holds its usage line.

    **Why it matters.** A downloader is the second step of nearly every intrusion: fetch
    the payload, run it. netcat and socat open reverse shells; ssh, scp and rsync move
    data out. A runtime image rarely needs any of them; health checks are the usual
    excuse for curl.

    **How to fix.** Download in a build stage and ``COPY --from`` the result; probe
    health with the application's own binary. ``bytes`` is the owning package's
    installed size, else the file size.
    """
    yield from tool_findings(ctx, NETWORK_TOOLS, NOUNS, multicall_rule=NET_MULTICALL)

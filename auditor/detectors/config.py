"""The image config (health check, exposed ports, volumes), the instructions other than RUN
that the history shows (ADD, WORKDIR, MAINTAINER), and the sudo escape hatch."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Iterator
from dataclasses import replace

from auditor.detectors import ScanContext, detector
from auditor.detectors.permissions import under
from auditor.history import Step, build_steps
from auditor.model.evidence import Evidence, JsonValue
from auditor.model.findings import Finding, Rule
from auditor.model.image import DIR, FILE, RawEntry
from auditor.read.wants import Want

NO_HEALTHCHECK = Rule(
    "AUD-NO-HEALTHCHECK", "config", "info", "No HEALTHCHECK",
    fix="For a long-running service, add `HEALTHCHECK CMD [\"/app\", \"--health\"]` (exec "
        "form, no shell needed), or rely on your orchestrator's probes.")
SSH_PORT = Rule(
    "AUD-SSH-PORT", "config", "medium", "Port 22 (SSH) exposed",
    fix="Remove `EXPOSE 22` and the SSH server; use `docker exec` or `kubectl exec` to get "
        "into a container.")
SENSITIVE_VOLUME = Rule(
    "AUD-SENSITIVE-VOLUME", "config", "medium", "VOLUME over a system directory",
    fix="Remove the VOLUME; mount only the application's data directories.")
SUDO = Rule(
    "AUD-SUDO", "config", "medium", "sudo installed",
    fix="Do not install sudo; do privileged setup in RUN steps before `USER`, and run the "
        "process as its final user.")

ADD_REMOTE = Rule(
    "AUD-ADD-REMOTE", "config", "medium", "ADD fetches a remote URL",
    fix="Download with `RUN curl -fsSLo file URL && echo 'SHA256  file' | sha256sum -c -`, "
        "or use `ADD --checksum=sha256:...` (BuildKit) so the content is pinned.")
ADD_LOCAL = Rule(
    "AUD-ADD-LOCAL", "config", "low", "ADD used where COPY would do",
    fix="Use `COPY`; keep `ADD` for local tar archives that should be unpacked.")
WORKDIR_RELATIVE = Rule(
    "AUD-WORKDIR-RELATIVE", "config", "info", "Relative WORKDIR",
    fix="Give WORKDIR an absolute path.")
MAINTAINER = Rule(
    "AUD-MAINTAINER", "config", "info", "Deprecated MAINTAINER instruction",
    fix="Use `LABEL org.opencontainers.image.authors=\"...\"` instead.")

SUDO_CANDIDATES = ("/usr/bin/sudo", "/usr/sbin/sudo", "/usr/local/bin/sudo", "/bin/sudo",
                   "/sbin/sudo", "/usr/bin/doas", "/usr/local/bin/doas")
SUDOERS_LIMIT = 64 * 1024
WANTS = [Want("/etc/sudoers", SUDOERS_LIMIT), Want("/etc/sudoers.d/*", SUDOERS_LIMIT),
         Want("/etc/doas.conf", SUDOERS_LIMIT)]

# Kernel interfaces: a volume here hides the runtime's own mount and breaks or exposes it.
KERNEL_DIRS = ("/proc", "/sys", "/dev")
# System directories: a volume freezes or shares the system's own files.
SYSTEM_DIRS = ("/boot", "/etc", "/lib", "/lib64", "/usr", "/bin", "/sbin",
               "/run/docker.sock", "/var/run/docker.sock")


def _with_step(finding: Finding, step: Step | None) -> Finding:
    return replace(finding, created_by=step.created_by) if step is not None else finding


def _step_mentioning(steps: list[Step], instruction: str, pattern: str) -> Step | None:
    rx = re.compile(pattern)
    for step in reversed(steps):
        if step.instruction == instruction and rx.search(step.args):
            return step
    return None


@detector(NO_HEALTHCHECK, SSH_PORT, SENSITIVE_VOLUME)
def detect(ctx: ScanContext) -> Iterator[Finding]:
    """The runtime settings the image config carries.

    Finds: no `HEALTHCHECK` (or `HEALTHCHECK NONE`): `info`, raised to `low` when the image
    exposes ports and so looks like a service; it matters only to engines that act on it
    (Docker, Swarm; Kubernetes ignores it). `EXPOSE 22`: an SSH server in a container is a
    second way in that bypasses the runtime's access control and usually ships keys or
    passwords. A `VOLUME` on `/proc`, `/sys` or `/dev` (or `/`) hides the kernel
    interfaces the runtime mounts there; on `/etc`, `/usr`, `/lib`, `/boot`, `/bin`,
    `/sbin` or the Docker socket it freezes system files into a volume (`low`).

    These are Dockle's CIS-DI-0006 (health check) and DKL-DI-0002 (sensitive directory
    mount) and Trivy's "port 22 exposed" and "no HEALTHCHECK" checks.

    Fix: add a HEALTHCHECK to services, remove `EXPOSE 22`, and declare volumes only for
    application data.
    """
    config = ctx.image.config
    steps = build_steps(config, len(ctx.image.layers))

    health = config.healthcheck
    if not health or health[0].upper() == "NONE":
        ports = list(config.exposed_ports)
        disabled = bool(health)
        yield _with_step(ctx.finding(
            NO_HEALTHCHECK, ("HEALTHCHECK NONE disables the health check"
                             if disabled else "The image has no HEALTHCHECK")
            + (f"; it exposes {', '.join(ports)}, so it looks like a service." if ports
               else "."), severity="low" if ports else None,
            evidence=Evidence.of(healthcheck=list(health or ()), exposed_ports=ports,
                                 subject="healthcheck")),
            _step_mentioning(steps, "HEALTHCHECK", r"NONE") if disabled else None)

    for port in config.exposed_ports:
        number, _, proto = port.partition("/")
        if number == "22" and proto in ("", "tcp"):
            yield _with_step(ctx.finding(
                SSH_PORT, f"EXPOSE {port}: the image exposes port 22, the SSH port.",
                evidence=Evidence.of(port=port, subject=f"port {port}")),
                _step_mentioning(steps, "EXPOSE", r"(?<![0-9])22(?![0-9])"))

    for volume in config.volumes:
        path = posixpath.normpath("/" + volume.lstrip("/"))
        if path == "/" or under(path, KERNEL_DIRS):
            severity, kind = None, "a kernel interface the runtime mounts"
        elif under(path, SYSTEM_DIRS):
            severity, kind = "low", "system files"
        else:
            continue
        yield _with_step(ctx.finding(
            SENSITIVE_VOLUME, f"VOLUME {volume} covers {kind}.", severity=severity,
            evidence=Evidence.of(volume=volume, subject=f"volume {path}")),
            _step_mentioning(steps, "VOLUME", re.escape(volume)))


_NOPASSWD_RX = re.compile(r"^\s*([^#\s][^\n]*NOPASSWD[^\n]*)$", re.MULTILINE)
_DOAS_NOPASS_RX = re.compile(r"^\s*(permit\s+nopass\b[^\n]*)$", re.MULTILINE)


@detector(SUDO, wants=WANTS)
def detect_sudo(ctx: ScanContext) -> Iterator[Finding]:
    """sudo (or doas) in the image.

    Finds: the `sudo` or `doas` program, one finding for each (its links and copies
    named together), with any rule in `/etc/sudoers`, `/etc/sudoers.d/*` or
    `/etc/doas.conf` that lets someone run commands without a password (`NOPASSWD`,
    `permit nopass`), which raises it to `high`.

    Why: sudo exists to change users with a password on a multi-user host. In a container
    nobody types a password, so it is either unused (and a setuid-root binary for an
    attacker to aim at) or configured passwordless, which makes the non-root `USER`
    meaningless. Dockle's DKL-DI-0001 and Trivy's "sudo usage" check report it.

    Fix: remove the package; do privileged work in RUN steps before `USER`, or with
    `gosu`/`setpriv` in an entrypoint that drops privilege for good.
    """
    seen: dict[str, list[str]] = {}
    for candidate in SUDO_CANDIDATES:
        if ctx.tree.get(candidate) is None:  # reached only through a linked directory
            continue
        real = ctx.tree.resolve(candidate)
        node = ctx.tree.get(real) if real is not None else None
        if real is None or node is None or not node.is_file:
            continue
        seen.setdefault(real, []).append(candidate)
    for real, names in seen.items():
        tool = "doas" if posixpath.basename(real) == "doas" else "sudo"
        conf_paths = (["/etc/doas.conf"] if tool == "doas" else
                      ["/etc/sudoers"] + [n.path for n in ctx.tree.children("/etc/sudoers.d")])
        rx = _DOAS_NOPASS_RX if tool == "doas" else _NOPASSWD_RX
        rules: list[str] = []
        for conf in conf_paths:
            data = ctx.tree.read_prefix(conf, SUDOERS_LIMIT)
            if data is not None:
                rules += [f"{conf}: {m.strip()}" for m in rx.findall(
                    data.decode("utf-8", "replace"))]
        paths = [real] + [n for n in names if n != real]
        message = f"{tool} is installed at {real}"
        message += (f"; passwordless rules: {'; '.join(rules)}." if rules else ".")
        yield ctx.finding(SUDO, message, path=real, paths=paths,
                          severity="high" if rules else None,
                          evidence=Evidence.of(tool=tool, passwordless_rules=rules))


_LEGACY_COPY_RX = re.compile(r"^(file|dir|multi):([0-9a-f]+) in (.*)\Z", re.DOTALL)
_LEGACY_REMOTE_RX = re.compile(r"^([0-9a-f]{64}) in (.*)\Z", re.DOTALL)
_REMOTE_SOURCE_RX = re.compile(r"^(?:(?:https?|ftp)://|git@)|\.git(?:#.*)?$")
_TAR_RX = re.compile(r"\.(?:tar(?:\.(?:gz|bz2|xz|zst|lz4))?|tgz|tbz2?|txz|tzst)$", re.I)


@detector(ADD_REMOTE, ADD_LOCAL, WORKDIR_RELATIVE, MAINTAINER)
def detect_instructions(ctx: ScanContext) -> Iterator[Finding]:
    """Dockerfile instructions that the history shows, other than RUN.

    Finds: `ADD` of a remote URL (the legacy builder records it as `ADD <sha256> in
    /dest`, a bare hash where a local file has `file:<sha256>`; BuildKit keeps the URL).
    The content is fetched unverified at build time and can change under the same URL;
    `ADD --checksum=` (BuildKit) pins it and is not reported. `ADD` of a local directory,
    or of a single file that was not unpacked (its layer holds that one file and no link,
    at the destination or directly inside it), where `COPY` says what happens (`low`;
    Dockle CIS-DI-0009, Trivy). `ADD` that unpacked an archive, such as a base image's
    root filesystem, is the one good use and is not reported. A relative `WORKDIR`
    (visible only in BuildKit's history; the legacy builder records the resolved path)
    and the deprecated `MAINTAINER` are `info`.

    Fix: `COPY` for local files, a checksummed download for remote ones.
    """
    for step in build_steps(ctx.image.config, len(ctx.image.layers)):
        if step.instruction == "ADD":
            finding = _check_add(ctx, step)
        elif step.instruction == "WORKDIR" and step.args and not step.args.startswith(
                ("/", "$")):
            finding = ctx.finding(WORKDIR_RELATIVE, f"WORKDIR {step.args} is relative to the "
                                  "previous one.", layer=step.layer,
                                  evidence=Evidence.of(workdir=step.args, subject=step.args))
        elif step.instruction == "MAINTAINER":
            finding = ctx.finding(MAINTAINER, f"MAINTAINER {step.args} is deprecated.",
                                  layer=step.layer, evidence=Evidence.of(subject="MAINTAINER"))
        else:
            continue
        if finding is not None:
            yield _with_step(finding, step)


def _plain_file_copy(entries: Iterable[RawEntry], dest: str) -> bool:
    """Whether a legacy ``ADD file:<sha> in DEST`` layer is one file put where a plain copy
    puts it (at DEST, or directly inside it); anything else is an unpacked archive: more
    than one non-directory entry (``busybox.tar``: the binary and its applet links), or a
    lone file deeper than DEST (an archive of ``opt/tools/bb`` added to ``/``)."""
    placed = [e for e in entries if e.kind != DIR]
    if len(placed) != 1 or placed[0].kind != FILE:
        return False
    target = posixpath.normpath(dest) if dest else "/"
    path = placed[0].path
    return path == target or posixpath.dirname(path) == target


def _check_add(ctx: ScanContext, step: Step) -> Finding | None:
    evidence: dict[str, JsonValue] = {"instruction": step.args, "history_index": step.index}
    legacy_remote = _LEGACY_REMOTE_RX.match(step.args)
    if legacy_remote:
        return ctx.finding(
            ADD_REMOTE, f"ADD fetched a remote URL into {legacy_remote.group(2).strip()} "
            "(the legacy builder records remote sources as a bare content hash).",
            layer=step.layer, evidence=Evidence.of(**evidence, subject=f"ADD {step.args}"))
    legacy = _LEGACY_COPY_RX.match(step.args)
    if legacy:
        kind, dest = legacy.group(1), legacy.group(3).strip()
        if kind == "multi" or step.layer is None:
            return None  # several sources, or no layer to look at: cannot tell an archive
        entries = ctx.image.layers[step.layer].entries
        files = sum(1 for e in entries if e.kind == FILE)
        if kind == "file" and not _plain_file_copy(entries, dest):
            return None  # an unpacked archive
        return ctx.finding(
            ADD_LOCAL, f"ADD copied a local {'directory' if kind == 'dir' else 'file'} into "
            f"{dest} without unpacking anything; COPY does the same, plainly.",
            layer=step.layer, evidence=Evidence.of(**evidence, files_in_layer=files,
                                                   subject=f"ADD {kind} {dest}"))
    words = step.args.split()
    flags = [w for w in words if w.startswith("--")]
    paths = [w for w in words if not w.startswith("--")]
    sources = paths[:-1]
    if not sources:
        return None
    evidence["subject"] = f"ADD {' '.join(sources)}"
    remote = [s for s in sources if _REMOTE_SOURCE_RX.search(s)]
    if remote:
        if any(f.startswith("--checksum") for f in flags):
            return None
        return ctx.finding(ADD_REMOTE, f"ADD fetches {', '.join(remote)} without a checksum.",
                           layer=step.layer, evidence=Evidence.of(**evidence, urls=remote))
    if any(_TAR_RX.search(s) for s in sources):
        return None
    return ctx.finding(ADD_LOCAL, f"ADD {' '.join(sources)}: nothing here is a tar archive "
                       "to unpack; COPY does the same, plainly.", layer=step.layer,
                       evidence=Evidence.of(**evidence))

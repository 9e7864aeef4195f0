"""File permissions that hand out privilege: setuid/setgid files, world-writable paths."""

from __future__ import annotations

import posixpath
from collections.abc import Iterator

from auditor.detectors import ScanContext, detector
from auditor.detectors.user import GROUP, PASSWD, read_entries
from auditor.detectors.user import WANTS as ACCOUNT_WANTS
from auditor.filetree import Node
from auditor.model.evidence import Evidence
from auditor.model.findings import Finding, Rule
from auditor.model.image import DIR, FILE, HARDLINK
from auditor.model.package import PackageRef

SETUID_BIT, SETGID_BIT, STICKY_BIT = 0o4000, 0o2000, 0o1000
ANY_EXEC, OTHER_WRITE = 0o111, 0o002

SETUID = Rule(
    "AUD-SETUID", "setuid", "high", "setuid executable",
    fix="Remove the file or its setuid bit (`chmod u-s`) in the same RUN that installs it; "
        "a container seldom needs to switch users.")
SETGID = Rule(
    "AUD-SETGID", "setuid", "medium", "setgid executable",
    fix="Remove the file or its setgid bit (`chmod g-s`) in the same RUN that installs it.")
WORLD_WRITABLE = Rule(
    "AUD-WORLD-WRITABLE", "config", "medium", "World-writable path",
    fix="Drop the write bit for others (`chmod o-w`), or give the directory the sticky bit "
        "(`chmod +t`) if it must be shared, as /tmp is.")

# Sticky or not, files here are scratch space by design.
SCRATCH_DIRS = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/var/lock")
# Writable by anyone and found on a root user's PATH: anyone can plant what root runs.
EXEC_DIRS = ("/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin",
             "/lib", "/lib64", "/usr/lib", "/usr/lib64", "/usr/local/lib", "/etc")
MAX_NAMED_PATHS = 50
OS_ECOSYSTEMS = ("deb", "apk", "rpm")


def under(path: str, roots: tuple[str, ...]) -> bool:
    """Whether ``path`` is one of ``roots`` or inside one."""
    return any(path == r or path.startswith(r + "/") for r in roots)


def _owning_package(ctx: ScanContext, paths: list[str]) -> PackageRef | None:
    for path in paths:
        pkg = ctx.owner(path)
        if pkg is not None:
            return pkg.ref
    return None


def _names(ctx: ScanContext, path: str) -> dict[int, str]:
    names: dict[int, str] = {}
    for entry in read_entries(ctx.tree, path, 2) or ():
        if entry.id is not None:
            names.setdefault(entry.id, entry.name)
    return names


@detector(SETUID, SETGID, wants=ACCOUNT_WANTS)
def detect(ctx: ScanContext) -> Iterator[Finding]:
    """Executables with the setuid or setgid bit.

    Finds: every regular file with mode bit 04000 (setuid) or 02000 (setgid) and an
    execute bit, one finding per file (hard links to it are named in the same finding);
    a file with both bits is one AUD-SETUID finding. Setgid directories (group
    inheritance) and bits on non-executable files do nothing and are not reported.

    Severity: a file that a package database lists (Debian's `su`, `mount`, `passwd`,
    `chsh`...) is what the base distribution ships: reported `low`, with the package. A
    setuid file no package owns was put there by the image's own build: `high` when it
    runs as root, `medium` when no package database exists to tell the two apart or when
    it switches to a non-root owner. The evidence says which case applied.

    Why: a setuid-root binary is the classic way for a compromised unprivileged process
    to become root; containers almost never need one (Dockle CIS-DI-0008).

    Fix: delete them, or `chmod u-s,g-s` in the RUN that installs them; on Debian,
    `find / -xdev -perm /6000 -type f -exec chmod a-s {} +` after the last install.
    """
    # Language packages (pip, npm) never ship setuid files; only a distribution
    # database can vouch for one.
    have_packages = any(p.ecosystem in OS_ECOSYSTEMS for p in ctx.inventory)
    users, groups_by_id = _names(ctx, PASSWD), _names(ctx, GROUP)
    groups: dict[str, list[Node]] = {}
    for node in ctx.tree:
        if node.kind not in (FILE, HARDLINK) or not node.mode & (SETUID_BIT | SETGID_BIT):
            continue
        if not node.mode & ANY_EXEC:
            continue
        # Hard links share one inode: one file, several names.
        key = node.link if node.kind == HARDLINK and node.link else node.path
        groups.setdefault(key, []).append(node)

    for _key, nodes in sorted(groups.items()):
        nodes.sort(key=lambda n: (n.kind != FILE, n.path))
        first = nodes[0]
        paths = [n.path for n in nodes]
        setuid = bool(first.mode & SETUID_BIT)
        rule = SETUID if setuid else SETGID
        owner_id = first.uid if setuid else first.gid
        package = _owning_package(ctx, paths)
        if package is not None:
            severity, origin = "low", f"shipped by package {package.label}"
        elif not have_packages:
            severity = "medium"
            origin = "no distribution package database in the image to say where it came from"
        else:
            origin = "not owned by any package: added by the image's build"
            # Switching to a non-root owner hands out less than switching to root.
            severity = rule.severity if owner_id == 0 else ("medium" if setuid else "low")
        bits = "setuid" if setuid else "setgid"
        if setuid and first.mode & SETGID_BIT:
            bits = "setuid and setgid"
        name = users.get(first.uid) if setuid else groups_by_id.get(first.gid)
        who = (f"uid {first.uid}" if setuid else f"gid {first.gid}") + (
            f" ({name})" if name else "")
        mode = f"{first.mode & 0o7777:04o}"
        yield ctx.finding(
            rule, f"{first.path} is {bits} (mode {mode}, runs as {who}); "
            f"{origin}.", path=first.path, paths=paths, package=package, severity=severity,
            evidence=Evidence.of(mode=mode, runs_as=who, uid=first.uid, gid=first.gid,
                                 setuid=setuid, setgid=bool(first.mode & SETGID_BIT),
                                 package_owned=package is not None, origin=origin))


@detector(WORLD_WRITABLE)
def detect_world_writable(ctx: ScanContext) -> Iterator[Finding]:
    """Files and directories that every user may write.

    Finds: directories writable by others without the sticky bit (anyone may delete or
    replace anyone's files in them), and regular files writable by others, outside the
    scratch directories `/tmp`, `/var/tmp`, `/dev/shm`, `/run/lock` and `/var/lock`. Sticky shared
    directories (mode 1777, as `/tmp`) are fine anywhere. Symbolic links always show
    mode 0777 and are not reported. A world-writable directory is one finding that also
    names the world-writable entries beneath it (the `chmod -R 777` case); `high` when it
    sits where root looks for programs or configuration (`/usr/bin`, `/etc`, ...).

    Why: any process in the container, whatever its uid, can change these, so a
    compromised unprivileged process can alter what a privileged one reads or runs.

    Fix: `chmod o-w` the paths, or make shared directories sticky (`chmod 1777`).
    """
    flagged_dirs: list[str] = []
    found: dict[str, list[Node]] = {}
    for node in ctx.tree:
        if node.kind not in (DIR, FILE) or not node.mode & OTHER_WRITE:
            continue
        if node.kind == DIR and node.mode & STICKY_BIT:
            continue
        if under(node.path, SCRATCH_DIRS) and node.path not in SCRATCH_DIRS:
            continue
        # Paths come in sorted order, so a flagged ancestor has already been seen.
        parent = next((d for d in flagged_dirs if node.path.startswith(d + "/")), None)
        if parent is not None:
            found[parent].append(node)
            continue
        found[node.path] = [node]
        if node.kind == DIR:
            flagged_dirs.append(node.path)

    for path, nodes in found.items():
        top = nodes[0]
        inside = nodes[1:]
        what = "directory" if top.kind == DIR else "file"
        high = under(path, EXEC_DIRS) or (top.kind == FILE and bool(top.mode & ANY_EXEC)
                                           and under(posixpath.dirname(path), EXEC_DIRS))
        extra = f"; {len(inside)} entries beneath it are world-writable too" if inside else ""
        named = [n.path for n in nodes[:MAX_NAMED_PATHS]]
        mode = f"{top.mode & 0o7777:04o}"
        yield ctx.finding(
            WORLD_WRITABLE, f"{what} {path} is writable by every user "
            f"(mode {mode}{', not sticky' if top.kind == DIR else ''}){extra}.",
            path=path, paths=named, severity="high" if high else None,
            size=sum(n.size for n in nodes if n.kind == FILE),
            evidence=Evidence.of(mode=mode, kind=top.kind,
                                 world_writable_beneath=len(inside), in_program_path=high))

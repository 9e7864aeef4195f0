"""The user a container runs as, and the image's own account databases."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

from auditor.detectors import ScanContext, detector
from auditor.filetree import FileTree
from auditor.history import build_steps, last_step
from auditor.model.evidence import Evidence, JsonValue
from auditor.model.findings import Finding, Rule
from auditor.read.wants import Want

ACCOUNT_FILE_LIMIT = 1 << 20  # passwd/group/shadow far larger than this are not real ones
PASSWD, GROUP, SHADOW = "/etc/passwd", "/etc/group", "/etc/shadow"

ROOT_USER = Rule(
    "AUD-ROOT-USER", "root-user", "high", "Container runs as root",
    fix="Create an unprivileged user (or pick a numeric uid such as 65532) and set "
        "`USER` to it at the end of the Dockerfile.")
USER_MISSING = Rule(
    "AUD-USER-MISSING", "config", "medium", "USER names an account the image does not have",
    fix="Create the user and group in the image (useradd/adduser), or set `USER` to a "
        "numeric uid:gid, which needs no /etc/passwd entry.")
EMPTY_PASSWORD = Rule(
    "AUD-EMPTY-PASSWORD", "config", "medium", "Account with an empty password",
    fix="Lock the account (`passwd -l NAME`, or `*`/`!` in the password field) or remove it.")
DUPLICATE_UID = Rule(
    "AUD-DUPLICATE-UID", "config", "low", "Two accounts share one uid",
    fix="Give every account in /etc/passwd its own uid.")
DUPLICATE_GID = Rule(
    "AUD-DUPLICATE-GID", "config", "low", "Two groups share one gid",
    fix="Give every group in /etc/group its own gid.")
MULTIPLE_ROOT = Rule(
    "AUD-MULTIPLE-ROOT", "config", "medium", "More than one account has uid 0",
    fix="Remove the extra uid-0 accounts; only `root` should have uid 0.")

WANTS = [Want(PASSWD, ACCOUNT_FILE_LIMIT), Want(GROUP, ACCOUNT_FILE_LIMIT),
         Want(SHADOW, ACCOUNT_FILE_LIMIT)]


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of passwd, group or shadow: its name, its id (None in shadow), line no."""

    name: str
    id: int | None
    password: str
    line: int


def read_entries(tree: FileTree, path: str, id_field: int | None) -> list[Entry] | None:
    """The entries of a colon-separated account file; None when it is absent or unread."""
    data = tree.read_prefix(path, ACCOUNT_FILE_LIMIT)
    if data is None:
        return None
    out: list[Entry] = []
    for number, raw in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        # NIS compat lines (+, -) and comments are not accounts.
        if not raw.strip() or raw.startswith(("#", "+", "-")):
            continue
        fields = raw.split(":")
        if len(fields) < 2 or not fields[0]:
            continue
        ident: int | None = None
        if id_field is not None:
            number_text = fields[id_field].strip() if len(fields) > id_field else ""
            if not (number_text.isascii() and number_text.isdigit()):  # not "²"
                continue
            ident = int(number_text)
        out.append(Entry(fields[0], ident, fields[1], number))
    return out


def _lookup(entries: list[Entry] | None, name: str) -> Entry | None:
    # The first match wins, as getpwnam and the runtime's own lookup do.
    for entry in entries or ():
        if entry.name == name:
            return entry
    return None


def _file_state(tree: FileTree, path: str) -> str:
    node = tree.lookup(path)
    if node is None:
        return "absent"
    return "unread" if tree.read_prefix(path, 1) is None and node.size else "read"


@detector(ROOT_USER, USER_MISSING, wants=WANTS)
def detect(ctx: ScanContext) -> Iterator[Finding]:
    """The user the container's process starts as.

    Finds: an image whose config `User` is empty (the runtime then starts the process as
    uid 0), `root`, `0`, `0:0`, or a name that the image's own `/etc/passwd` maps to uid 0
    (a second uid-0 account such as `toor` is root under another name). A numeric
    non-zero uid is not root, whether or not `/etc/passwd` lists it. Separately, a `USER`
    name or group that `/etc/passwd` or `/etc/group` does not have is reported as config:
    the runtime refuses to start such a container ("unable to find user").

    Why: a process running as root inside the container is root on the host's kernel; a
    container escape, a writable host mount or a kernel bug then hands over the host.
    Dockle CIS-DI-0001 and Trivy's "image user should not be root" check the same thing.

    Fix: add an unprivileged user, or use a numeric uid (distroless images use 65532),
    and set `USER` last in the Dockerfile.
    """
    config = ctx.image.config
    user_spec = config.user.strip()
    step = last_step(build_steps(config, len(ctx.image.layers)), "USER")
    created_by = step.created_by if step is not None and user_spec else None
    user, _, group = user_spec.partition(":")
    passwd = read_entries(ctx.tree, PASSWD, 2)
    evidence: dict[str, JsonValue] = {"user": user_spec, "subject": f"USER={user_spec}"}

    def made(finding: Finding) -> Finding:
        return replace(finding, created_by=created_by)

    missing: list[str] = []
    if group and not (group.isascii() and group.isdigit()):
        groups = read_entries(ctx.tree, GROUP, 2)
        if groups is not None and _lookup(groups, group) is None:
            missing.append(f"group {group!r} is not in /etc/group")
        elif groups is None and _file_state(ctx.tree, GROUP) == "absent":
            missing.append(f"group {group!r} is named but the image has no /etc/group")

    uid: int | None
    if not user:
        uid, reason = 0, "no USER is set, so the process starts as uid 0"
    elif user.isascii() and user.isdigit():  # not "²"
        uid, reason = int(user), f"USER is the numeric uid {user}"
    else:
        entry = _lookup(passwd, user)
        if entry is not None:
            uid = entry.id
            reason = f"/etc/passwd line {entry.line} maps {user!r} to uid {uid}"
            evidence["passwd_line"] = entry.line
        else:
            uid = None
            state = _file_state(ctx.tree, PASSWD)
            if state == "absent":
                missing.append(f"user {user!r} is named but the image has no /etc/passwd")
            elif state == "read":
                missing.append(f"user {user!r} is not in /etc/passwd")
            reason = "the user could not be resolved"
    evidence["reason"] = reason
    if uid is not None:
        evidence["uid"] = uid

    if uid == 0:
        shown = f"USER {user_spec}" if user_spec else "No USER"
        yield made(ctx.finding(ROOT_USER, f"{shown}: the container runs as root ({reason}).",
                               evidence=Evidence.of(**evidence)))
    if missing:
        yield made(ctx.finding(
            USER_MISSING, f"USER {user_spec}: {'; '.join(missing)}; the container will not "
            "start.", evidence=Evidence.of(**evidence, missing=missing)))


@detector(EMPTY_PASSWORD, DUPLICATE_UID, DUPLICATE_GID, MULTIPLE_ROOT, wants=WANTS)
def detect_accounts(ctx: ScanContext) -> Iterator[Finding]:
    """The account databases: `/etc/passwd`, `/etc/group` and `/etc/shadow`.

    Finds: accounts whose password field is empty (in `/etc/shadow`, or in `/etc/passwd`
    when it holds the hash itself) — anyone can `su` to them without a password; `*`,
    `!` and `x` mean locked or shadowed and are fine. More than one account with uid 0
    (a backdoor pattern: `toor:x:0:0`). Two accounts sharing a uid, or two groups sharing
    a gid, which makes file ownership ambiguous and audit logs misleading.

    Why: a container image should carry only the accounts its process needs; the
    distributions' own files never have these shapes, so each one was added by hand.
    Dockle reports these as DKL-LI-0001 (empty password) and DKL-LI-0002 (unique
    uid/gid); the extra root account is CIS's "only one root user".

    Fix: remove the extra accounts, give each its own id, and lock unused ones.
    """
    passwd = read_entries(ctx.tree, PASSWD, 2) or []
    shadow = {e.name: e for e in read_entries(ctx.tree, SHADOW, None) or []}
    uids = {e.name: e.id for e in passwd}

    for entry in passwd:
        where, password = PASSWD, entry.password
        if password == "x" and entry.name in shadow:
            where, password = SHADOW, shadow[entry.name].password
        if password == "":
            uid = uids.get(entry.name)
            yield ctx.finding(
                EMPTY_PASSWORD, f"Account {entry.name!r} (uid {uid}) has an empty password "
                f"field in {where}: anyone can log in or su to it without a password.",
                path=where, severity="high" if uid == 0 else None, size=0,
                evidence=Evidence.of(account=entry.name, uid=uid, file=where, line=(
                    shadow[entry.name] if where == SHADOW else entry).line))

    roots = [e for e in passwd if e.id == 0]
    if len(roots) > 1:
        names = [e.name for e in roots]
        yield ctx.finding(
            MULTIPLE_ROOT, f"{len(roots)} accounts have uid 0 in /etc/passwd: "
            f"{', '.join(names)}.", path=PASSWD, size=0,
            evidence=Evidence.of(accounts=names, lines=[e.line for e in roots]))

    groups = read_entries(ctx.tree, GROUP, 2) or []
    for rule, entries, path, word in ((DUPLICATE_UID, passwd, PASSWD, "uid"),
                                      (DUPLICATE_GID, groups, GROUP, "gid")):
        by_id: dict[int, list[Entry]] = {}
        for entry in entries:
            if entry.id is not None:
                by_id.setdefault(entry.id, []).append(entry)
        for ident, same in sorted(by_id.items()):
            # uid 0 shared is the multiple-root finding above; one finding is enough.
            if len(same) < 2 or (rule is DUPLICATE_UID and ident == 0):
                continue
            names = [e.name for e in same]
            yield ctx.finding(
                rule, f"{word} {ident} is shared by {', '.join(names)} in {path}.", path=path,
                size=0,
                evidence=Evidence.of(**{word: ident}, names=names,
                                     lines=[e.line for e in same], subject=f"{path}:{ident}"))

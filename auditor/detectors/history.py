"""Build hygiene read from the RUN steps in the image's history.

Each finding names the RUN (its history entry in ``created_by``), the layer it made and
the command that earned it. Where a habit only costs something when it leaves files
behind (package caches), the layer that RUN produced is checked for those files, so a
RUN that cleaned up some other way is not reported.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

from auditor.detectors import ScanContext, detector
from auditor.history import (
    Command,
    RunMount,
    Step,
    brief,
    build_steps,
    iter_commands,
    mounted,
    operands,
)
from auditor.model.evidence import Evidence, JsonValue
from auditor.model.findings import Finding, Rule
from auditor.model.image import FILE
from auditor.read.wants import Want

_CACHE_FIX = "in the same RUN that installs, so the files never reach a layer"
SUDO_RUN = Rule("AUD-SUDO-RUN", "config", "low", "sudo used in a RUN step",
                fix="Drop sudo: RUN steps already run as root until `USER`; switch users with "
                    "`USER` instead.")
UPDATE_ALONE = Rule("AUD-UPDATE-ALONE", "config", "low", "Package index update in a RUN "
                    "of its own",
                    fix="Run `apt-get update && apt-get install ...` (or `apk add --no-cache`) "
                        "in one RUN, so a cached update layer never pairs with a new install.")
APT_LISTS = Rule("AUD-APT-LISTS-KEPT", "config", "low", "apt package lists left in a layer",
                 fix=f"End the RUN with `&& rm -rf /var/lib/apt/lists/*` {_CACHE_FIX}.")
APT_CACHE = Rule("AUD-APT-CACHE-KEPT", "config", "low", "Downloaded .deb files left in a layer",
                 fix=f"End the RUN with `&& apt-get clean` {_CACHE_FIX}.")
APT_RECOMMENDS = Rule("AUD-APT-RECOMMENDS", "config", "low",
                      "apt-get install without --no-install-recommends",
                      fix="Use `apt-get install -y --no-install-recommends ...` and list what "
                          "you need explicitly.")
APK_CACHE = Rule("AUD-APK-NO-CACHE", "config", "low", "apk add without --no-cache",
                 fix="Use `apk add --no-cache ...`, which fetches the index without keeping it.")
RPM_CACHE = Rule("AUD-RPM-CACHE-KEPT", "config", "low",
                 "yum/dnf/zypper cache left in a layer",
                 fix=f"End the RUN with `&& yum clean all` (`dnf clean all`, `zypper clean "
                     f"--all`) {_CACHE_FIX}.")
PIP_CACHE = Rule("AUD-PIP-CACHE", "config", "low", "pip cache left in a layer",
                 fix="Use `pip install --no-cache-dir ...` (or set PIP_NO_CACHE_DIR=1).")
NPM_CACHE = Rule("AUD-NPM-CACHE", "config", "low", "npm or yarn cache left in a layer",
                 fix=f"End the RUN with `&& npm cache clean --force` (`yarn cache clean`) "
                     f"{_CACHE_FIX}, or build node_modules in a separate stage.")
UPGRADE = Rule("AUD-PKG-UPGRADE", "config", "info", "Distribution upgrade in a RUN",
               fix="Use a newer base image instead of upgrading inside the build; if you must, "
                   "prefer `upgrade` over `dist-upgrade`.")
RUN_CD = Rule("AUD-RUN-CD", "config", "info", "RUN starts with cd",
              fix="Use `WORKDIR /path` instead of `RUN cd /path && ...`.")
WGET_AND_CURL = Rule("AUD-WGET-AND-CURL", "config", "info", "Both wget and curl used in RUN",
                     fix="Use one download tool throughout the build.")

APT_CONF_LIMIT = 16 * 1024
WANTS = [Want("/etc/apt/apt.conf", APT_CONF_LIMIT), Want("/etc/apt/apt.conf.d/*",
                                                           APT_CONF_LIMIT)]

APT_TOOLS = frozenset({"apt-get", "apt", "aptitude"})
APT_OPTS_WITH_VALUE = frozenset({"-o", "-c", "-t", "--option", "--config-file",
                                 "--target-release", "--default-release"})
APT_INSTALLS = frozenset({"install", "reinstall", "build-dep", "upgrade", "dist-upgrade",
                          "full-upgrade", "satisfy", "safe-upgrade"})
APK_OPTS_WITH_VALUE = frozenset({"-X", "--repository", "-p", "--root", "--arch", "-t",
                                 "--virtual", "--keys-dir", "--cache-dir", "--repositories-file"})
RPM_TOOLS = frozenset({"yum", "dnf", "microdnf", "zypper", "tdnf"})
RPM_OPTS_WITH_VALUE = frozenset({"-c", "--config", "--installroot", "--releasever", "-R",
                                 "--root", "--setopt", "--enablerepo", "--disablerepo",
                                 "--exclude", "-x"})
UPGRADES = {
    "apt": {"upgrade": "info", "dist-upgrade": "low", "full-upgrade": "low",
            "safe-upgrade": "info"},
    "apk": {"upgrade": "info"},
    "rpm": {"update": "info", "upgrade": "info", "distro-sync": "low", "up": "info",
            "dup": "low", "dist-upgrade": "low", "patch": "info"},
}
_RECOMMENDS_OFF_RX = re.compile(r"Install-Recommends[\s=\"']*(?:false|0|no|off)\b", re.I)


@dataclass(frozen=True, slots=True)
class Run:
    step: Step
    commands: tuple[Command, ...]
    files: tuple[tuple[str, int], ...] | None  # regular files its layer wrote; None: unknown
    mounts: tuple[RunMount, ...] = ()  # its --mount flags (history or Dockerfile)

    def written(self, *patterns: str) -> list[tuple[str, int]]:
        rx = re.compile("|".join(patterns))
        # a layer writes tens of thousands of files: when every pattern is anchored at a
        # fixed directory, the paths outside them are left out without the regex
        heads = [_literal_head(p) for p in patterns]
        files = self.files or ()
        if all(heads):
            within = tuple(h for h in heads if h)
            files = tuple([(p, s) for p, s in files if p.startswith(within)])
        found = [(p, s) for p, s in files if s > 0 and rx.search(p)]
        return [(p, s) for p, s in found if not mounted(p, self.mounts)] if self.mounts \
            else found

    def mounts_cache(self, where: str) -> bool:
        """Whether the RUN mounted something over the cache directory ``where`` or a
        directory above it (``/root/.cache`` holds ``/root/.cache/pip``); ``~/`` is any
        home."""
        if not where.startswith("~/"):
            return any(m.holds(where) for m in self.mounts)
        parts = where[2:].split("/")
        tails = ["/" + "/".join(parts[:n]) for n in range(1, len(parts) + 1)]
        return any(m.target.endswith(tuple(tails)) for m in self.mounts)


_REGEX_SYNTAX = frozenset("\\.^$*+?{}[]()|")


def _literal_head(pattern: str) -> str | None:
    """The text every match of ``pattern`` starts with when it is anchored at the start
    (``^/var/cache/apk/`` -> ``/var/cache/apk/``); None when it is not, has none, or may
    have an alternative outside parentheses (``^/a/|/b/``), which need not start so."""
    if not pattern.startswith("^") or not _bars_in_groups(pattern):
        return None
    head = ""
    for char in pattern[1:]:
        if char in _REGEX_SYNTAX:
            if char in "*+?{":  # a repeat applies to the character before
                head = head[:-1]
            break
        head += char
    return head or None


def _bars_in_groups(pattern: str) -> bool:
    """Whether every ``|`` of ``pattern`` is inside parentheses; False when unsure (an
    escape or a class, where a ``|`` or a parenthesis may stand for itself)."""
    if "|" not in pattern:
        return True
    if "\\" in pattern or "[" in pattern:
        return False
    depth = 0
    for char in pattern:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "|" and depth <= 0:
            return False
    return True


def _action(cmd: Command, with_value: frozenset[str]) -> str:
    words = operands(cmd, with_value)
    return words[0] if words else ""


def _is_pip(cmd: Command) -> bool:
    if re.fullmatch(r"pip[0-9.]*", cmd.program):
        return True
    return (re.fullmatch(r"python[0-9.]*", cmd.program) is not None
            and cmd.args[:2] == ("-m", "pip"))


def _pip_action(cmd: Command) -> str:
    args = cmd.args[2:] if cmd.args[:2] == ("-m", "pip") else cmd.args
    return next((a for a in args if not a.startswith("-")), "")


def _recommends_off_in_image(ctx: ScanContext, layer: int | None) -> str | None:
    """An apt config file that turns recommends off for every install, if one exists."""
    paths = ["/etc/apt/apt.conf"] + [n.path for n in ctx.tree.children("/etc/apt/apt.conf.d")]
    for path in paths:
        node = ctx.tree.get(path)
        if node is None or (layer is not None and node.layer > layer):
            continue
        data = ctx.tree.read_prefix(path, APT_CONF_LIMIT)
        if data is not None and _RECOMMENDS_OFF_RX.search(data.decode("utf-8", "replace")):
            return path
    return None


def _runs(ctx: ScanContext) -> Iterator[Run]:
    for step in build_steps(ctx.image.config, len(ctx.image.layers)):
        if step.instruction != "RUN" or not step.args:
            continue
        files: tuple[tuple[str, int], ...] | None = None
        if step.layer is not None and step.layer < len(ctx.image.layers):
            files = tuple([(e.path, e.size) for e in ctx.image.layers[step.layer].entries
                           if e.kind == FILE])
        yield Run(step, tuple(iter_commands(step.args)), files, ctx.run_mounts(step.index))


class _Reporter:
    """Makes findings for one RUN: the layer, the instruction and the evidence it shares."""

    def __init__(self, ctx: ScanContext, run: Run) -> None:
        self.ctx, self.run = ctx, run

    def __call__(self, rule: Rule, message: str, commands: Iterable[Command] = (),
                 files: list[tuple[str, int]] | None = None, severity: str | None = None,
                 **extra: JsonValue) -> Finding:
        step = self.run.step
        texts = [c.text for c in commands]
        evidence: dict[str, JsonValue] = {
            "run": brief(step.args), "history_index": step.index,
            "commands": texts, "subject": brief(texts[0] if texts else step.args, 120),
        }
        size = 0
        if files:
            size = sum(s for _, s in files)
            evidence.update(files=len(files), bytes_in_layer=size,
                            bytes_in_final_tree=_surviving(self.ctx, self.run, files),
                            sample=[p for p, _ in files[:3]])
        elif files is None and self.run.files is None:
            evidence["layer_contents"] = "unknown: history does not map onto the layers"
        evidence.update(extra)
        claim = [(step.layer, p, s) for p, s in files or ()] if step.layer is not None else []
        finding = self.ctx.finding(rule, message, layer=step.layer, size=size,
                                   severity=severity, evidence=Evidence.of(**evidence),
                                   claim=claim)
        return replace(finding, created_by=step.created_by)


def _mib(files: list[tuple[str, int]]) -> str:
    return f"{sum(s for _, s in files) / (1 << 20):.1f} MiB in {len(files)} files"


def _surviving(ctx: ScanContext, run: Run, files: list[tuple[str, int]]) -> int:
    """Bytes of ``files`` that the final tree still holds as this layer wrote them."""
    return sum(s for p, s in files
               if (n := ctx.tree.get(p)) is not None and n.layer == run.step.layer)


def _left(run: Run, files: list[tuple[str, int]], ctx: ScanContext) -> str:
    return ("they are still in the final image" if _surviving(ctx, run, files) else
            "a later layer deleted them, but this layer still carries their bytes")


@detector(SUDO_RUN, UPDATE_ALONE, APT_LISTS, APT_CACHE, APT_RECOMMENDS, APK_CACHE, RPM_CACHE,
          PIP_CACHE, NPM_CACHE, UPGRADE, RUN_CD, WGET_AND_CURL, wants=WANTS)
def detect(ctx: ScanContext) -> Iterator[Finding]:
    """Build hygiene in RUN steps, read from the image history.

    Each RUN's shell script is split into simple commands (on `&&`, `||`, `;`, `|` and
    newlines, quotes respected, through `sudo`, `env` and `sh -c '...'`); an argument such
    as `apk add pkg=1.2` is a package, not an assignment. Finds:

    - `sudo` in a RUN (Dockle DKL-DI-0001, Trivy): builds run as root already.
    - `apt-get update` or `apk update` with no install in the same RUN (Dockle
      CIS-DI-0007, Trivy): the cached update layer goes stale and later installs break or
      install old versions.
    - apt lists (`/var/lib/apt/lists`) or downloaded `.deb`s (`/var/cache/apt/archives`)
      that the RUN's own layer carries (Dockle DKL-DI-0005). Deleting them in a later RUN
      does not help: the bytes stay in this layer. Only reported when the layer really
      has them. These bytes are the same files as the cache or wasted-space findings
      about them: the report lists them under `overlaps` and totals count them once.
    - `apt-get install` without `--no-install-recommends` (unless an apt.conf file in the
      image turns recommends off): pulls in packages nobody asked for (Trivy).
    - `apk add` whose layer keeps `/var/cache/apk` (Dockle DKL-DI-0004, Trivy), yum, dnf,
      microdnf or zypper installs whose layer keeps `/var/cache/{yum,dnf,zypp}` (Trivy's
      "clean all" checks), `pip install` whose layer keeps a `.cache/pip` (Trivy's
      `--no-cache-dir`), and npm or yarn installs whose layer keeps their caches.
    - `dist-upgrade`/`full-upgrade`/`upgrade` and their yum/dnf/zypper/apk kin (`info`,
      `low` for dist-upgrade; Dockle DKL-DI-0003, Trivy).
    - `RUN cd /path && ...` and a build that uses both wget and curl (`info`; Trivy's
      style checks).

    When the history cannot be mapped onto the layers the cache checks fall back to the
    command line alone, and the evidence says so.

    A RUN that mounts a cache over the directory (``RUN --mount=type=cache,target=
    /root/.cache/pip pip install ...``) keeps it out of its layer: that is the right way,
    and is not reported. The mounts are read from the history (buildah records them) or
    from the Dockerfile given with ``--dockerfile`` (BuildKit's history leaves them out).
    """
    runs = list(_runs(ctx))
    for run in runs:
        yield from _check_run(ctx, run)
    used = {name: [r for r in runs if any(c.program == name for c in r.commands)]
            for name in ("wget", "curl")}
    if used["wget"] and used["curl"]:
        first = min(used["wget"] + used["curl"], key=lambda r: r.step.index)
        yield _Reporter(ctx, first)(
            WGET_AND_CURL, "The build uses both wget and curl to download.",
            wget_steps=[r.step.index for r in used["wget"]],
            curl_steps=[r.step.index for r in used["curl"]], subject="wget+curl")


def _check_run(ctx: ScanContext, run: Run) -> Iterator[Finding]:
    report = _Reporter(ctx, run)
    cmds = run.commands
    sudo = [c for c in cmds if c.via_sudo]
    if sudo:
        yield report(SUDO_RUN, f"RUN uses sudo: {brief(sudo[0].text, 120)}.", sudo)
    first_dir = operands(cmds[0])[:1] if cmds and cmds[0].program == "cd" else []
    if first_dir and first_dir[0].startswith("/"):
        yield report(RUN_CD, f"RUN begins with `{cmds[0].text}`; WORKDIR says it plainly.",
                     cmds[:1])

    apt = [(c, _action(c, APT_OPTS_WITH_VALUE)) for c in cmds if c.program in APT_TOOLS]
    apk = [(c, _action(c, APK_OPTS_WITH_VALUE)) for c in cmds if c.program == "apk"]
    rpm = [(c, _action(c, RPM_OPTS_WITH_VALUE)) for c in cmds if c.program in RPM_TOOLS]

    updates = [c for c, a in apt + apk if a == "update"]
    installs = [c for c, a in apt if a in APT_INSTALLS] + [c for c, a in apk
                                                           if a in ("add", "upgrade", "fix")]
    if updates and not installs:
        yield report(UPDATE_ALONE, f"RUN updates the package index without installing "
                     f"anything: {brief(updates[0].text, 120)}.", updates)

    yield from _apt(ctx, run, report, apt)
    yield from _caches(run, report, ctx, apk, rpm)

    for family, pairs in (("apt", apt), ("apk", apk), ("rpm", rpm)):
        for c, a in pairs:
            severity = UPGRADES[family].get(a)
            # `yum update openssl` updates one package; only a bare upgrade is a distro one.
            if severity is None or (severity == "info" and len(operands(c)) > 1
                                    and family != "apt"):
                continue
            yield report(UPGRADE, f"RUN upgrades the distribution: {brief(c.text, 120)}.",
                         [c], severity=severity)


def _apt(ctx: ScanContext, run: Run, report: _Reporter,
         apt: list[tuple[Command, str]]) -> Iterator[Finding]:
    if not apt:
        return
    if any(a == "update" for _, a in apt):
        lists = run.written(r"^/var/lib/apt/lists/(?!partial/|lock$)")
        removed = any(c.program == "rm" and any(a.startswith("/var/lib/apt/lists")
                                                for a in c.args) for c in run.commands)
        upd = [c for c, a in apt if a == "update"]
        if lists:
            yield report(APT_LISTS, f"RUN ran apt-get update and its layer keeps the apt "
                         f"lists ({_mib(lists)}); {_left(run, lists, ctx)}.", upd, lists)
        elif run.files is None and not removed and not run.mounts_cache("/var/lib/apt/lists"):
            yield report(APT_LISTS, "RUN ran apt-get update and does not remove "
                         "/var/lib/apt/lists.", upd, None)
    installs = [c for c, a in apt if a in APT_INSTALLS]
    if installs:
        # .debs only: pkgcache.bin is apt's index cache, often the larger part, and not a
        # download (the cache rule reports it as apt's binary caches).
        debs = run.written(r"^/var/cache/apt/archives/[^/]+\.deb$")
        if debs:
            yield report(APT_CACHE, f"RUN installed packages and its layer keeps apt's "
                         f"download cache ({_mib(debs)}); {_left(run, debs, ctx)}.",
                         installs, debs)
    plain = [c for c, a in apt if a == "install" and len(operands(c, APT_OPTS_WITH_VALUE)) > 1
             and not c.has("--no-install-recommends", "--without-recommends", "-R")
             and not any(_RECOMMENDS_OFF_RX.search(arg) for arg in c.args)]
    if plain:
        conf = _recommends_off_in_image(ctx, run.step.layer)
        if conf is None:
            yield report(APT_RECOMMENDS, f"RUN installs recommended packages too: "
                         f"{brief(plain[0].text, 120)}.", plain)


def _caches(run: Run, report: _Reporter, ctx: ScanContext,
            apk: list[tuple[Command, str]], rpm: list[tuple[Command, str]]
            ) -> Iterator[Finding]:
    # (rule, the commands that fill the cache, where its files are, what it is, where a
    # mount keeps it out of the layer)
    checks: list[tuple[Rule, list[Command], tuple[str, ...], str, str]] = [
        (APK_CACHE, [c for c, a in apk if a in ("add", "upgrade") and not c.has("--no-cache")],
         (r"^/var/cache/apk/",), "apk's index and package cache", "/var/cache/apk"),
        (RPM_CACHE, [c for c, a in rpm if a in ("install", "in", "update", "upgrade", "up",
                                                "reinstall", "groupinstall", "localinstall",
                                                "distro-sync", "dup", "dist-upgrade")],
         (r"^/var/cache/(?:yum|dnf|zypp|libdnf5|tdnf)/",), "the package manager's cache",
         "/var/cache/dnf"),
        (PIP_CACHE, [c for c in run.commands if _is_pip(c) and _pip_action(c) == "install"
                     and not c.has("--no-cache-dir")],
         (r"/\.cache/pip/",), "pip's download and wheel cache", "~/.cache/pip"),
        (NPM_CACHE, [c for c in run.commands
                     if (c.program == "npm" and _action(c, frozenset()) in
                         ("install", "i", "ci", "add", "update"))
                     or (c.program == "yarn" and _action(c, frozenset()) in
                         ("", "install", "add"))],
         (r"/\.npm/_cacache/", r"/\.cache/yarn/", r"^/usr/local/share/\.cache/yarn/"),
         "the npm/yarn cache", "~/.npm/_cacache"),
    ]
    for rule, commands, patterns, what, where in checks:
        if not commands:
            continue
        files = run.written(*patterns)
        if files:
            yield report(rule, f"RUN {brief(commands[0].text, 120)} left {what} in its layer "
                         f"({_mib(files)}); {_left(run, files, ctx)}.", commands, files)
        elif run.files is None and rule in (APK_CACHE, PIP_CACHE) \
                and not run.mounts_cache(where):
            # Without the layer, the command line is all there is to go on.
            yield report(rule, f"RUN {brief(commands[0].text, 120)} keeps {what} unless "
                         "something else removes it.", commands, None)

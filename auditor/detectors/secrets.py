"""Secrets: private keys, cloud credentials, tokens and credential files in the image,
and secrets in ENV values and in the build history."""

from __future__ import annotations

import dataclasses
import posixpath
import re
from collections.abc import Iterator, Sequence
from typing import Any

from auditor.detectors import ScanContext, detector
from auditor.detectors._secret_patterns import (
    CLOUD,
    CREDENTIAL,
    PRIVATE_KEY,
    TOKEN,
    Match,
    credential_matches,
    docker_logins,
    find_shapes,
    find_url_credentials,
    is_credential_name,
    is_placeholder,
    mask_all,
    netrc_passwords,
    pgpass_passwords,
    value_shape,
)
from auditor.detectors.caches import THIRD_PARTY
from auditor.filetree import Node
from auditor.history import recorded_settings
from auditor.model.evidence import Evidence
from auditor.model.findings import Finding, Rule, mask_secret
from auditor.model.image import DIR, FILE, HARDLINK
from auditor.read.globs import compile_globs, union_regex
from auditor.read.wants import Want

ROTATE = "Treat it as leaked: revoke and rotate it. "
PRIVATE_KEY_RULE = Rule(
    "AUD-SECRET-PRIVATE-KEY", "secret", "critical", "Private key in the image",
    fix=ROTATE + "Never COPY keys into an image; mount them at run time or use "
    "`RUN --mount=type=ssh` / `--mount=type=secret` during the build.")
CLOUD_RULE = Rule(
    "AUD-SECRET-CLOUD", "secret", "critical", "Cloud credentials in the image",
    fix=ROTATE + "Give the workload a role or identity (IAM role, workload identity, managed "
    "identity) instead of keys, or inject them at run time.")
TOKEN_RULE = Rule(
    "AUD-SECRET-TOKEN", "secret", "high", "Access token in the image",
    fix=ROTATE + "Pass tokens at run time, or to the build with `--mount=type=secret`.")
FILE_RULE = Rule(
    "AUD-SECRET-FILE", "secret", "high", "Credentials file in the image",
    fix=ROTATE + "Keep credential files out of the build context (.dockerignore) and use "
    "`RUN --mount=type=secret` for the steps that need them.")
ENV_RULE = Rule(
    "AUD-SECRET-ENV", "secret", "high", "Secret in an ENV value",
    fix=ROTATE + "Remove the ENV instruction; pass the value when the container starts "
    "(orchestrator secrets, `docker run -e` from a secret store).")
HISTORY_RULE = Rule(
    "AUD-SECRET-HISTORY", "secret", "high", "Secret in the build history",
    fix=ROTATE + "Build arguments and ENV values are recorded in the image history; use "
    "`RUN --mount=type=secret` instead of ARG/ENV for secrets, then rebuild.")
RULE_OF_KIND = {PRIVATE_KEY: PRIVATE_KEY_RULE, CLOUD: CLOUD_RULE, TOKEN: TOKEN_RULE,
                CREDENTIAL: FILE_RULE}

KNOWN_BYTES = 64 * 1024
GENERIC_BYTES = 32 * 1024

# Known secret-bearing files, by how they are parsed.
KNOWN_FILES: dict[str, tuple[str, ...]] = {
    "settings": (
        ".env", ".env.*", "*.env", ".npmrc", ".yarnrc", ".yarnrc.yml", ".pypirc",
        "**/.aws/credentials", "**/.aws/config", "credentials", "credentials.json",
        "credentials.toml", "credentials.yml", "credentials.yaml",
        "application_default_credentials.json", "**/.config/gcloud/*.json",
        "**/.azure/*.json", "**/.kube/config", "**/.cargo/credentials",
        "**/.cargo/credentials.toml", "**/.gem/credentials", "**/.config/gh/hosts.yml",
        "**/.m2/settings.xml", "**/.gradle/gradle.properties", "**/.composer/auth.json",
        "**/.terraform.d/credentials.tfrc.json", ".s3cfg", ".boto",
    ),
    "netrc": (".netrc", "_netrc"),
    "pgpass": (".pgpass",),
    "urls": (".git-credentials", "**/.git/config"),
    "docker": ("**/.docker/config.json",),
    "keys": ("*.pem", "*.key", "id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "id_ecdsa_sk",
             "id_ed25519_sk", "*.ppk", "**/.ssh/*"),
}
SSH_KEY_NAMES = frozenset({"id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "id_ecdsa_sk",
                           "id_ed25519_sk"})
BINARY_KEY_STORES = ("*.p12", "*.pfx", "*.jks", "*.keystore", "*.bcfks", "secring.gpg",
                     "**/.gnupg/private-keys-v1.d/*")
# Keys that package install scripts generate (so no package owns them): real private keys,
# but the fix differs, and one finding covers the set.
GENERATED_KEYS = (
    (re.compile(r"/etc/ssh/ssh_host_[a-z0-9]+_key\Z"), "SSH host private keys"),
    (re.compile(r"/etc/ssl/private/ssl-cert-snakeoil\.key\Z"), "the self-signed snakeoil TLS key"),
)
APP_DIRS = ("/app", "/src", "/srv", "/workspace", "/opt", "/usr/src", "/usr/local/src",
            "/root", "/home/*")
CONFIG_EXTS = ("json", "yml", "yaml", "toml", "ini", "cfg", "conf", "cnf", "config",
               "properties", "xml", "env", "txt", "sh", "tfvars", "secret", "secrets", "asc")


def _generic_globs() -> list[str]:
    globs = ["/etc/**", "/usr/local/etc/**"]
    for top in APP_DIRS:
        globs.append(f"{top}/*")  # any top-level file: app.conf, config, settings
        for depth in ("*", "*/*", "*/*/*"):
            globs.extend(f"{top}/{depth}.{ext}" for ext in CONFIG_EXTS)
    return globs


GENERIC_GLOBS = tuple(_generic_globs())
_CONFIG_FILE = re.compile(r"\.(?:" + "|".join(CONFIG_EXTS[:-3]) + r")\Z")
_APP_PATH = compile_globs(f"{top}/**" for top in APP_DIRS)
# Which kind of file a path is, in one match (this runs for every file of the image): a
# named group per kind, in the order the kinds are tried, so the first that matches wins.
# It matches the path written backwards: most paths then fail on their last characters.
_KIND_RX = re.compile("(?:" + "|".join(
    f"(?P<{kind}>{union_regex(globs, reverse=True)})"
    for kind, globs in [("binary", BINARY_KEY_STORES), *KNOWN_FILES.items(),
                        ("generic", GENERIC_GLOBS)]) + r")\Z", re.DOTALL)
_TEST_DIRS = re.compile(r"/(?:tests?|testdata|testing|fixtures?|__tests__|spec|examples?)/")

WANTS = [Want(g, KNOWN_BYTES) for globs in KNOWN_FILES.values() for g in globs] + [
    Want(g, GENERIC_BYTES) for g in GENERIC_GLOBS]


@detector(PRIVATE_KEY_RULE, CLOUD_RULE, TOKEN_RULE, FILE_RULE, ENV_RULE, HISTORY_RULE,
          wants=WANTS)
def detect(ctx: ScanContext) -> Iterator[Finding]:
    """Secrets baked into the image: private keys, cloud credentials, service tokens,
    credential files, and credentials in ENV values and in the build history.

    Anything in a layer can be read by everyone who can pull the image, for as long as the
    image exists, whether or not a later layer deletes it; ENV values are also handed to
    every process in every container, and build arguments are written into the history.
    A secret that shipped must be treated as leaked: revoke and rotate it, then rebuild so
    that it never enters a layer (BuildKit secret mounts, ``--mount=type=ssh``, runtime
    injection by the orchestrator).

    Which files are read (the scan cannot read every file of every layer):

    - known secret-bearing names anywhere, up to 64 KiB each: ``.env`` files, ``.npmrc``,
      ``.yarnrc``, ``.pypirc``, ``.netrc``, ``.git-credentials``, ``.git/config``,
      ``.docker/config.json``, ``.aws/credentials``, ``credentials*``, cloud SDK JSON files,
      ``.kube/config``, ``.pgpass``, and key files (``*.pem``, ``*.key``, ``id_rsa`` and its
      kin, ``*.ppk``, anything in ``.ssh/``);
    - small configuration and text files in the places an application and its operator put
      things (``/app``, ``/src``, ``/srv``, ``/workspace``, ``/opt``, ``/usr/src``,
      ``/usr/local/src``, ``/root``, ``/home/*``, three levels deep; all of ``/etc``), the first
      32 KiB each, scanned for the key, cloud and token shapes only;
    - key stores that are binary (``*.p12``, ``*.pfx``, ``*.jks``, ``*.keystore``, GnuPG private
      key directories) are reported by name and place.

    What is not reported: files a package owns (a distribution's test keys, Go's and
    Python's test certificates), anything inside dependency trees (``node_modules``,
    ``site-packages``, ``vendor``, module caches), public keys and certificates, key ids
    and fingerprints (``GPG_KEY``, ``*_KEY_ID``), paths to secrets (``*_FILE``), obvious
    placeholders (``${VAR}``, ``xxxx``, ``changeit``). Secrets are never printed whole.
    """
    yield from _file_findings(ctx)
    yield from _env_findings(ctx)
    yield from _history_findings(ctx)


# -- files -------------------------------------------------------------------------------

def _file_kind(path: str) -> str | None:
    """binary (a key store), one of KNOWN_FILES' kinds, generic, or None."""
    match = _KIND_RX.match(path[::-1])
    return match.lastgroup if match is not None else None


def _candidates(ctx: ScanContext) -> Iterator[tuple[Node, str]]:
    seen: set[int] = set()
    # Whether a file is in a dependency or toolchain tree is decided by its directory (the
    # pattern ends in "/", and holds for everything under a directory it holds for): such
    # directories are left out whole.
    files: list[Node] = []
    links: list[Node] = []
    if THIRD_PARTY.search("/") is None:
        walk = ctx.tree.walk()
        for node in walk:
            if node.kind == FILE:
                files.append(node)
            elif node.kind == HARDLINK:
                links.append(node)
            elif node.kind == DIR and THIRD_PARTY.search(node.path + "/"):
                walk.skip_below()
    # Files before hard links, so a linked key is reported under its first name.
    owned = ctx.inventory.owned
    for node in files + links:
        if node.path in owned:  # most files are a package's: before the pattern
            continue
        kind = _file_kind(node.path)
        if kind is None:
            continue
        if node.data is not None:
            if id(node.data) in seen:  # a hard link to a file already scanned
                continue
            seen.add(id(node.data))
        yield node, kind


def _file_findings(ctx: ScanContext) -> Iterator[Finding]:
    generated: dict[str, list[Node]] = {}
    for node, kind in _candidates(ctx):
        family = next((what for rx, what in GENERATED_KEYS if rx.match(node.path)), None)
        if family is not None and node.data is not None \
                and any(m.kind == PRIVATE_KEY for m in find_shapes(_text(node.data))):
            generated.setdefault(family, []).append(node)
            continue
        if kind == "binary":
            if node.size and not re.search(r"trust|cacerts", node.path, re.I):
                yield _key_store_finding(ctx, node)
            continue
        data = node.data
        if data is None or b"\0" in data[:1024]:
            if posixpath.basename(node.path) in SSH_KEY_NAMES and node.size:
                yield ctx.finding(PRIVATE_KEY_RULE, f"{node.path}: SSH private key file "
                                  "(by its name; its content was not read)", path=node.path,
                                  severity="high", evidence=Evidence.of(reason="ssh key file name"))
            continue
        text = _text(data)
        matches = _scan_text(text, kind, node.path)
        yield from _group_findings(ctx, node, text, matches, kind)
    for family, nodes in generated.items():
        paths = [n.path for n in nodes]
        yield ctx.finding(
            PRIVATE_KEY_RULE, f"{family} made during the build: "
            f"{', '.join(posixpath.basename(p) for p in paths)} in {posixpath.dirname(paths[0])}"
            f"; every container of this image shares {'it' if len(paths) == 1 else 'them'}",
            paths=paths, severity="high",
            fix="Delete them in the RUN that installs the package and let the container make "
            "its own at start (ssh-keygen -A, make-ssl-cert), or mount real ones at run time.",
            evidence=Evidence.of(generated_by_package_scripts=True, subject=family))


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def _scan_text(text: str, kind: str, path: str) -> list[Match]:
    matches = find_shapes(text)
    if kind in ("urls", "settings") or (kind == "generic" and _CONFIG_FILE.search(path)):
        matches += [m for m in find_url_credentials(text)
                    if not any(m.overlaps(x) for x in matches)]
    if kind == "settings" or (kind == "generic" and _CONFIG_FILE.search(path)
                              and _APP_PATH.match(path)):
        matches += credential_matches(text, matches)
    elif kind == "netrc":
        matches += netrc_passwords(text)
    elif kind == "pgpass":
        matches += pgpass_passwords(text)
    elif kind == "docker":
        matches += docker_logins(text)
    return matches


def _group_findings(ctx: ScanContext, node: Node, text: str, matches: Sequence[Match],
                    kind: str) -> Iterator[Finding]:
    by_rule: dict[str, list[Match]] = {}
    for m in matches:
        by_rule.setdefault(m.kind, []).append(m)
    in_tests = bool(_TEST_DIRS.search(node.path))
    for match_kind, group in by_rule.items():
        rule = RULE_OF_KIND[match_kind]
        severity = _severity(match_kind, group, kind)
        if in_tests and severity in ("critical", "high"):
            severity = "medium"
        labels = sorted({m.label for m in group})
        shown = ", ".join(mask_secret(m.value) for m in group[:3] if match_kind != PRIVATE_KEY)
        message = f"{node.path}: {'; '.join(labels)}" + (f" ({shown})" if shown else "")
        evidence: dict[str, Any] = {"matches": [_match_evidence(m, text) for m in group[:10]]}
        if in_tests:
            evidence["in_test_directory"] = True
        yield ctx.finding(rule, message, path=node.path, severity=severity,
                          evidence=Evidence.of(**evidence))


def _severity(match_kind: str, group: Sequence[Match], file_kind: str) -> str:
    if match_kind == PRIVATE_KEY:
        return "high" if all(m.detail.get("encrypted") for m in group) else "critical"
    if match_kind == CLOUD:
        return "critical" if any(m.detail.get("secret_found", True) for m in group) \
            else "medium"
    if match_kind == CREDENTIAL and file_kind == "generic":
        return "medium"
    return "high"


def _match_evidence(m: Match, text: str) -> dict[str, Any]:
    out: dict[str, Any] = {"what": m.label, "line": text.count("\n", 0, m.start) + 1}
    if m.kind != PRIVATE_KEY:
        out["value"] = mask_secret(m.value)
    for key, value in m.detail.items():
        out[key] = mask_secret(value) if key == "access_key_id" else value
    return out


def _key_store_finding(ctx: ScanContext, node: Node) -> Finding:
    return ctx.finding(
        PRIVATE_KEY_RULE, f"{node.path}: key store or private key ring (by its name and place; "
        "binary, so its content was not inspected)", path=node.path, severity="high",
        evidence=Evidence.of(reason="key store file name", name=posixpath.basename(node.path)))


# -- ENV and history -----------------------------------------------------------------------

def _classify(name: str, value: str) -> tuple[str, str] | None:
    """(kind, what) when the setting ``name=value`` holds a secret."""
    shape = value_shape(value)
    if shape is not None:
        return shape.kind, shape.label
    if not value or not is_credential_name(name) or is_placeholder(value):
        return None
    if re.search(r"(?i)aws.*secret", name):
        return CLOUD, "AWS secret access key"
    return CREDENTIAL, f"credential-like name {name}"


def _env_severity(kind: str) -> str:
    return "critical" if kind in (PRIVATE_KEY, CLOUD) else "high"


def _env_findings(ctx: ScanContext) -> Iterator[Finding]:
    for item in ctx.image.config.env:
        name, _, value = item.partition("=")
        found = _classify(name, value)
        if found is None:
            continue
        kind, what = found
        evidence: dict[str, Any] = {"variable": name, "value": mask_secret(value),
                                    "what": what, "subject": f"ENV {name}"}
        instruction = _env_instruction(ctx, name, value)
        if instruction is not None:
            evidence["instruction"] = mask_all(instruction, [value], mask_secret)
        yield ctx.finding(ENV_RULE, f"ENV {name} holds a secret: {what} "
                          f"({mask_secret(value)}); every container and everyone who pulls "
                          "the image can read it", severity=_env_severity(kind),
                          evidence=Evidence.of(**evidence))


def _env_instruction(ctx: ScanContext, name: str, value: str) -> str | None:
    for entry in reversed(ctx.image.config.history):
        if f"{name}={value}" in entry.created_by or f'{name}="{value}"' in entry.created_by:
            return entry.created_by
    return None


def _history_secrets(created_by: str) -> dict[str, tuple[str, str, str | None]]:
    """value -> (kind, what, setting name) for every secret an instruction records."""
    found: dict[str, tuple[str, str, str | None]] = {}
    for name, value in recorded_settings(created_by):
        hit = _classify(name, value)
        if hit is not None:
            found.setdefault(value, (hit[0], hit[1], name))
    for m in find_shapes(created_by) + find_url_credentials(created_by):
        found.setdefault(m.value, (m.kind, m.label, None))
    return found


def redact_instruction(created_by: str) -> str:
    """``created_by`` with every secret it records masked: for anything that shows history."""
    return mask_all(created_by, _history_secrets(created_by), mask_secret)


def _history_findings(ctx: ScanContext) -> Iterator[Finding]:
    in_env = {item.partition("=")[2] for item in ctx.image.config.env}
    layer_of = {id(h): i for i, h in enumerate(ctx.history) if h is not None}
    for entry in ctx.image.config.history:
        found = {v: hit for v, hit in _history_secrets(entry.created_by).items()
                 if v not in in_env}
        if not found:
            continue
        masked = mask_all(entry.created_by, found, mask_secret)
        kinds = {k for k, _, _ in found.values()}
        whats = sorted({f"{name}: {what}" if name else what for _, what, name in found.values()})
        layer = layer_of.get(id(entry))
        finding = ctx.finding(
            HISTORY_RULE, f"the build history records a secret: {'; '.join(whats)} in "
            f"`{_shorten(masked, 160)}`", layer=layer,
            severity="critical" if kinds & {PRIVATE_KEY, CLOUD} else "high",
            evidence=Evidence.of(instruction=masked, values=[mask_secret(v) for v in found],
                                 subject=masked))
        # the layer's own created_by holds the secret in clear: show the masked one instead
        yield dataclasses.replace(finding, created_by=masked)


def _shorten(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 1] + "…"

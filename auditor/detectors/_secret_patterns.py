"""What secrets look like: private keys, cloud credentials, service tokens, and which
names and values of settings are credentials.

Kept apart from the detector so the shapes can be reviewed on their own. Every shape is
anchored on something a real secret must have (a fixed prefix, a PEM header followed by
key material, a checksum-free but fixed-length alphabet); free-text guesses stay out,
because naive matching is where the false positives of secret scanners come from.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

PRIVATE_KEY, CLOUD, TOKEN, CREDENTIAL = "private-key", "cloud", "token", "credential"


@dataclass(frozen=True, slots=True)
class Match:
    """One secret found in a text; ``value`` is the secret itself and is never printed."""

    kind: str  # PRIVATE_KEY, CLOUD, TOKEN or CREDENTIAL
    label: str  # what it is, in words
    value: str
    start: int
    end: int
    detail: dict[str, Any] = field(default_factory=dict)

    def overlaps(self, other: Match) -> bool:
        return self.start < other.end and other.start < self.end


# -- private keys ------------------------------------------------------------------------

# A header alone is not a key (PEM parsers and docs quote it), so key material must follow:
# optional RFC 1421 headers (Proc-Type, DEK-Info, Version, Comment), then a long base64 run.
# ``\\n`` separators are allowed too, for keys embedded in JSON or one-line env values.
_SEP = r"(?:\s|\\[rn])+"
_PEM_PRIVATE = re.compile(
    r"-----BEGIN ((?:RSA |DSA |EC |OPENSSH |ENCRYPTED |ANY |PGP )?PRIVATE KEY(?: BLOCK)?)-----"
    r"(" + _SEP + r"(?:[A-Za-z][A-Za-z-]*: ?[^\r\n\\]*" + _SEP + r")*)"
    r"([A-Za-z0-9+/=]{40,}(?:" + _SEP + r"[A-Za-z0-9+/=]+)*)"
)
_PEM_LABELS = {
    "PRIVATE KEY": "PKCS#8 private key", "ENCRYPTED PRIVATE KEY": "encrypted PKCS#8 private key",
    "RSA PRIVATE KEY": "RSA private key", "DSA PRIVATE KEY": "DSA private key",
    "EC PRIVATE KEY": "EC private key", "OPENSSH PRIVATE KEY": "OpenSSH private key",
    "PGP PRIVATE KEY BLOCK": "PGP private key", "ANY PRIVATE KEY": "private key",
}
_PUTTY = re.compile(r"PuTTY-User-Key-File-[23]: (\S+)\r?\nEncryption: (\S+)")
_OPENSSH_MAGIC = b"openssh-key-v1\0"


def _openssh_cipher(body: str) -> str | None:
    """The cipher an OpenSSH private key is encrypted with ("none" when it is not)."""
    raw = re.sub(r"[^A-Za-z0-9+/=]", "", body.replace("\\n", "").replace("\\r", ""))[:200]
    raw = raw[: len(raw) - len(raw) % 4]
    try:
        blob = base64.b64decode(raw)
    except (binascii.Error, ValueError):
        return None
    if not blob.startswith(_OPENSSH_MAGIC) or len(blob) < len(_OPENSSH_MAGIC) + 4:
        return None
    at = len(_OPENSSH_MAGIC)
    size = int.from_bytes(blob[at:at + 4], "big")
    name = blob[at + 4:at + 4 + size]
    return name.decode("ascii", "replace") if len(name) == size else None


def find_private_keys(text: str) -> list[Match]:
    out: list[Match] = []
    for m in _PEM_PRIVATE.finditer(text):
        kind, headers, body = m.group(1), m.group(2), m.group(3)
        encrypted: bool | None = None
        if kind.startswith("ENCRYPTED") or "ENCRYPTED" in headers:
            encrypted = True
        elif kind.startswith("OPENSSH"):
            cipher = _openssh_cipher(body)
            encrypted = None if cipher is None else cipher != "none"
        elif kind.startswith(("RSA", "DSA", "EC ")) or kind == "PRIVATE KEY":
            encrypted = False  # traditional PEM says Proc-Type when it is encrypted; PKCS#8
            # plain "PRIVATE KEY" is by definition unencrypted
        label = _PEM_LABELS.get(kind, kind.title())
        out.append(Match(PRIVATE_KEY, label, body, m.start(), m.end(),
                         {"pem_type": kind, "encrypted": encrypted}))
    for m in _PUTTY.finditer(text):
        out.append(Match(PRIVATE_KEY, "PuTTY private key", m.group(0), m.start(), m.end(),
                         {"pem_type": "PuTTY " + m.group(1),
                          "encrypted": m.group(2) != "none"}))
    return out


# -- cloud credentials -------------------------------------------------------------------

_AWS_KEY_ID = re.compile(r"(?<![A-Z0-9])((?:AKIA|ASIA)[0-9A-Z]{16})(?![A-Z0-9])")
_AWS_SECRET_NAMED = re.compile(
    r"(?i)aws_?secret_?(?:access_?)?key[\"']?\s*[:=]\s*[\"']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])")
_BASE64_40 = re.compile(r"(?<![A-Za-z0-9/+=])([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])")
_AWS_NEAR = 600  # characters either side of a key id where its secret is looked for
_AZURE_CONN = re.compile(
    r"(?i)(?:AccountKey|SharedAccessKey)=([A-Za-z0-9+/]{40,}={0,2})(?![A-Za-z0-9+/=])")
_GCP_SERVICE_ACCOUNT = re.compile(r"\"type\"\s*:\s*\"service_account\"")
_GCP_PRIVATE_KEY = re.compile(r"\"private_key\"\s*:\s*\"(-----BEGIN[^\"]{60,})\"")
_GCP_AUTHORIZED_USER = re.compile(r"\"type\"\s*:\s*\"authorized_user\"")
_GCP_REFRESH = re.compile(r"\"refresh_token\"\s*:\s*\"([^\"]{20,})\"")


def _looks_random(value: str) -> bool:
    """Mixed case, as a generated key is; rules out hex digests and words."""
    return (any(c.isupper() for c in value) and any(c.islower() for c in value)
            and len(set(value)) >= 10)


def find_cloud(text: str) -> list[Match]:
    out: list[Match] = []
    named = [m for m in _AWS_SECRET_NAMED.finditer(text)]
    for m in _AWS_KEY_ID.finditer(text):
        secret: re.Match[str] | None = None
        lo, hi = max(0, m.start() - _AWS_NEAR), m.end() + _AWS_NEAR
        for cand in named:
            if lo <= cand.start(1) < hi:
                secret = cand
                break
        if secret is None:
            for cand in _BASE64_40.finditer(text, lo, hi):
                if _looks_random(cand.group(1)):
                    secret = cand
                    break
        if secret is not None:
            out.append(Match(CLOUD, "AWS access key with its secret access key",
                             secret.group(1), min(m.start(), secret.start(1)),
                             max(m.end(), secret.end(1)),
                             {"access_key_id": m.group(1), "secret_found": True}))
        else:
            out.append(Match(CLOUD, "AWS access key id (no secret key found next to it)",
                             m.group(1), m.start(), m.end(),
                             {"access_key_id": m.group(1), "secret_found": False}))
    for cand in named:
        if not any(x.start <= cand.start(1) < x.end for x in out):
            out.append(Match(CLOUD, "AWS secret access key", cand.group(1), cand.start(1),
                             cand.end(1), {"secret_found": True}))
    for m in _AZURE_CONN.finditer(text):
        out.append(Match(CLOUD, "Azure storage or service bus account key", m.group(1),
                         m.start(), m.end()))
    if _GCP_SERVICE_ACCOUNT.search(text):
        for m in _GCP_PRIVATE_KEY.finditer(text):
            out.append(Match(CLOUD, "Google Cloud service-account key", m.group(1),
                             m.start(), m.end()))
    if _GCP_AUTHORIZED_USER.search(text):
        for m in _GCP_REFRESH.finditer(text):
            out.append(Match(CLOUD, "Google Cloud user refresh token", m.group(1),
                             m.start(), m.end()))
    return out


# -- tokens with known shapes ------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class TokenShape:
    label: str
    pattern: re.Pattern[str]  # group 1: the random part, checked for placeholders
    # Text every match contains: a text without it is not scanned with the pattern (a plain
    # substring test is many times faster than a pattern that opens with a lookbehind).
    hint: str = ""


_PLAIN = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"


def _literal_head(regex: str) -> str:
    """The plain text every match of ``regex`` starts with ("" when there is none)."""
    head = regex[:len(regex) - len(regex.lstrip(_PLAIN))]
    if regex[len(head):len(head) + 1] in ("?", "*", "+", "{"):
        head = head[:-1]  # its last character is quantified
    depth, i, in_class = 0, 0, False
    while i < len(regex):  # an alternative at the top level need not start with the head
        c = regex[i]
        if c == "\\":
            i += 1
        elif in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
        elif c in "()":
            depth += 1 if c == "(" else -1
        elif c == "|" and depth == 0:
            return ""
        i += 1
    return head


def _shape(label: str, regex: str) -> TokenShape:
    return TokenShape(label, re.compile(r"(?<![A-Za-z0-9_])" + regex + r"(?![A-Za-z0-9_])"),
                      _literal_head(regex))


TOKEN_SHAPES: tuple[TokenShape, ...] = (
    _shape("GitHub personal access token", r"ghp_([A-Za-z0-9]{36})"),
    _shape("GitHub OAuth token", r"gho_([A-Za-z0-9]{36})"),
    _shape("GitHub app user token", r"ghu_([A-Za-z0-9]{36})"),
    _shape("GitHub app installation token", r"ghs_([A-Za-z0-9]{36})"),
    _shape("GitHub refresh token", r"ghr_([A-Za-z0-9]{36})"),
    _shape("GitHub fine-grained personal access token",
           r"github_pat_([A-Za-z0-9]{22}_[A-Za-z0-9]{59})"),
    _shape("GitLab personal access token", r"glpat-([A-Za-z0-9_-]{20,})"),
    _shape("Slack token", r"xox[baprs]-((?:[0-9]+-)+[A-Za-z0-9-]{8,})"),
    TokenShape("Slack webhook URL", re.compile(
        r"https://hooks\.slack\.com/services/(T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]{20,})"),
        "https://hooks.slack.com/services/"),
    _shape("npm access token", r"npm_([A-Za-z0-9]{36})"),
    _shape("PyPI API token", r"pypi-AgEIcHlwaS5vcmc([A-Za-z0-9_-]{50,})"),
    _shape("Docker Hub access token", r"dckr_pat_([A-Za-z0-9_-]{27,})"),
    _shape("Hugging Face token", r"hf_([A-Za-z0-9]{34,})"),
    _shape("Stripe live secret key", r"[sr]k_live_([A-Za-z0-9]{20,})"),
    _shape("SendGrid API key", r"SG\.([A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43})"),
    _shape("OpenAI API key", r"sk-(?:proj-)?([A-Za-z0-9_-]{16,}T3BlbkFJ[A-Za-z0-9_-]{16,})"),
    _shape("Anthropic API key", r"sk-ant-(?:api|admin)\d\d-([A-Za-z0-9_-]{80,})"),
    _shape("Google API key", r"AIza([0-9A-Za-z_-]{35})"),
)


def _placeholder_token(random_part: str) -> bool:
    """``ghp_xxxx...``, ``npm_0000...``, ``glpat-XXXXXXXX...``: documentation, not tokens."""
    core = re.sub(r"[^A-Za-z0-9]", "", random_part)
    if len(set(core.lower())) < 6:
        return True
    classes = sum(1 for test in (str.isupper, str.islower, str.isdigit)
                  if any(test(c) for c in core))
    return len(core) >= 20 and classes < 2


def find_tokens(text: str) -> list[Match]:
    out: list[Match] = []
    for shape in TOKEN_SHAPES:
        if shape.hint not in text:
            continue
        for m in shape.pattern.finditer(text):
            if not _placeholder_token(m.group(1)):
                out.append(Match(TOKEN, shape.label, m.group(0), m.start(), m.end()))
    return out


# -- credentials in URLs -----------------------------------------------------------------

_URL_USERINFO = re.compile(
    r"\b([a-z][a-z0-9+.-]{1,15})://([^\s/:@'\"]{1,64}):([^\s/@'\"]{1,256})@([A-Za-z0-9.-]+)")


def find_url_credentials(text: str) -> list[Match]:
    out: list[Match] = []
    for m in _URL_USERINFO.finditer(text):
        password = m.group(3)
        if is_placeholder(password):
            continue
        out.append(Match(CREDENTIAL, f"password in a {m.group(1)}:// URL", password,
                         m.start(3), m.end(3), {"host": m.group(4), "user": m.group(2)}))
    return out


def find_shapes(text: str) -> list[Match]:
    """Private keys, cloud credentials and tokens: shapes specific enough to scan any text."""
    found: list[Match] = []
    for m in [*find_cloud(text), *find_private_keys(text), *find_tokens(text)]:
        if not any(m.overlaps(x) for x in found):
            found.append(m)
    return found


# -- names and values of settings ----------------------------------------------------------

_WORD = re.compile(r"[A-Z]+[a-z0-9]*|[a-z0-9]+")
_SECRET_WORDS = frozenset({
    "PASSWORD", "PASSWORDS", "PASSWD", "PASSPHRASE", "SECRET", "SECRETS", "TOKEN", "TOKENS",
    "APIKEY", "CREDENTIAL", "CREDENTIALS", "PRIVATEKEY", "AUTHTOKEN", "ACCESSTOKEN",
})
_SECRET_PAIRS = frozenset({
    ("API", "KEY"), ("ACCESS", "KEY"), ("SECRET", "KEY"), ("PRIVATE", "KEY"),
    ("MASTER", "KEY"), ("ENCRYPTION", "KEY"), ("SIGNING", "KEY"), ("ACCOUNT", "KEY"),
    ("APP", "KEY"), ("AUTH", "KEY"), ("CLIENT", "SECRET"), ("AUTH", "IDENT"),
    ("KEY", "DATA"), ("DB", "PASS"), ("SMTP", "PASS"), ("MAIL", "PASS"), ("ADMIN", "PASS"),
    ("ROOT", "PASS"), ("USER", "PASS"), ("APPLICATION", "KEY"),
})
# Names that say the value is about a secret but is not one: where it lives, who uses it,
# public halves, fingerprints and key ids (GPG_KEY is a fingerprint in official images).
_BENIGN_WORDS = frozenset({
    "FILE", "PATH", "DIR", "DIRECTORY", "HOST", "HOSTNAME", "PORT", "USER", "USERNAME",
    "NAME", "ID", "IDS", "TYPE", "METHOD", "LENGTH", "SIZE", "ENABLED", "ENABLE", "DISABLE",
    "DISABLED", "VERSION", "FINGERPRINT", "GPG", "PGP", "PUBLIC", "PUB", "EXPIRY", "EXPIRES",
    "TTL", "TIMEOUT", "HEADER", "FIELD", "MODE", "POLICY", "REQUIRED", "ALGORITHM", "ALG",
    "ENDPOINT", "REGION", "ISSUER", "AUDIENCE", "PREFIX", "LOCATION", "COMMAND", "CMD",
    "MIN", "MAX", "URL", "URI", "SHA", "SHA1", "SHA256", "SHA512", "MD5", "CHECKSUM", "HASH",
    "FORMAT", "STORE", "PROVIDER", "HELPER", "SERVER", "KEYRING", "KEYSERVER", "ASC",
    "LIFETIME", "ROTATION", "REFRESH", "PLUGIN", "BACKEND", "STRENGTH", "COMPLEXITY",
})
_EXACT_BENIGN = frozenset({"PWD", "OLDPWD", "PASS", "KEY"})
_PLACEHOLDER_WORDS = frozenset({
    "", "true", "false", "yes", "no", "on", "off", "none", "null", "nil", "undefined",
    "required", "optional", "empty", "secret", "password", "token", "changeit", "xxx",
    "example", "placeholder", "redacted", "dummy", "unset", "default", "test", "<none>",
    "pass", "passwd", "pwd",
})


def name_words(name: str) -> list[str]:
    return [w.upper() for w in _WORD.findall(name)]


def is_credential_name(name: str) -> bool:
    """``DB_PASSWORD``, ``apiKey``, ``_authToken``: yes. ``GPG_KEY``, ``PASSWORD_FILE``: no."""
    words = name_words(name)
    if not words or name.upper() in _EXACT_BENIGN:
        return False
    if any(w in _BENIGN_WORDS for w in words):
        return False
    if words == ["AUTH"]:  # .npmrc's _auth: base64 of user:password
        return True
    pairs = list(itertools.pairwise(words))
    joined = {a + b for a, b in pairs}
    return (any(w in _SECRET_WORDS for w in words) or bool(joined & _SECRET_WORDS)
            or any(pair in _SECRET_PAIRS for pair in pairs))


def is_placeholder(value: str) -> bool:
    """Values that are obviously not a secret: references, templates, switches, masks."""
    v = value.strip().strip("\"'")
    low = v.lower()
    if low in _PLACEHOLDER_WORDS or len(v) < 4:
        return True
    if v.startswith(("$", "%(", "{{", "<", "#{", "@@", "!", "/run/secrets/", "file:",
                     "vault:")):
        return True
    if v.isascii() and v.isdigit() and len(v) < 8:  # limits, ports, counts
        return True
    if len(set(low)) <= 2:  # "xxxxxx", "******", "000000"
        return True
    if v.startswith("/") and " " not in v:  # a path to where the secret lives
        return True
    return any(word in low for word in ("your", "example.com", "placeholder", "changeme_",
                                        "redacted", "<", "${", "dummy", "replace"))


# key = value, key: value, "key": "value", <key>value</key>, export KEY=value
_ASSIGNMENT = re.compile(
    r"""(?mx)
    (?:^[ \t]*(?:export[ \t]+)?(?://\S*?:)?:?(?P<k1>[A-Za-z_][A-Za-z0-9_.-]{0,80})[ \t]*[=:][ \t]*
        (?P<q1>["']?)(?P<v1>[^\s"'#]{1,512})(?P=q1)
     |"(?P<k2>[A-Za-z_][A-Za-z0-9_.-]{0,80})"[ \t]*:[ \t]*"(?P<v2>[^"\\]{1,512})"
     |<(?P<k3>[A-Za-z_][A-Za-z0-9_.-]{0,80})>(?P<v3>[^<\s]{1,512})</(?P=k3)>
    )""")


def find_assignments(text: str) -> Iterator[tuple[str, str, int, int]]:
    """Every (name, value, start, end) of a setting in env, ini, yaml, json or xml text."""
    for m in _ASSIGNMENT.finditer(text):
        for k, v in (("k1", "v1"), ("k2", "v2"), ("k3", "v3")):
            if m.group(k) is not None:
                yield m.group(k), m.group(v), m.start(v), m.end(v)
                break


def credential_matches(text: str, taken: Iterable[Match] = ()) -> list[Match]:
    """Settings whose name says credential and whose value is a real value, minus values
    already matched by a more specific shape (``taken``)."""
    taken = list(taken)
    out: list[Match] = []
    for name, value, start, end in find_assignments(text):
        if not is_credential_name(name) or is_placeholder(value):
            continue
        m = Match(CREDENTIAL, f"{name} setting", value, start, end, {"name": name})
        if not any(m.overlaps(x) for x in taken):
            out.append(m)
    return out


def value_shape(value: str) -> Match | None:
    """The most specific shape a single value (an ENV or build-arg value) has, if any."""
    found = find_shapes(value) or find_url_credentials(value)
    return found[0] if found else None


def mask_all(text: str, secrets: Iterable[str], mask: Any) -> str:
    """``text`` with every secret replaced by ``mask(secret)`` (longest first)."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        if secret:
            text = text.replace(secret, mask(secret))
    return text


# -- credential file formats -----------------------------------------------------------

_NETRC_PASSWORD = re.compile(r"(?:^|\s)password\s+(\S+)")


def netrc_passwords(text: str) -> list[Match]:
    return [Match(CREDENTIAL, "netrc password", m.group(1), m.start(1), m.end(1))
            for m in _NETRC_PASSWORD.finditer(text) if not is_placeholder(m.group(1))]


def pgpass_passwords(text: str) -> list[Match]:
    out: list[Match] = []
    offset = 0
    for line in text.splitlines(keepends=True):
        fields = line.rstrip("\r\n").split(":")
        if len(fields) == 5 and not line.startswith("#") and not is_placeholder(fields[4]):
            start = offset + len(line.rstrip("\r\n")) - len(fields[4])
            out.append(Match(CREDENTIAL, "PostgreSQL password file entry", fields[4], start,
                             start + len(fields[4])))
        offset += len(line)
    return out


def docker_logins(text: str) -> list[Match]:
    try:
        doc = json.loads(text)
    except ValueError:
        return []
    auths = doc.get("auths") if isinstance(doc, dict) else None
    out: list[Match] = []
    for registry, entry in (auths.items() if isinstance(auths, dict) else ()):
        if not isinstance(entry, dict):
            continue
        for key in ("auth", "identitytoken", "registrytoken", "password"):
            value = entry.get(key)
            if isinstance(value, str) and value and not is_placeholder(value):
                at = max(text.find(value), 0)
                out.append(Match(CREDENTIAL, f"registry login for {registry}", value, at,
                                 at + len(value), {"registry": registry, "field": key}))
    return out

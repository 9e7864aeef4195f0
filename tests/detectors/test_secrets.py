from __future__ import annotations

import base64
import json
import os
import struct

import pytest

from auditor.detectors import ScanContext
from auditor.detectors._secret_patterns import _literal_head, is_credential_name, is_placeholder
from auditor.detectors.secrets import (
    CLOUD_RULE,
    ENV_RULE,
    FILE_RULE,
    HISTORY_RULE,
    PRIVATE_KEY_RULE,
    TOKEN_RULE,
    WANTS,
    detect,
    redact_instruction,
)
from auditor.inventory import Package
from auditor.model.findings import Finding
from auditor.model.image import HistoryEntry, ImageConfig
from auditor.read.wants import ContentWants
from tests.detectors.configkit import context_of
from tests.detectors.toolkit import package
from tests.layerkit import F, H

# Random-looking material, made here so that no real key or token is in the repository.
GHP = "ghp_" + "1GhVh0DZbReAr7cIAW6yAuV5DIBWPycBIrsy"
AWS_ID, AWS_SECRET = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def b64_lines(raw: bytes, width: int = 64) -> str:
    text = base64.b64encode(raw).decode()
    return "\n".join(text[i:i + width] for i in range(0, len(text), width))


def pem(kind: str, body: bytes = b"", headers: str = "") -> str:
    body = body or os.urandom(600)
    return f"-----BEGIN {kind}-----\n{headers}{b64_lines(body)}\n-----END {kind}-----\n"


def openssh_key(cipher: str = "none") -> str:
    blob = b"openssh-key-v1\0" + struct.pack(">I", len(cipher)) + cipher.encode() + \
        os.urandom(400)
    return pem("OPENSSH PRIVATE KEY", blob)


def run(ctx: ScanContext) -> list[Finding]:
    return list(detect(ctx))


def scan(*files: F | H, packages: tuple[Package, ...] = (),
         env: tuple[str, ...] = ()) -> list[Finding]:
    return run(context_of(list(files), config=ImageConfig(env=env), packages=packages))


def history_context(history: list[str], env: tuple[str, ...] = ()) -> ScanContext:
    """One layer per history entry that is not an ENV/ARG, as the builders make them."""
    entries = [HistoryEntry(h, empty_layer=" ENV " in h or " ARG " in h
                            or h.startswith(("ENV ", "ARG "))) for h in history]
    layers = [[F(f"/layer{i}", "x")] for i, e in enumerate(entries) if not e.empty_layer]
    return context_of(*layers, config=ImageConfig(env=env), history=entries)


# -- private keys ---------------------------------------------------------------------------

@pytest.mark.parametrize("content, severity, encrypted", [
    pytest.param(openssh_key(), "critical", False, id="openssh-unencrypted"),
    pytest.param(openssh_key("aes256-ctr"), "high", True, id="openssh-with-passphrase"),
    pytest.param(pem("RSA PRIVATE KEY"), "critical", False, id="traditional-rsa"),
    pytest.param(pem("RSA PRIVATE KEY", headers="Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,"
                     "0011\n\n"), "high", True, id="traditional-rsa-encrypted"),
    pytest.param(pem("PRIVATE KEY"), "critical", False, id="pkcs8"),
    pytest.param(pem("ENCRYPTED PRIVATE KEY"), "high", True, id="pkcs8-encrypted"),
    pytest.param(pem("EC PRIVATE KEY", os.urandom(120)), "critical", False, id="ec"),
    pytest.param("PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: k\n",
                 "critical", False, id="putty"),
])
def test_private_keys_are_found_with_their_kind_and_encryption(content, severity,
                                                               encrypted):
    found = scan(F("/root/.ssh/id_rsa", content, mode=0o600))
    assert [(f.rule_id, f.path, f.severity) for f in found] == [
        (PRIVATE_KEY_RULE.id, "/root/.ssh/id_rsa", severity)]
    assert found[0].evidence["matches"][0]["encrypted"] is encrypted
    assert found[0].category == "secret"


@pytest.mark.parametrize("path", [
    "/app/config/server.key", "/srv/tls/key.pem", "/home/dev/.ssh/deploy", "/etc/app/jwt.pem",
    "/opt/service/conf/signing.pem",
], ids=["key-ext-in-app", "pem-in-srv", "any-name-in-ssh-dir", "pem-in-etc", "pem-in-opt"])
def test_private_keys_are_found_in_the_places_apps_keep_them(path):
    found = scan(F(path, pem("PRIVATE KEY")))
    assert [(f.rule_id, f.path) for f in found] == [(PRIVATE_KEY_RULE.id, path)]


@pytest.mark.parametrize("path, content", [
    ("/etc/ssl/certs/ca.pem", pem("CERTIFICATE")),
    ("/app/public.pem", pem("PUBLIC KEY")),
    ("/root/.ssh/id_rsa.pub", "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 user@host\n"),
    ("/etc/ssh/ssh_host_ed25519_key.pub", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA root@h\n"),
    ("/app/config/parser.conf", 'header = "-----BEGIN RSA PRIVATE KEY-----"\n'),
    ("/app/docs.txt", "-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----\n"),
], ids=["certificate", "public-key-pem", "ssh-public-key", "ssh-host-public-key",
        "header-quoted-in-code", "header-with-no-key-material"])
def test_public_halves_and_mentions_of_keys_are_not_flagged(path, content):
    assert scan(F(path, content)) == []


def test_a_key_a_package_owns_is_its_test_fixture_not_a_leak():
    path = "/usr/share/go-1.19/src/crypto/tls/testdata/example-key.pem"
    other = "/usr/lib/python3.11/test/keycert.pem"
    found = scan(F(path, pem("RSA PRIVATE KEY")),
                         F(other, pem("PRIVATE KEY")),
                         packages=(package("golang-1.19-src", path),
                                   package("libpython3.11-testsuite", other)))
    assert found == []


@pytest.mark.parametrize("path", [
    "/app/node_modules/ssh2/test/fixtures/id_rsa",
    "/usr/local/lib/python3.11/site-packages/tests/key.pem",
    "/root/go/pkg/mod/golang.org/x/crypto@v0.1.0/ssh/testdata/keys.pem",
    "/src/vendor/github.com/lib/tls/key.pem",
], ids=["node-modules", "site-packages", "go-module-cache", "vendor"])
def test_keys_inside_dependency_trees_are_not_flagged(path):
    assert scan(F(path, pem("RSA PRIVATE KEY"))) == []


def test_keys_generated_by_package_scripts_are_one_finding_with_their_own_fix():
    found = scan(F("/etc/ssh/ssh_host_rsa_key", openssh_key()),
                 F("/etc/ssh/ssh_host_ed25519_key", openssh_key()),
                 F("/etc/ssh/ssh_host_rsa_key.pub", "ssh-rsa AAAAB3NzaC1yc2E root@h\n"),
                 F("/etc/ssh/sshd_config", "PermitRootLogin no\n"))
    assert [(f.rule_id, f.severity, f.paths) for f in found] == [
        (PRIVATE_KEY_RULE.id, "high", ("/etc/ssh/ssh_host_ed25519_key",
                                       "/etc/ssh/ssh_host_rsa_key"))]
    assert "every container of this image shares them" in found[0].message
    assert "ssh-keygen -A" in found[0].fix


def test_a_key_in_a_test_directory_of_the_app_is_reported_at_lower_severity():
    found = scan(F("/app/tests/fixtures/server.key", pem("PRIVATE KEY")))
    assert [(f.rule_id, f.severity) for f in found] == [(PRIVATE_KEY_RULE.id, "medium")]
    assert found[0].evidence["in_test_directory"] is True


def test_a_hard_linked_key_is_one_finding():
    found = scan(F("/app/key.pem", pem("PRIVATE KEY")),
                         H("/app/key-copy.pem", "/app/key.pem"))
    assert [f.path for f in found] == ["/app/key.pem"]


@pytest.mark.parametrize("path, flagged", [
    ("/app/certs/client.p12", True), ("/srv/keystore.jks", True),
    ("/root/.gnupg/private-keys-v1.d/ABCD.key", True),
    ("/app/certs/truststore.jks", False), ("/opt/java/cacerts.jks", False),
], ids=["pkcs12", "java-keystore", "gnupg-private-key", "truststore", "cacerts"])
def test_binary_key_stores_are_flagged_by_name_and_place(path, flagged):
    found = scan(F(path, b"\x30\x82\x0a\x00\0\0binary"))
    assert [(f.rule_id, f.severity) for f in found] == (
        [(PRIVATE_KEY_RULE.id, "high")] if flagged else [])


# -- cloud credentials and tokens -------------------------------------------------------

def test_aws_key_pair_in_an_env_file_is_critical_and_masked():
    content = f"# example\nAWS_ACCESS_KEY_ID={AWS_ID}\nAWS_SECRET_ACCESS_KEY={AWS_SECRET}\n" \
              "AWS_DEFAULT_REGION=us-east-1\n"
    found = scan(F("/app/.env", content))
    assert [(f.rule_id, f.severity, f.path) for f in found] == [
        (CLOUD_RULE.id, "critical", "/app/.env")]
    text = json.dumps(found[0].to_json())
    assert AWS_SECRET not in text and AWS_ID not in text
    assert found[0].evidence["matches"][0]["line"] == 2


def test_an_aws_key_id_alone_is_reported_as_medium():
    found = scan(F("/app/settings.yml", f"aws_key: {AWS_ID}\n"))
    assert [(f.rule_id, f.severity) for f in found] == [(CLOUD_RULE.id, "medium")]


@pytest.mark.parametrize("path, content", [
    ("/root/.aws/credentials",
     f"[default]\naws_access_key_id = {AWS_ID}\naws_secret_access_key = {AWS_SECRET}\n"),
    ("/app/sa.json", json.dumps({"type": "service_account", "project_id": "p",
                                 "private_key": pem("PRIVATE KEY").replace("\n", "\\n")})
     .replace("\\\\n", "\\n")),
    ("/app/appsettings.json", json.dumps({"Storage": "DefaultEndpointsProtocol=https;"
                                          "AccountName=acct;AccountKey=" + base64.b64encode(
                                              os.urandom(64)).decode()})),
], ids=["aws-credentials-file", "gcp-service-account", "azure-connection-string"])
def test_cloud_credentials_are_critical(path, content):
    found = scan(F(path, content))
    assert [(f.rule_id, f.severity) for f in found] == [(CLOUD_RULE.id, "critical")]


@pytest.mark.parametrize("token", [
    GHP, "github_pat_" + "A1b2C3d4E5f6G7h8I9j0K1" + "_" + "x9Y8w7V6u5T4s3R2q1P0o9N8m7L6k5J4i3H2g1F0"
    "e9D8c7B6a5Z4y3X2w1V",
    "glpat-" + "aB3dE5fG7hJ9kL1mN3pQ", "xoxb-" + "123456789012-1234567890123-AbCdEfGhIjKlMnOp",
    "npm_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5", "pypi-AgEIcHlwaS5vcmc" + "Q" * 3 +
    "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5bC7dE9fG1hJ3kL5mN7",
], ids=["github-classic", "github-fine-grained", "gitlab", "slack-bot", "npm", "pypi"])
def test_token_shapes_are_found_in_any_scanned_file(token):
    found = scan(F("/app/config.yml", f"notify:\n  with: {token}\n"))
    assert [(f.rule_id, f.severity) for f in found] == [(TOKEN_RULE.id, "high")]
    assert token not in f"{found[0].message}{found[0].evidence}"


@pytest.mark.parametrize(("regex", "head"), [
    ("ghp_([A-Za-z0-9]{36})", "ghp_"), ("xox[baprs]-(x)", "xox"), ("sk-(?:proj-)?(x)", "sk-"),
    ("ab?c", "a"), ("ab*", "a"), ("ab(c)|d", ""), ("ab[|]c", "ab"), (r"a\|b", "a"), ("(ab)", ""),
])
def test_a_token_shape_is_looked_for_only_where_its_plain_head_is(regex, head):
    assert _literal_head(regex) == head


@pytest.mark.parametrize("text", [
    "ghp_" + "x" * 36, "ghp_" + "0" * 36, "npm_" + "abcdefghijklmnopqrstuvwxyzabcdefghij",
    "sha1 " + "a" * 40, "commit 3f786850e387550fdab836ed7e6dc881de23001b",
], ids=["x-placeholder", "zero-placeholder", "lowercase-only-words", "hex-run", "git-sha"])
def test_placeholders_and_digests_are_not_tokens(text):
    assert scan(F("/app/README.txt", text + "\n")) == []


# -- credential files ----------------------------------------------------------------------

@pytest.mark.parametrize("path, content, flagged", [
    ("/root/.npmrc", "//registry.npmjs.org/:_authToken=s3cr3tT0kenValue42\n", True),
    ("/root/.npmrc", "//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n", False),
    ("/home/dev/.npmrc", "_auth=dXNlcjpwYXNzd29yZDEyMw==\n", True),
    ("/root/.pypirc", "[pypi]\nusername = __token__\npassword = hunter2hunter2\n", True),
    ("/root/.netrc", "machine example.com login bob password Tr0ub4dor3\n", True),
    ("/root/.netrc", "machine example.com login bob\n", False),
    ("/root/.docker/config.json", '{"auths": {"registry.example.com": {"auth": '
     '"Ym9iOnMzY3JldA=="}}}', True),
    ("/root/.docker/config.json", '{"credsStore": "desktop", "auths": {"r.io": {}}}', False),
    ("/root/.git-credentials", "https://bob:Tr0ub4dor3@git.example.com\n", True),
    ("/app/.git/config", '[remote "origin"]\n\turl = https://bob:Tr0ub4dor3@git.example.com/r\n',
     True),
    ("/app/.git/config", '[remote "origin"]\n\turl = https://git.example.com/acme/app.git\n',
     False),
    ("/app/.env.production", "DB_PASSWORD=Tr0ub4dor3&3\nDB_HOST=db\n", True),
    ("/app/.env", "PASSWORD_FILE=/run/secrets/db\nGPG_KEY=A035C8C19219BA821ECEA86B64E628F8D\n"
     "AWS_ACCESS_KEY_ID_NAME=x\nSECRET=\nTOKEN=${TOKEN}\nAPI_KEY=changeme_later\n", False),
    ("/root/.pgpass", "db.example.com:5432:app:bob:Tr0ub4dor3\n", True),
    ("/root/.m2/settings.xml", "<servers><server><id>r</id><password>Tr0ub4dor3</password>"
     "</server></servers>", True),
    ("/root/.cargo/credentials.toml", '[registry]\ntoken = "cio_Tr0ub4dor3xyz"\n', True),
], ids=["npmrc-token", "npmrc-env-reference", "npmrc-basic-auth", "pypirc-password",
        "netrc-password", "netrc-without-password", "docker-config-auth",
        "docker-config-creds-store", "git-credentials", "git-config-url-with-password",
        "git-config-plain-url", "env-file-password", "env-file-only-benign-names",
        "pgpass", "maven-settings", "cargo-credentials"])
def test_credential_files(path, content, flagged):
    found = scan(F(path, content))
    assert [f.rule_id for f in found] == ([FILE_RULE.id] if flagged else [])
    for f in found:
        assert "Tr0ub4dor3" not in f.message and "s3cr3t" not in f.message


def test_a_config_file_of_the_app_with_a_password_is_medium():
    found = scan(F("/app/config/database.yml",
                                    "production:\n  password: Tr0ub4dor3xyz\n  pool: 5\n"))
    assert [(f.rule_id, f.severity) for f in found] == [(FILE_RULE.id, "medium")]


def test_setting_names_in_etc_are_not_guessed_at():
    assert scan(F("/etc/app.conf", "password = Tr0ub4dor3xyz\n")) == []


def test_package_owned_config_is_not_scanned():
    found = scan(F("/etc/ssl/private/demo.key", pem("PRIVATE KEY")),
                         packages=(package("demo", "/etc/ssl/private/demo.key"),))
    assert found == []


# -- ENV and history -----------------------------------------------------------------------

@pytest.mark.parametrize("env, expected", [
    (f"API_TOKEN={GHP}", (ENV_RULE.id, "high")),
    (f"AWS_SECRET_ACCESS_KEY={AWS_SECRET}", (ENV_RULE.id, "critical")),
    ("DB_PASSWORD=Tr0ub4dor3", (ENV_RULE.id, "high")),
    ("DATABASE_URL=postgres://app:Tr0ub4dor3@db:5432/app", (ENV_RULE.id, "high")),
    ("GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D", None),
    ("RABBITMQ_PGP_KEY_ID=0x0A9AF2115F4687BD29803A206B73A36E6026DFCA", None),
    ("POSTGRES_PASSWORD_FILE=/run/secrets/pg", None),
    ("PYTHON_SHA256=8d3d9ae5d0d2d5a4b5c8f6f0e4f1b7c6a3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8", None),
    ("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", None),
    ("NODE_VERSION=20.11.1", None),
    ("MAX_TOKENS=4096", None),
    ("SECRET_KEY=", None),
], ids=["github-token", "aws-secret", "password-name", "url-with-password", "gpg-fingerprint",
        "key-id", "password-file-path", "checksum", "path", "version", "numeric-limit",
        "empty"])
def test_env_values(env, expected):
    found = scan(F("/x", ""), env=("PATH=/usr/bin", env))
    assert [(f.rule_id, f.severity) for f in found] == ([expected] if expected else [])
    for f in found:
        secret = env.partition("=")[2]
        assert f.path is None
        assert secret not in json.dumps(f.to_json())
        assert env.partition("=")[0] in f.message


def test_env_finding_shows_the_instruction_masked():
    ctx = history_context(["/bin/sh -c #(nop) ADD file:x in / ",
                           f"/bin/sh -c #(nop)  ENV API_TOKEN={GHP}"],
                          env=(f"API_TOKEN={GHP}",))
    found = run(ctx)
    assert [f.rule_id for f in found] == [ENV_RULE.id]  # not reported twice via history
    assert found[0].evidence["instruction"] == "/bin/sh -c #(nop)  ENV API_TOKEN=ghp_" + "*" * 16


@pytest.mark.parametrize("created_by, severity", [
    (f"|1 GITHUB_TOKEN={GHP} /bin/sh -c git clone https://github.com/acme/x", "high"),
    ("RUN |2 A=1 NPM_TOKEN=npm_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5 /bin/sh -c npm ci "
     "# buildkit", "high"),
    (f"/bin/sh -c curl -H 'Authorization: token {GHP}' https://api.github.com", "high"),
    (f"/bin/sh -c #(nop)  ARG AWS_SECRET_ACCESS_KEY={AWS_SECRET}", "critical"),
    ("/bin/sh -c #(nop)  ENV DB_PASSWORD=Tr0ub4dor3", "high"),
], ids=["legacy-build-arg", "buildkit-build-arg", "token-in-run", "arg-default",
        "env-overwritten-later"])
def test_history_records_secrets(created_by, severity):
    ctx = history_context(["/bin/sh -c #(nop) ADD file:x in / ", created_by],
                          env=("DB_PASSWORD=",))
    found = run(ctx)
    assert [(f.rule_id, f.severity) for f in found] == [(HISTORY_RULE.id, severity)]
    blob = json.dumps(found[0].to_json())
    for secret in (GHP, AWS_SECRET, "Tr0ub4dor3", "npm_aB3d" + "E5fG"):
        assert secret not in blob
    assert found[0].created_by == found[0].evidence["instruction"]


@pytest.mark.parametrize("created_by", [
    "|1 GO_VERSION=1.22.1 /bin/sh -c make",
    "/bin/sh -c #(nop)  ENV GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D",
    "/bin/sh -c #(nop)  ARG TOKEN",
    "/bin/sh -c echo $API_TOKEN > /dev/null",
], ids=["harmless-build-arg", "gpg-fingerprint", "arg-without-default", "reference-only"])
def test_history_without_secrets(created_by):
    assert run(history_context(["/bin/sh -c #(nop) ADD file:x in / ", created_by])) == []


# A secret handed to a RUN as a mounted secret: the history has its id and its path, never
# its value (buildah writes the --mount flag, BuildKit leaves it out). The right way.
@pytest.mark.parametrize("created_by", [
    "/bin/sh -c --mount=type=secret,id=npmrc,target=/root/.npmrc npm ci",
    "/bin/sh -c --mount=type=secret,id=aws,env=AWS_SECRET_ACCESS_KEY aws s3 ls",
    "/bin/sh -c --mount=type=secret,id=token,env=GITHUB_TOKEN,required=true make",
    "RUN /bin/sh -c cat /run/secrets/npmrc > /dev/null # buildkit",
    "RUN |1 NPM_TOKEN_ID=npmrc /bin/sh -c NPM_TOKEN=$(cat /run/secrets/npm) npm ci # buildkit",
    'RUN /bin/sh -c echo "//registry.npmjs.org/:_authToken=${NPM_TOKEN}" > .npmrc # buildkit',
    "RUN /bin/sh -c export PASSWORD=$(cat /run/secrets/db_password) && ./migrate # buildkit",
    "RUN /bin/sh -c pip install --index-url https://__token__:$(cat /run/secrets/pypi)"
    "@pypi.example.com/simple x # buildkit",
    'RUN /bin/sh -c curl -H "Authorization: Bearer $(cat /run/secrets/gh)" https://x # buildkit',
    "RUN /bin/sh -c git clone https://oauth2:$(cat /run/secrets/gl)@gitlab.com/o/r # buildkit",
], ids=["buildah-secret-target", "buildah-secret-env-aws", "buildah-secret-env-token",
        "buildkit-cat", "buildkit-var-from-secret", "buildkit-npmrc-template",
        "buildkit-password-from-secret", "buildkit-index-url", "buildkit-bearer",
        "buildkit-clone-url"])
def test_a_mounted_secret_is_not_a_secret_in_the_history(created_by):
    assert run(history_context(["/bin/sh -c #(nop) ADD file:x in / ", created_by])) == []


def test_a_secret_in_the_script_is_reported_mount_or_not():
    created_by = (f"/bin/sh -c --mount=type=secret,id=npmrc git clone "
                  f"https://x-access-token:{GHP}@github.com/o/r")
    found = run(history_context(["/bin/sh -c #(nop) ADD file:x in / ", created_by]))
    assert [f.rule_id for f in found] == [HISTORY_RULE.id]


def test_redact_instruction_masks_what_the_history_finding_would_report():
    text = redact_instruction(f"|1 TOKEN={GHP} /bin/sh -c make")
    assert GHP not in text and text.endswith("/bin/sh -c make")


# -- names, values and the files read ------------------------------------------------------

@pytest.mark.parametrize("name, expected", [
    ("DB_PASSWORD", True), ("apiKey", True), ("_authToken", True), ("_auth", True),
    ("SECRET_KEY_BASE", True), ("client_secret", True), ("JWT_SECRET", True),
    ("GPG_KEY", False), ("AWS_ACCESS_KEY_ID", False), ("PASSWORD_FILE", False),
    ("TOKEN_URL", False), ("PWD", False), ("KEY", False), ("tokenType", False),
])
def test_credential_names(name, expected):
    assert is_credential_name(name) is expected


@pytest.mark.parametrize("value, expected", [
    ("${DB_PASSWORD}", True), ("xxxxxxxx", True), ("true", True), ("/run/secrets/x", True),
    ("<your-token>", True), ("8080", True), ("Tr0ub4dor3", False), ("changeme", False),
])
def test_placeholder_values(value, expected):
    assert is_placeholder(value) is expected


@pytest.mark.parametrize("path, wanted", [
    ("/root/.ssh/id_rsa", True), ("/app/.env", True), ("/home/dev/.npmrc", True),
    ("/app/config/settings.yml", True), ("/etc/myapp/app.conf", True),
    ("/srv/www/.git/config", True), ("/usr/lib/python3/dist-packages/x/data.json", False),
    ("/app/node_modules/a/lib/data/big.json", False), ("/usr/bin/python3", False),
    ("/var/lib/apt/lists/deb.debian.org_Packages", False),
])
def test_wants_cover_secret_bearing_files_and_not_everything(path, wanted):
    assert bool(ContentWants(WANTS, executable_prefix=0).limit(path, 0o644)) is wanted


def test_unread_ssh_key_file_is_reported_by_name():
    ctx = context_of([F("/root/.ssh/id_ed25519", openssh_key())])
    node = ctx.tree.get("/root/.ssh/id_ed25519")
    assert node is not None
    node.data = None  # as when the capture budget ran out
    found = run(ctx)
    assert [(f.rule_id, f.severity) for f in found] == [(PRIVATE_KEY_RULE.id, "high")]

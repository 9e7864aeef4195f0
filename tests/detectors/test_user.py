from __future__ import annotations

import pytest

from auditor.detectors.user import detect, detect_accounts
from auditor.model.image import ImageConfig
from tests.detectors.configkit import context_of, nop, run
from tests.layerkit import D, F

PASSWD = ("root:x:0:0:root:/root:/bin/bash\n"
          "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
          "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
          "app:x:10001:10001::/home/app:/usr/sbin/nologin\n")
GROUP = "root:x:0:\ndaemon:x:1:\nnogroup:x:65534:\napp:x:10001:\n"
SHADOW = ("root:*:19000:0:99999:7:::\ndaemon:*:19000::::::\nnobody:!:19000::::::\n"
          "app:!:19000::::::\n")


def accounts(passwd: str = PASSWD, group: str = GROUP, shadow: str | None = SHADOW) -> list:
    files = [D("/etc"), F("/etc/passwd", passwd), F("/etc/group", group)]
    if shadow is not None:
        files.append(F("/etc/shadow", shadow, mode=0o640))
    return files


def user_findings(user: str, layer: list, rule_id: str) -> list:
    ctx = context_of(layer, config=ImageConfig(user=user),
                     history=["/bin/sh -c #(nop) ADD file:0 in / ",
                              nop(f"/bin/sh -c #(nop)  USER {user}")])
    return run(detect, ctx, rule_id)


@pytest.mark.parametrize("user, files, why", [
    ("", accounts(), "no USER"),
    ("", [F("/hello", b"\x7fELF", mode=0o755)], "no USER and no /etc/passwd"),
    ("root", accounts(), "root"),
    ("0", [F("/hello", b"x")], "numeric 0 needs no passwd"),
    ("0:0", [F("/hello", b"x")], "uid:gid 0:0"),
    ("toor", accounts(PASSWD + "toor:x:0:0::/root:/bin/sh\n"), "a second uid-0 name"),
    ("root:app", accounts(), "root with another group"),
], ids=["no-user", "no-user-scratch", "root-by-name", "uid-0", "uid-0-gid-0",
        "toor-maps-to-uid-0", "root-with-group"])
def test_runs_as_root(user, files, why):
    found = user_findings(user, files, "AUD-ROOT-USER")
    assert len(found) == 1, why
    assert found[0].category == "root-user"
    assert found[0].evidence["uid"] == 0
    assert found[0].path is None and found[0].layer is None


@pytest.mark.parametrize("user, files", [
    ("65532:65532", [F("/hello", b"x")]),
    ("1000", [F("/hello", b"x")]),
    ("app", accounts()),
    ("app:app", accounts()),
    ("nobody", accounts()),
    ("10001", accounts(PASSWD.replace(":10001:", ":0:"))),
], ids=["numeric-non-root-on-scratch", "uid-without-passwd-entry", "named-user",
        "named-user-and-group", "nobody", "numeric-uid-is-not-remapped-by-name"])
def test_does_not_run_as_root(user, files):
    assert user_findings(user, files, "AUD-ROOT-USER") == []
    assert user_findings(user, files, "AUD-USER-MISSING") == []


def test_root_user_names_the_user_instruction_and_the_passwd_line():
    [f] = user_findings("toor", accounts(PASSWD + "toor:x:0:0::/root:/bin/sh\n"),
                        "AUD-ROOT-USER")
    assert f.created_by == "/bin/sh -c #(nop)  USER toor"
    assert f.evidence["passwd_line"] == 5
    assert "toor" in f.message


def test_root_user_from_buildkit_history():
    ctx = context_of([F("/x", b"x")], config=ImageConfig(user="0"),
                     history=["COPY x /x # buildkit", nop("USER 0")])
    [f] = run(detect, ctx, "AUD-ROOT-USER")
    assert f.created_by == "USER 0"


def test_no_user_has_no_instruction_to_blame():
    [f] = user_findings("", accounts(), "AUD-ROOT-USER")
    assert f.created_by is None
    assert "No USER" in f.message


@pytest.mark.parametrize("user, files, missing", [
    ("app", accounts(PASSWD.replace("app:", "other:")), "user 'app' is not in /etc/passwd"),
    ("app", [F("/hello", b"x")], "user 'app' is named but the image has no /etc/passwd"),
    ("app:staff", accounts(), "group 'staff' is not in /etc/group"),
    ("1000:staff", [F("/hello", b"x")], "group 'staff' is named but the image has no /etc/group"),
    ("root", [F("/hello", b"x")], "user 'root' is named but the image has no /etc/passwd"),
], ids=["name-not-in-passwd", "name-on-scratch", "group-not-in-group",
        "group-on-scratch", "root-name-on-scratch-does-not-start"])
def test_user_missing(user, files, missing):
    [f] = user_findings(user, files, "AUD-USER-MISSING")
    assert f.category == "config"
    assert missing in f.evidence["missing"]
    assert user_findings(user, files, "AUD-ROOT-USER") == []


def account_findings(rule_id: str, **files: str | None) -> list:
    return run(detect_accounts, context_of(accounts(**files)), rule_id)


def test_debian_like_accounts_are_clean():
    assert run(detect_accounts, context_of(accounts())) == []


@pytest.mark.parametrize("field", ["*", "!", "!!", "!*", "$6$salt$hash", "x"],
                         ids=["star", "bang", "double-bang", "bang-star", "hash", "x"])
def test_locked_or_set_password_is_not_empty(field):
    shadow = SHADOW.replace("app:!:", f"app:{field}:")
    assert account_findings("AUD-EMPTY-PASSWORD", shadow=shadow) == []


def test_empty_password_in_shadow():
    [f] = account_findings("AUD-EMPTY-PASSWORD", shadow=SHADOW.replace("app:!:", "app::"))
    assert f.path == "/etc/shadow" and f.evidence["account"] == "app"
    assert f.severity == "medium" and f.bytes == 0


def test_empty_root_password_is_high():
    [f] = account_findings("AUD-EMPTY-PASSWORD", shadow=SHADOW.replace("root:*:", "root::"))
    assert f.severity == "high" and f.evidence["uid"] == 0


def test_empty_password_field_in_passwd_itself():
    [f] = account_findings("AUD-EMPTY-PASSWORD", passwd=PASSWD.replace("app:x:", "app::"),
                           shadow=None)
    assert f.path == "/etc/passwd" and f.evidence["line"] == 4


def test_multiple_root_accounts_and_not_also_a_duplicate_uid():
    ctx = context_of(accounts(), [F("/etc/passwd", PASSWD + "toor:x:0:0::/root:/bin/sh\n")],
                     history=["/bin/sh -c #(nop) ADD file:0 in / ",
                              "/bin/sh -c echo 'toor:x:0:0::/root:/bin/sh' >> /etc/passwd"])
    found = run(detect_accounts, ctx)
    assert [f.rule_id for f in found] == ["AUD-MULTIPLE-ROOT"]
    assert found[0].evidence["accounts"] == ["root", "toor"]
    assert found[0].layer == 1 and "toor" in (found[0].created_by or "")


def test_duplicate_uid():
    [f] = account_findings("AUD-DUPLICATE-UID",
                           passwd=PASSWD + "app2:x:10001:10001::/:/bin/false\n")
    assert f.evidence["names"] == ["app", "app2"] and f.evidence["uid"] == 10001


def test_duplicate_gid():
    [f] = account_findings("AUD-DUPLICATE-GID", group=GROUP + "staff:x:1:\n")
    assert f.evidence["names"] == ["daemon", "staff"]


def test_comments_and_nis_lines_are_not_accounts():
    passwd = PASSWD + "# toor:x:0:0::/root:/bin/sh\n+::::::\n"
    assert run(detect_accounts, context_of(accounts(passwd=passwd))) == []

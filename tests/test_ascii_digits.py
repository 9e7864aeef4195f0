"""'²'.isdigit() is True and int('²') raises: every place that checks for digits before
int() takes ASCII digits only (issue 11). One test per place, each failing on the old
check with a ValueError or a wrong answer."""

from __future__ import annotations

import pytest

from auditor.detectors.user import detect, read_entries
from auditor.errors import UsageError
from auditor.model.image import ImageConfig
from auditor.read.decompress import decompressed
from auditor.read.wants import Want
from tests.detectors.configkit import context_of, nop, run
from tests.inventory.kit import by_name, catalog
from tests.layerkit import D, F, tree_of

UNICODE_DIGITS = ["²", "1²", "٣"]  # '٣' (Arabic-Indic three) int() takes, but tar and C do not


@pytest.mark.parametrize("size", UNICODE_DIGITS)
def test_dpkg_installed_size_in_unicode_digits_is_no_size(size: str) -> None:
    status = F("/var/lib/dpkg/status", "Package: a\nStatus: install ok installed\n"
               f"Version: 1\nInstalled-Size: {size}\n")
    packages, skipped = catalog("dpkg", [status])
    assert skipped == []
    assert by_name(packages)["a"].installed_size == 0


@pytest.mark.parametrize("size", UNICODE_DIGITS)
def test_apk_installed_size_in_unicode_digits_is_no_size(size: str) -> None:
    packages, skipped = catalog("apk", [F("/lib/apk/db/installed",
                                          f"P:a\nV:1\nI:{size}\n")])
    assert skipped == []
    assert by_name(packages)["a"].installed_size == 0


@pytest.mark.parametrize("uid", UNICODE_DIGITS)
def test_a_passwd_line_whose_uid_is_not_ascii_is_not_an_account(uid: str) -> None:
    tree = tree_of([D("/etc"), F("/etc/passwd", f"root:x:0:0::/:/bin/sh\n"
                                 f"odd:x:{uid}:0::/:/bin/sh\n")],
                   wants=[Want("/etc/passwd", 1 << 20)])
    entries = read_entries(tree, "/etc/passwd", 2)
    assert entries is not None
    assert [e.name for e in entries] == ["root"]


@pytest.mark.parametrize("user, missing", [
    ("²", "user '²' is not in /etc/passwd"), ("²:0", "user '²' is not in /etc/passwd"),
    ("0:²", "group '²' is not in /etc/group")])
def test_a_user_or_group_that_only_looks_numeric_is_a_name(user: str, missing: str) -> None:
    files = [D("/etc"), F("/etc/passwd", "root:x:0:0::/:/bin/sh\n"),
             F("/etc/group", "root:x:0:\n")]
    ctx = context_of(files, config=ImageConfig(user=user),
                     history=["/bin/sh -c #(nop) ADD file:0 in / ",
                              nop(f"/bin/sh -c #(nop)  USER {user}")])
    found = run(detect, ctx, "AUD-USER-MISSING")  # looked up by name, never int("²")
    assert [f.evidence.extras["missing"] for f in found] == [[missing]]


@pytest.mark.parametrize("ratio", ["²", "٣"])
def test_inflate_ratio_in_unicode_digits_is_a_usage_error(monkeypatch, ratio: str) -> None:
    import io

    monkeypatch.setenv("AUDITOR_MAX_INFLATE_RATIO", ratio)
    with pytest.raises(UsageError, match="not a whole number"):
        decompressed(io.BytesIO(b""), "gzip")


def test_shell_fd_and_nice_take_ascii_digits_only() -> None:
    from auditor.history.shell import iter_commands, split_words

    # "²>" is a word, not a file descriptor; "nice ² x" runs the program "²"
    assert split_words("echo ²>/dev/null") == [["echo", "²"]]
    assert [c.program for c in iter_commands("nice ² apt-get")] == ["²"]


def test_a_registry_content_length_in_unicode_digits_is_not_a_length() -> None:
    import io as _io
    import types

    from auditor.sources.registry.client import RegistryClient

    # HTTP headers are read as Latin-1: a registry's b"\xb2" is "²"
    resp = types.SimpleNamespace(headers={"Content-Length": "²"}, raw=_io.BytesIO(b"abc"),
                                 close=lambda: None)
    client = RegistryClient.__new__(RegistryClient)
    client.get = lambda path, what: resp  # type: ignore[method-assign]
    client.ref = types.SimpleNamespace(host="r.example")  # type: ignore[assignment]
    client._requests = __import__("requests")
    # not int("²"): the length is unknown, and the body's own end and digest decide
    stream = client.blob_stream("sha256:" + "0" * 64, 3, "layer 0")
    assert stream.readable()

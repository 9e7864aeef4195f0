from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from auditor.errors import PolicyError
from auditor.model.findings import CATEGORIES
from auditor.policy import builtin_names, load_policy
from tests.policy.helpers import policy_file, policy_of


@pytest.mark.parametrize("name", ["default", "strict", "dev"])
def test_builtin_policies_load_by_name_from_the_package(name: str) -> None:
    policy = load_policy(name)
    assert policy.name == name
    assert policy.source == f"builtin:{name}"
    assert set(policy.categories) == set(CATEGORIES)
    assert name in builtin_names()


def test_strict_extends_default_and_tightens_it() -> None:
    strict, default = load_policy("strict"), load_policy("default")
    assert strict.resolved_from == ("builtin:default", "builtin:strict")
    assert default.category("shell").action == "warn"
    assert strict.category("shell").action == "fail"
    assert default.category("setuid").packaged.action == "warn"
    assert strict.category("setuid").packaged.action == "fail"
    assert strict.category("compiler").action == "fail"  # inherited
    assert strict.thresholds.max_image_bytes == 100 * 2**20


def test_dev_fails_only_on_secrets() -> None:
    dev = load_policy("dev")
    failing = [c for c in CATEGORIES if dev.category(c).action == "fail"]
    assert failing == ["secret"]


def test_an_extending_file_overrides_key_by_key_and_adds_to_allow_lists(tmp_path: Path) -> None:
    policy_file(tmp_path, """
        [thresholds]
        fail_under = 40
        max_image_bytes = 1000
        [categories.shell]
        action = "fail"
        weight = 2
        allow_paths = ["/bin/busybox"]
        [allow]
        packages = ["tzdata"]
    """.replace("        ", ""), "base.toml")
    child = policy_of(tmp_path, """
        extends = "base.toml"
        name = "debug"
        [thresholds]
        fail_under = 60
        [categories.shell]
        severity = "low"
        allow_paths = ["/usr/bin/bash"]
        [allow]
        packages = ["ca-certificates"]
    """.replace("        ", ""))
    shell = child.category("shell")
    assert child.name == "debug"
    assert (shell.action, shell.weight, shell.severity) == ("fail", 2, "low")
    assert shell.allow_paths == ("/bin/busybox", "/usr/bin/bash")
    assert child.allow_packages == ("tzdata", "ca-certificates")
    assert child.thresholds.fail_under == 60
    assert child.thresholds.max_image_bytes == 1000  # inherited
    assert [Path(s).name for s in child.resolved_from] == ["base.toml", "policy.toml"]


def test_extends_a_builtin_by_name_from_a_file(tmp_path: Path) -> None:
    policy = policy_of(tmp_path,
                       'extends = "default"\n[categories.network-tool]\naction = "warn"\n')
    assert policy.name == "policy"  # the file's stem when it has no name
    assert policy.category("network-tool").action == "warn"
    assert policy.category("compiler").action == "fail"


def test_sizes_may_be_written_with_units(tmp_path: Path) -> None:
    policy = policy_of(tmp_path, '[thresholds]\nmax_image_bytes = "1.5 GiB"\n')
    assert policy.thresholds.max_image_bytes == int(1.5 * 2**30)


def test_waivers_and_package_rules_are_read(tmp_path: Path) -> None:
    policy = policy_of(tmp_path, """
[[packages]]
name = "openssl"
versions = "<3.0.7"
reason = "CVE-2022-3602"

[[waivers]]
rule = "AUD-TEST-SHELL"
path = "/bin/busybox"
reason = "debug image"
expires = 2030-01-31

[[waivers]]
fingerprint = "0123456789abcdef0123456789abcdef"
reason = "accepted"
expires = "2030-02-01"
""")
    assert policy.packages[0].label == "openssl<3.0.7"
    assert policy.packages[0].action == "fail"
    assert policy.waivers[0].expires == date(2030, 1, 31)
    assert policy.waivers[1].expires == date(2030, 2, 1)


@pytest.mark.parametrize("name", ["default", "strict", "dev"])
def test_show_output_loads_back_to_the_same_policy(tmp_path: Path, name: str) -> None:
    policy = load_policy(name)
    again = policy_of(tmp_path, policy.to_toml())
    assert again.categories == policy.categories
    assert again.thresholds == policy.thresholds
    assert again.score.resolved() == policy.score.resolved()
    assert again.to_dict()["categories"] == policy.to_dict()["categories"]


def test_show_output_keeps_waivers_package_rules_and_allow_lists(tmp_path: Path) -> None:
    policy = policy_of(tmp_path, """
extends = "strict"
[allow]
paths = ["/opt/debug/**"]
[categories.setuid]
packaged = { weight = 0.5 }
[rules.AUD-TEST-SHELL]
enabled = false
[[packages]]
name = "lib*ssl*"
versions = ">=1,<3.0.7"
ecosystem = "deb"
[[waivers]]
rule = "AUD-TEST-SHELL"
reason = "a \\"quoted\\" reason"
expires = 2030-01-31
""")
    again = policy_of(tmp_path, policy.to_toml())
    assert (again.allow_paths, again.rules, again.packages, again.waivers) == (
        policy.allow_paths, policy.rules, policy.packages, policy.waivers)
    assert policy.to_dict()["waivers"][0]["expires"] == "2030-01-31"


def test_an_unknown_name_says_which_policies_exist() -> None:
    with pytest.raises(PolicyError, match="no built-in policy named 'strictest'") as info:
        load_policy("strictest")
    assert "default, dev, strict" in (info.value.tip or "")


def test_a_bare_name_that_is_no_builtin_may_be_a_file_here(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    policy_file(tmp_path, 'extends = "strict"\n', "ci-policy")
    monkeypatch.chdir(tmp_path)
    assert load_policy("ci-policy").resolved_from == ("builtin:default", "builtin:strict",
                                                      "ci-policy")


def test_a_missing_file_is_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="does not exist"):
        load_policy(str(tmp_path / "nope.toml"))


# One small file per malformed-policy case: (id, TOML, the key the error names, the line
# it names (None: no line), a fragment of the sentence).
MALFORMED = [
    ("not-toml", 'name = "x"\n[thresholds\n', None, 2, "is not valid TOML"),
    ("unknown-key", 'name = "x"\ncolour = "red"\n', "colour", 2, "is not a policy key"),
    ("unknown-category", '[categories.shel]\naction = "warn"\n', "categories.shel", 1,
     "did you mean 'shell'"),
    ("unknown-category-key", '[categories.shell]\naction = "warn"\nseverity_ = "low"\n',
     "categories.shell.severity_", 3, "is not a policy key"),
    ("bad-action", '[categories.shell]\naction = "block"\n', "categories.shell.action", 2,
     "must be one of fail, warn, ignore"),
    ("bad-severity", '[categories.shell]\nseverity = "severe"\n', "categories.shell.severity",
     2, "must be one of critical, high, medium, low, info"),
    ("wrong-type-weight", '[categories.shell]\nweight = "heavy"\n', "categories.shell.weight",
     2, "must be a number, not a string"),
    ("wrong-type-bool-weight", '[categories.shell]\nweight = true\n',
     "categories.shell.weight", 2, "must be a number, not a boolean"),
    ("negative-weight", '[categories.shell]\nweight = -1\n', "categories.shell.weight", 2,
     "must be from 0 to 1000000"),
    ("wrong-type-enabled", '[categories.shell]\nenabled = "no"\n', "categories.shell.enabled",
     2, "must be true or false"),
    ("wrong-type-table", 'categories = "all"\n', "categories", 1, "must be a table"),
    ("wrong-type-allow-list", '[allow]\npaths = "/bin/sh"\n', "allow.paths", 2,
     "must be a list of strings"),
    ("bad-glob", '[allow]\npaths = ["/ok", "/bin/[sh"]\n', "allow.paths[1]", 2,
     "is not a valid path glob"),
    ("bad-glob-range", '[categories.shell]\nallow_paths = ["/bin/[z-a]"]\n',
     "categories.shell.allow_paths[0]", 2, "is not a valid path glob"),
    ("empty-glob", '[allow]\npaths = [""]\n', "allow.paths[0]", 2, "it is empty"),
    ("bad-packaged-key", '[categories.setuid]\npackaged = { allow = true }\n',
     "categories.setuid.packaged.allow", 2, "is not a policy key"),
    ("fail-under-out-of-range", '[thresholds]\nfail_under = 101\n', "thresholds.fail_under",
     2, "must be from 0 to 100"),
    ("fail-under-not-whole", '[thresholds]\nfail_under = 50.5\n', "thresholds.fail_under", 2,
     "whole number"),
    ("bad-fail-on", '[thresholds]\nfail_on = "hihg"\n', "thresholds.fail_on", 2,
     "did you mean 'high'"),
    ("bad-size", '[thresholds]\nmax_image_bytes = "big"\n', "thresholds.max_image_bytes", 2,
     "size like"),
    ("bad-percent", '[thresholds]\nmax_wasted_percent = 150\n',
     "thresholds.max_wasted_percent", 2, "from 0 to 100"),
    ("bad-score-points", '[score.points]\nsevere = 3\n', "score.points.severe", 2,
     "is not a policy key"),
    ("bad-rule-id", '[rules.shell]\naction = "fail"\n', "rules.shell", 1,
     "must be a rule id like AUD-SHELL"),
    ("unknown-rule-id", '[rules.AUD-TEST-SHEL]\naction = "fail"\n', "rules.AUD-TEST-SHEL", 1,
     "did you mean 'AUD-TEST-SHELL'"),
    ("bad-specifier", '[[packages]]\nname = "openssl"\nversions = "< three"\n',
     "packages[0].versions", 3, "is not a version specifier"),
    ("package-rule-without-name", '[[packages]]\nversions = "<1"\n', "packages[0]", 1,
     "needs a `name`"),
    ("bad-ecosystem", '[[packages]]\nname = "x"\necosystem = "cargo"\n',
     "packages[0].ecosystem", 3, "must be one of deb, apk"),
    ("packages-not-array", 'packages = "openssl"\n', "packages", 1, "array of tables"),
    ("bad-date", '[[waivers]]\nrule = "AUD-TEST-SHELL"\nreason = "r"\nexpires = "2025-02-30"\n',
     "waivers[0].expires", 4, "must be a date like"),
    ("date-time-not-date", '[[waivers]]\nrule = "AUD-TEST-SHELL"\nreason = "r"\n'
     'expires = 2025-02-01T10:00:00\n', "waivers[0].expires", 4, "not a date-time"),
    ("waiver-without-reason", '[[waivers]]\nrule = "AUD-TEST-SHELL"\nexpires = 2030-01-01\n',
     "waivers[0]", 1, "needs `reason`"),
    ("waiver-blank-reason", '[[waivers]]\nrule = "AUD-TEST-SHELL"\nreason = " "\n'
     'expires = 2030-01-01\n', "waivers[0].reason", 3, "must say why"),
    ("waiver-without-expires", '[[waivers]]\nrule = "AUD-TEST-SHELL"\nreason = "r"\n',
     "waivers[0]", 1, "needs `expires`"),
    ("waiver-with-rule-and-fingerprint", '[[waivers]]\nrule = "AUD-TEST-SHELL"\n'
     'fingerprint = "0123456789abcdef"\nreason = "r"\nexpires = 2030-01-01\n', "waivers[0]", 1,
     "exactly one of `fingerprint` or `rule`"),
    ("waiver-path-without-rule", '[[waivers]]\nfingerprint = "0123456789abcdef"\n'
     'path = "/x"\nreason = "r"\nexpires = 2030-01-01\n', "waivers[0].path", 3,
     "goes with `rule`"),
    ("waiver-bad-fingerprint", '[[waivers]]\nfingerprint = "xyz"\nreason = "r"\n'
     'expires = 2030-01-01\n', "waivers[0].fingerprint", 2, "hex fingerprint"),
    ("second-waiver-bad-glob", '[[waivers]]\nrule = "AUD-TEST-SHELL"\nreason = "r"\n'
     'expires = 2030-01-01\n\n[[waivers]]\nrule = "AUD-TEST-SHELL"\npath = "/a/[b"\n'
     'reason = "r"\nexpires = 2030-01-01\n', "waivers[1].path", 8, "is not a valid path glob"),
    ("waiver-unknown-rule", '[[waivers]]\nrule = "AUD-NOPE"\nreason = "r"\n'
     'expires = 2030-01-01\n', "waivers[0].rule", 2, "which no detector or policy reports"),
    ("extends-missing", 'extends = "nowhere.toml"\n', "extends", 1, "does not exist"),
    ("extends-unknown-builtin", 'extends = "defualt"\n', "extends", 1,
     "no built-in policy named 'defualt'"),
    ("extends-self", 'extends = "policy.toml"\n', "extends", 1, "makes a cycle"),
    # hostile files (issue 11): each one sentence, never a traceback or a later failure
    ("nested-inline-tables", "a = " + "{a = " * 2000 + "1" + "}" * 2000 + "\n", None, None,
     "nests tables or arrays too deeply"),
    ("nested-arrays", "a = " + "[" * 3000 + "]" * 3000 + "\n", None, None,
     "nests tables or arrays too deeply"),
    ("integer-of-5000-digits", "name = " + "9" * 5000 + "\n", None, None,
     "holds a number too long to read"),
    ("nan-weight", '[categories.shell]\nweight = nan\n', "categories.shell.weight", 2,
     "must be a finite number, not nan"),
    ("inf-weight", '[rules.AUD-TEST-SHELL]\nweight = inf\n', "rules.AUD-TEST-SHELL.weight", 2,
     "must be a finite number, not inf"),
    ("nan-points", '[score.points]\nhigh = nan\n', "score.points.high", 2,
     "must be a finite number"),
    ("huge-points", '[score.points]\nhigh = 1e308\n', "score.points.high", 2,
     "must be from 0 to 1000000"),
    ("huge-weight", '[categories.shell]\nweight = 1e7\n', "categories.shell.weight", 2,
     "must be from 0 to 1000000"),
    ("weight-of-400-digits", '[categories.shell]\nweight = ' + "9" * 400 + "\n",
     "categories.shell.weight", 2, "must be from 0 to 1000000"),
    ("nan-scale", '[score]\nscale = nan\n', "score.scale", 2, "must be a finite number"),
    ("nan-percent", '[thresholds]\nmax_wasted_percent = nan\n',
     "thresholds.max_wasted_percent", 2, "must be a finite number"),
    ("nan-fail-under", '[thresholds]\nfail_under = nan\n', "thresholds.fail_under", 2,
     "must be a finite number"),
    ("size-of-400-digits", '[thresholds]\nmax_image_bytes = "' + "9" * 400 + ' GB"\n',
     "thresholds.max_image_bytes", 2, "must be at most"),
    ("size-of-a-million-digits",
     '[thresholds]\nmax_image_bytes = "' + "9" * 1_000_000 + ' KB"\n',
     "thresholds.max_image_bytes", 2, "must be at most"),
    ("integer-size-over-8-eib", '[thresholds]\nmax_image_bytes = ' + "9" * 400 + "\n",
     "thresholds.max_image_bytes", 2, "must be at most"),
]


@pytest.mark.parametrize(("text", "key", "line", "fragment"),
                         [case[1:] for case in MALFORMED], ids=[case[0] for case in MALFORMED])
def test_a_malformed_policy_is_one_sentence_naming_file_key_and_line(
        tmp_path: Path, text: str, key: str | None, line: int | None, fragment: str) -> None:
    path = policy_file(tmp_path, text)
    with pytest.raises(PolicyError) as info:
        load_policy(str(path))
    message = str(info.value)
    assert message.startswith(f"policy {path}")
    assert fragment in message
    if key is not None:
        assert f"key `{key}`" in message
    if line is not None:
        assert re.search(rf"\(line {line}\b|at line {line}\b", message), message
    assert "\n" not in message


def test_an_extends_cycle_names_every_file_in_it(tmp_path: Path) -> None:
    policy_file(tmp_path, 'extends = "b.toml"\n', "a.toml")
    policy_file(tmp_path, '# b\n\nextends = "c.toml"\n', "b.toml")
    policy_file(tmp_path, 'extends = "a.toml"\n', "c.toml")
    with pytest.raises(PolicyError) as info:
        load_policy(str(tmp_path / "a.toml"))
    message = str(info.value)
    assert message.startswith(f"policy {tmp_path / 'c.toml'}: key `extends` (line 1)")
    assert re.search(r"a\.toml -> .*b\.toml -> .*c\.toml -> .*a\.toml", message)


def test_an_error_in_an_extended_file_names_that_file(tmp_path: Path) -> None:
    policy_file(tmp_path, '[categories.shell]\naction = "nope"\n', "base.toml")
    with pytest.raises(PolicyError, match=r"base\.toml: key `categories\.shell\.action`"):
        policy_of(tmp_path, 'extends = "base.toml"\n')


def test_sizes_with_a_fraction_are_exact() -> None:
    from auditor.policy.loader import _size
    from auditor.policy.validate import Checker

    c = Checker("p.toml", "")
    assert _size(c, "4.35 KB", "k") == 4350  # float arithmetic says 4349
    assert _size(c, "1.5GiB", "k") == 3 << 29
    assert _size(c, "8 TiB", "k") == 8 << 40


def test_the_biggest_weights_and_points_allowed_still_score(tmp_path: Path) -> None:
    from auditor.policy import evaluate
    from tests.policy.helpers import finding

    policy = policy_of(tmp_path, "[score]\nscale = 1\npoints = { high = 1e6 }\n"
                                 "[categories.shell]\nweight = 1e6\n")
    found = [finding("shell", "high", f"/bin/sh{i}", size=1 << 40) for i in range(1000)]
    verdict = evaluate(policy, found, image_size=0, wasted_bytes=0, packages=())
    assert verdict.score == 0 and verdict.grade == "F"


def test_an_extends_chain_is_bounded(tmp_path: Path) -> None:
    for i in range(1200):
        policy_file(tmp_path, f'extends = "p{i + 1}.toml"\n', f"p{i}.toml")
    policy_file(tmp_path, 'name = "end"\n', "p1200.toml")
    with pytest.raises(PolicyError, match="makes a chain of more than 32 policies"):
        load_policy(str(tmp_path / "p0.toml"))
    assert load_policy(str(tmp_path / "p1170.toml")).name == "p1170"  # 31 files: fine

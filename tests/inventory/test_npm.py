import json

import pytest

from auditor.inventory.npm import lock_dev_flags, package_dir_of
from tests.inventory.kit import by_name, catalog, inventory
from tests.layerkit import F, L

NM = "/app/node_modules"


def manifest(name: str, version: str, **extra: object) -> str:
    return json.dumps({"name": name, "version": version, **extra})


def lock_v3(**packages: dict[str, object]) -> str:
    return json.dumps({"name": "app", "lockfileVersion": 3,
                       "packages": {"": {"name": "app"}, **packages}})


APP = [
    F("/app/package.json", manifest("app", "1.0.0", private=True)),
    F(f"{NM}/is-number/package.json", manifest("is-number", "7.0.0")),
    F(f"{NM}/is-number/index.js", "module.exports = 1\n"),
    F(f"{NM}/ms/package.json", manifest("ms", "2.1.3")),
    F(f"{NM}/@types/node/package.json", manifest("@types/node", "20.1.0")),
    F(f"{NM}/@types/node/index.d.ts", "export {}\n"),
    F(f"{NM}/ms/node_modules/tiny/package.json", manifest("tiny", "0.1.0")),
    L(f"{NM}/.bin/ms", "../ms/cli.js"),
]


def test_packages_with_dev_flags_from_package_lock():
    lock = lock_v3(**{"node_modules/is-number": {"version": "7.0.0"},
                      "node_modules/ms": {"version": "2.1.3", "dev": True},
                      "node_modules/@types/node": {"version": "20.1.0", "dev": True},
                      "node_modules/ms/node_modules/tiny": {"version": "0.1.0", "dev": True}})
    packages, skipped = catalog("npm", [*APP, F("/app/package-lock.json", lock)])
    assert skipped == []
    got = {p.name: (p.version, p.dev) for p in packages}
    assert got == {"is-number": ("7.0.0", False), "ms": ("2.1.3", True),
                   "@types/node": ("20.1.0", True), "tiny": ("0.1.0", True)}
    assert by_name(packages)["tiny"].location == f"{NM}/ms/node_modules/tiny/package.json"


def test_hidden_lockfile_is_used_when_there_is_no_package_lock():
    lock = lock_v3(**{"node_modules/ms": {"version": "2.1.3", "dev": True}})
    packages, _ = catalog("npm", [*APP, F(f"{NM}/.package-lock.json", lock)])
    got = {p.name: p.dev for p in packages}
    assert got["ms"] is True
    assert got["is-number"] is None  # the lock does not mention it


def test_lockfile_v1_nested_dependencies():
    lock = json.dumps({"lockfileVersion": 1, "dependencies": {
        "is-number": {"version": "7.0.0"},
        "ms": {"version": "2.1.3", "dev": True,
               "dependencies": {"tiny": {"version": "0.1.0", "dev": True}}}}})
    packages, _ = catalog("npm", [*APP, F("/app/package-lock.json", lock)])
    got = {p.name: p.dev for p in packages}
    assert got == {"is-number": False, "ms": True, "@types/node": None, "tiny": True}


def test_without_a_lock_file_dev_is_unknown_and_the_app_is_not_a_package():
    packages, skipped = catalog("npm", APP)
    assert skipped == []
    assert {p.name for p in packages} == {"is-number", "ms", "@types/node", "tiny"}
    assert all(p.dev is None for p in packages)


def test_package_files_exclude_nested_packages():
    packages, _ = catalog("npm", APP)
    got = by_name(packages)
    assert got["ms"].files == (f"{NM}/ms", f"{NM}/ms/node_modules",
                               f"{NM}/ms/package.json")
    assert f"{NM}/@types/node/index.d.ts" in got["@types/node"].files
    assert got["is-number"].installed_size == len(manifest("is-number", "7.0.0")) + 19


def test_files_are_owned_after_indexing():
    owner = inventory(APP).owner(f"{NM}/is-number/index.js")
    assert owner is not None and owner.name == "is-number"


def test_debian_system_modules_without_node_modules():
    packages, _ = catalog("npm", [
        F("/usr/share/nodejs/acorn/package.json", manifest("acorn", "8.8.1")),
        F("/usr/share/nodejs/acorn/dist/acorn.js", "x"),
        F("/usr/share/nodejs/@types/node/package.json", manifest("@types/node", "18.18.14")),
        F("/usr/share/go-1.19/misc/d3/package.json", manifest("d3-pprof", "2.0.0")),
    ])
    got = by_name(packages)
    assert set(got) == {"acorn", "@types/node"}
    assert got["acorn"].files == ("/usr/share/nodejs/acorn", "/usr/share/nodejs/acorn/dist",
                                  "/usr/share/nodejs/acorn/dist/acorn.js",
                                  "/usr/share/nodejs/acorn/package.json")
    assert got["acorn"].dev is None


def test_package_json_below_a_package_root_is_not_a_package():
    packages, _ = catalog("npm", [
        F(f"{NM}/uuid/package.json", manifest("uuid", "9.0.0")),
        F(f"{NM}/uuid/dist/esm-node/package.json", json.dumps({"type": "module"})),
    ])
    assert [p.name for p in packages] == ["uuid"]


@pytest.mark.parametrize("content, reason", [
    ('{"name": "broken", "version": ', "not JSON"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "not JSON"),
    ("[1, 2]", "not a JSON object"),
    ('{"name": "noversion"}', "no name or no version"),
    ('{"name": 7, "version": "1"}', "no name or no version"),
    ('{"name": "has space", "version": "1"}', "not a package name"),
], ids=["truncated-json", "binary-garbage", "json-array", "no-version", "name-not-a-string",
        "bad-name"])
def test_bad_package_json_is_skipped_and_others_read(content, reason):
    packages, skipped = catalog("npm", [F(f"{NM}/bad/package.json", content),
                                        F(f"{NM}/good/package.json", manifest("good", "1"))])
    assert [p.name for p in packages] == ["good"]
    assert [s.where for s in skipped] == [f"{NM}/bad/package.json"]
    assert reason in skipped[0].reason


@pytest.mark.parametrize("lock, reason", [
    ('{"lockfileVersion": 3, "packages": {', "not JSON"),
    ("null", "not a JSON object"),
], ids=["truncated-lock", "lock-is-null"])
def test_bad_lock_file_is_skipped_and_dev_stays_unknown(lock, reason):
    packages, skipped = catalog("npm", [*APP, F("/app/package-lock.json", lock)])
    assert len(packages) == 4 and all(p.dev is None for p in packages)
    assert [s.where for s in skipped] == ["/app/package-lock.json"]
    assert reason in skipped[0].reason


@pytest.mark.parametrize("path, owner", [
    ("/a/node_modules/x/lib/i.js", "/a/node_modules/x"),
    ("/a/node_modules/@s/x/i.js", "/a/node_modules/@s/x"),
    ("/a/node_modules/@s", None),
    ("/a/node_modules/.bin/x", None),
    ("/a/node_modules/x/node_modules/y/i.js", "/a/node_modules/x/node_modules/y"),
    ("/a/src/i.js", None),
], ids=["plain", "scoped", "scope-dir", "bin-dir", "nested", "outside"])
def test_package_dir_of(path, owner):
    assert package_dir_of(path) == owner


def test_lock_dev_flags_ignores_the_root_entry_and_junk():
    assert lock_dev_flags({"packages": {"": {}, "node_modules/a": {"dev": True},
                                        "node_modules/b": "junk"}}) == {"node_modules/a": True}

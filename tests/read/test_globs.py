"""A set of globs compiles to one factored expression: it must match exactly what matching
the globs one by one matches, written forwards or backwards."""

import re

import pytest

from auditor.detectors.secrets import BINARY_KEY_STORES, GENERIC_GLOBS, KNOWN_FILES
from auditor.read.globs import compile_globs, glob_match, glob_to_regex, name_match, union_regex

GLOB_SETS = [
    list(GENERIC_GLOBS),
    [g for globs in KNOWN_FILES.values() for g in globs] + list(BINARY_KEY_STORES),
    ["/a/**", "/a/b", "/a/**/c", "**/c", "/a/b-c/*", "*.tar.gz", "*.tar", "/a/b/*.[ch]",
     "/x/[!a]y", "?", "/a/b", "/usr/*/lib/**", "/usr/lib/**"],
]
PATHS = [
    "/etc/passwd", "/etc", "/usr/local/etc/x/y.conf", "/app/config.json", "/app/a/b/c.yml",
    "/app/a/b/c/d.yml", "/home/u/.ssh/id_rsa", "/home/u/x.p12", "/root/.aws/credentials",
    "/srv/.env.prod", "/x/.git/config", "/a", "/a/b", "/a/b/c", "/a/b-c/d", "/a/bc",
    "/d/f.tar.gz", "/d/f.tar", "/a/b/m.c", "/a/b/m.h", "/a/b/m.o", "/x/by", "/x/ay", "/x//y",
    "/q", "/usr/x/lib/y", "/usr/lib", "/usr/lib/z", "/src/main.go", "/opt/app/settings.json",
    "/weird name/with space.pem", "/app/.env", "/c", "/z/c/", "/app/x.secrets", "/app/x.secret",
]


def one_by_one(globs, path):
    return any(re.fullmatch(glob_to_regex(g), path, re.DOTALL) for g in globs)


@pytest.mark.parametrize("globs", GLOB_SETS, ids=["generic-secret-files", "known-secret-files",
                                                  "odd-globs"])
def test_the_union_matches_what_the_globs_match_one_by_one(globs):
    forwards = compile_globs(globs)
    backwards = re.compile("(?:" + union_regex(globs, reverse=True) + r")\Z", re.DOTALL)
    for path in PATHS:
        expected = one_by_one(globs, path)
        assert (forwards.match(path) is not None) == expected, path
        assert (backwards.match(path[::-1]) is not None) == expected, path


def test_hundreds_of_globs_that_share_their_tails_compile_to_a_short_expression():
    assert len(compile_globs(GENERIC_GLOBS).pattern) < sum(map(len, GENERIC_GLOBS)) // 4


def test_one_glob_compiles_as_it_always_did():
    assert compile_globs(["/usr/*/lib/**"]).pattern == \
        "(?:" + glob_to_regex("/usr/*/lib/**") + r")\Z"
    assert compile_globs([]).match("/") is None


def test_a_bad_glob_among_many_is_still_an_error():
    with pytest.raises(ValueError, match="unclosed"):
        compile_globs(["/a/*", "/b/[x"])


# -- the grammar, against a reference written from its definition ---------------------------

def _component_matches(pattern: str, name: str) -> bool:
    """``*``, ``?`` and classes within one component, by plain recursion (slow, obvious)."""
    if not pattern:
        return not name
    head = pattern[0]
    if head == "*":
        return any(_component_matches(pattern[1:], name[i:]) for i in range(len(name) + 1))
    if not name:
        return False
    if head == "?":
        return _component_matches(pattern[1:], name[1:])
    if head == "[":
        end = pattern.index("]", 2 if pattern[1:2] in "!^" else 1)
        body, negated = pattern[1:end], pattern[1:2] in ("!", "^")
        inside = re.fullmatch("[" + (body[1:] if negated else body) + "]", name[0])
        return (inside is None) == negated and _component_matches(pattern[end + 1:], name[1:])
    return head == name[0] and _component_matches(pattern[1:], name[1:])


def _reference(pattern: str, path: str) -> bool:
    if "/" not in pattern:
        pattern = "**/" + pattern
    parts, names = pattern.removeprefix("/").split("/"), path.removeprefix("/").split("/")

    def walk(p: int, n: int) -> bool:
        if p == len(parts):
            return n == len(names)
        if parts[p] == "**":
            return any(walk(p + 1, k) for k in range(n, len(names) + 1))
        return n < len(names) and _component_matches(parts[p], names[n]) and walk(p + 1, n + 1)

    return path.startswith("/") and walk(0, 0)


REFERENCE_PATTERNS = [
    "*.pem", "/etc/*", "/etc/**", "/a/**/b", "/a/**/b/**", "/**/b/**/c", "a/*/c", "*a*b*",
    "a*a*a", "/a/**/**/c", "?", "/[ab]*/[!x]?", "/a**b", "**", "/**", "/a/*b*c/*", "b/**/b",
]
REFERENCE_PATHS = [
    "/", "/a", "/b", "/a/b", "/a/b/c", "/a/x/b", "/a/x/y/b/z", "/a/b/b/c", "/x.pem",
    "/etc/ssl/x.pem", "/etc", "/etc/passwd", "/etc/a/b", "/aab", "/ab/c", "/aaa", "/a/aa/a",
    "/a/xbyc/z", "/ba/xy", "/a/c", "/b/x/b", "/a/ab/c", "/x/a/ab", "/axxb",
]


@pytest.mark.parametrize("pattern", REFERENCE_PATTERNS)
def test_the_compiled_glob_means_what_the_grammar_says(pattern):
    compiled = compile_globs([pattern])
    for path in REFERENCE_PATHS:
        assert (compiled.match(path) is not None) == _reference(pattern, path), path


def test_star_and_classes_never_cross_a_slash():
    assert not glob_match("/a*", "/a/b") and not glob_match("/a[!x]b", "/a/b")
    assert glob_match("/a/**", "/a") and glob_match("/a/**/b", "/a/b")


def test_names_match_whole_with_the_same_grammar():
    assert name_match("busybox*", "busybox-static") and not name_match("busybox", "busybox-x")
    assert name_match("@types/*", "@types/node") and not name_match("*", "@types/node")
    assert name_match("**", "@types/node") and name_match("*.iml", "app.iml")
    assert not name_match("*.iml", "dir/app.iml")


def test_globs_that_cannot_run_backwards_say_so():
    with pytest.raises(ValueError, match="backwards"):
        union_regex(["/a/**/b/**/c"], reverse=True)


# -- hostile globs finish (issue 11): no timing, the test would hang otherwise ---------------

LONG_PATH = "/" + "/".join(["a" * 200] * 50) + "/b"
LONG_NAME = "/" + "a" * 20000 + "b"


@pytest.mark.parametrize("pattern, path, matches", [
    ("*" * 5000, LONG_PATH, True),
    ("*" * 5000 + "x", LONG_PATH, False),
    ("/" + "*a" * 2500 + "x", LONG_NAME, False),
    ("/" + "*a" * 2500 + "*b", LONG_NAME, True),
    ("/**/a" * 1000 + "/x", "/a" * 5000 + "/b", False),
    ("/**/a" * 1000 + "/**", "/a" * 5000 + "/b", True),
    ("/" + "/".join(["*a*a*"] * 60) + "/x", LONG_PATH, False),
    ("**/" + "*a" * 100 + "/" + "?" * 3000, LONG_PATH, False),
], ids=["5000-stars", "5000-stars-then-x", "2500-star-a", "2500-star-a-matching",
        "1000-spans", "1000-spans-matching", "many-components", "stars-then-questions"])
def test_a_hostile_glob_finishes_on_a_long_path(pattern, path, matches):
    assert (compile_globs([pattern]).match(path) is not None) == matches
    assert (compile_globs([pattern, "/x", "*.pem"]).match(path) is not None) == matches

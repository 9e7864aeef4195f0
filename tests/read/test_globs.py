"""A set of globs compiles to one factored expression: it must match exactly what matching
the globs one by one matches, written forwards or backwards."""

import re

import pytest

from auditor.detectors.secrets import BINARY_KEY_STORES, GENERIC_GLOBS, KNOWN_FILES
from auditor.read.globs import compile_globs, glob_to_regex, union_regex

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

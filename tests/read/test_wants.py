"""ContentWants files globs in buckets for speed: it must say exactly what matching every
glob one by one says."""

import pytest

from auditor.audit import scan_wants
from auditor.read.globs import glob_match
from auditor.read.wants import EXECUTABLE_PREFIX, ContentWants, Want

PATHS = [
    "/etc/passwd", "/etc/ssl/private/server.key", "/root/.ssh/id_rsa", "/root/.ssh/config",
    "/app/.env", "/app/.env.production", "/app/config/prod.env", "/srv/a/b/c.properties",
    "/home/u/.config/gcloud/application_default_credentials.json", "/.pem", "/x/.pem",
    "/usr/lib/python3/dist-packages/six-1.16.egg-info", "/usr/local/etc/x/y.conf",
    "/usr/bin/gcc", "/usr/lib/x86_64-linux-gnu/libc.so.6", "/var/lib/dpkg/status",
    "/var/lib/dpkg/info/bash.list", "/usr/share/doc/a.b.tar.gz", "/workspace/p/q/r.sh",
    "/opt/app/settings.json", "/a.b.c.json", "/weird name/with space.pem", "/lib/apk/db/installed",
    "/usr/lib/node_modules/npm/package.json", "/app/package-lock.json", "/src/main.go",
]


def brute_force(wants, path, mode):
    name = path.rpartition("/")[2]
    best = EXECUTABLE_PREFIX if (mode & 0o111 or ".so" in name) else 0
    for want in wants:
        if glob_match(want.glob, path):
            best = max(best, want.max_bytes)
    return best


@pytest.mark.parametrize("mode", [0o644, 0o755])
def test_buckets_agree_with_matching_every_glob(mode):
    compiled = scan_wants()
    for path in PATHS:
        assert compiled.limit(path, mode) == brute_force(compiled.wants, path, mode), path


def test_extension_buckets_keep_larger_and_odd_globs_right():
    wants = [Want("*.pem", 10), Want("/certs/*.pem", 20), Want("*.tar.gz", 30),
             Want("/a/**", 5), Want("*.[ch]", 7), Want(".env.*", 9)]
    compiled = ContentWants(wants, executable_prefix=0)
    for path, expected in [("/x/y.pem", 10), ("/certs/y.pem", 20), ("/.pem", 10),
                           ("/d/f.tar.gz", 30), ("/a/b/c.pem", 10), ("/a/b", 5),
                           ("/src/m.c", 7), ("/p/.env.local", 9), ("/x/pem", 0)]:
        assert compiled.limit(path, 0o644) == expected, path
        assert compiled.limit(path, 0o644) == brute_force(wants, path, 0o644), path


def test_a_bucket_compiled_when_a_path_first_falls_in_it_answers_as_before_and_after():
    compiled = ContentWants([Want("*.pem", 10), Want("/certs/*.pem", 20), Want("package.json", 30),
                             Want("/a/**", 5)], executable_prefix=0)
    for _ in range(2):  # the first time compiles the bucket's regex, the second uses it
        assert compiled.limit("/certs/a.pem", 0o644) == 20
        assert compiled.limit("/x/package.json", 0o644) == 30
        assert compiled.limit("/a/package.json", 0o644) == 30
        assert compiled.limit("/a/b", 0o644) == 5
        assert compiled.limit("/x/y", 0o644) == 0
